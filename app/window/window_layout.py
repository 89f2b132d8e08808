"""The main window's widgets: central views, docks and status bar (built once, at start)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QApplication, QDockWidget, QLabel, QStackedWidget, QVBoxLayout, QWidget

from ..views.compare_view import CompareView
from ..views.display_panel import DisplayPanel
from ..views.file_list import FileList
from .finetune_controller import FolderModelOffer
from ..views.single_view import SingleView
from ..views.skip_view import SkipView
from ..views.task_bar import TaskBar

if TYPE_CHECKING:
    from .main_window import MainWindow


def build_views(w: "MainWindow") -> None:
    """The stacked views under the folder-model bar, as the central widget."""
    w.single = SingleView()
    w.compare = CompareView()
    w.skips = SkipView()
    w.stack = QStackedWidget()
    for view in (w.single, w.compare, w.skips):
        w.stack.addWidget(view)
    w.offer_bar = FolderModelOffer()
    central = QWidget()
    column = QVBoxLayout(central)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(0)
    column.addWidget(w.offer_bar)
    column.addWidget(w.stack, 1)
    w.setCentralWidget(central)


def build_docks(w: "MainWindow") -> None:
    """The image list on the left, the display panel on the right."""
    w.files = FileList()
    left = QDockWidget("Images", w)
    left.setObjectName("images")
    left.setWidget(w.files)
    left.setMinimumWidth(150)
    w.files.setMinimumWidth(140)
    w.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, left)

    panel = DisplayPanel(w.editor, w.display.opacity, w._model_text)
    w.mode_box, w.opacity, w.outline_box = panel.mode_box, panel.opacity, panel.outline_box
    w.legend, w.legend_title, w.model_label = panel.legend, panel.legend_title, panel.model_label
    w.edit_panel = panel.edit_panel
    right = QDockWidget("Display", w)
    right.setObjectName("display")
    right.setWidget(panel)
    right.setMinimumWidth(230)
    w.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, right)
    w.resizeDocks([left, right], [190, 260], Qt.Orientation.Horizontal)


def build_status(w: "MainWindow") -> None:
    """The status bar: cursor read-out, what the model is doing, task rows."""
    sb = w.statusBar()
    w.position_label = QLabel("")
    w.position_label.setMinimumWidth(10)
    w.tasks = TaskBar()  # opening a big image, segmenting a folder, exporting: a progress bar and a Cancel each
    w.busy = QLabel("")  # what the model is doing when no task row says it
    sb.addWidget(w.position_label, 1)
    sb.addPermanentWidget(w.busy)
    sb.addPermanentWidget(w.tasks)
    # the bar keeps a task row's height when no task runs, so the image and the views above it do not jump
    # by a few pixels each time a task starts or ends
    probe = w.tasks.start("", lambda: None)
    QApplication.sendPostedEvents(sb, QEvent.Type.LayoutRequest)  # the bar lays itself out on this event
    sb.setMinimumHeight(sb.sizeHint().height())
    w.tasks.end(probe)
