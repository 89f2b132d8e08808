"""Model → Get public weights…: the dialog downloads the selected net from a local server (as a mirror) off the
GUI thread, then loads it as Load weights would; Cancel leaves no file in the cache."""

from __future__ import annotations

import dataclasses
import hashlib
import io

import torch
from PySide6.QtCore import QSettings, Qt

from app.window.main_window import MainWindow
from app.dialogs.public_weights_dialog import PublicWeightsDialog
from fcn_core import FCNBundle
from fcn_core.weights import catalog, public_state_dict, write_caffemodel
from fcn_core.weights.cache import CACHE_ENV, MIRROR_ENV
from tests.helpers.file_server import FileServer, Served
from tests.helpers.models import randomize, tiny_meta


def tiny_public_8s(tmp_path, fmt: str) -> bytes:
    """A tiny FCN-8s in a public format: a torchfcn-named state dict (.pth) or a caffemodel."""
    bundle = randomize(FCNBundle(tiny_meta(("8s",), shared=False, n_class=21)), seed=3)
    state = public_state_dict(bundle, "8s")
    if fmt == "pth":
        buffer = io.BytesIO()
        torch.save(state, buffer)
        return buffer.getvalue()
    write_caffemodel(tmp_path / "tiny.caffemodel", state)
    return (tmp_path / "tiny.caffemodel").read_bytes()


def open_dialog(qtbot, tmp_path) -> tuple[MainWindow, PublicWeightsDialog]:
    w = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    w.actions.plain["get_weights"].trigger()  # the Model menu's action, as a person triggers it
    dialog = w.findChild(PublicWeightsDialog)
    assert dialog is not None and dialog.isVisible()
    return w, dialog


def select(dialog: PublicWeightsDialog, name: str) -> None:
    dialog.table.selectRow([e.name for e in dialog.entries].index(name))


def test_download_then_load_an_at_once_pth(qtbot, tmp_path, monkeypatch):
    data = tiny_public_8s(tmp_path, "pth")
    real = {e.name: e for e in catalog.CATALOG}["fcn8s-atonce-torchfcn"]
    monkeypatch.setattr(catalog, "CATALOG", (dataclasses.replace(real, md5=hashlib.md5(data).hexdigest()),))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    with FileServer({f"m/{real.file}": Served(data)}) as server:
        monkeypatch.setenv(MIRROR_ENV, server.url + "/m")
        w, dialog = open_dialog(qtbot, tmp_path)
        assert dialog.mirror.text() == server.url + "/m" and dialog.table.rowCount() == 1
        select(dialog, real.name)
        assert dialog.download_button.isEnabled() and not dialog.load_button.isEnabled()
        qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.load_button.isEnabled(), timeout=20000)
    cached = tmp_path / "cache" / "weights" / real.file
    assert cached.read_bytes() == data and "md5 checked" in dialog.label.text()
    assert dialog.table.item(0, 4).text() == "yes" and not dialog.download_button.isEnabled()
    qtbot.mouseClick(dialog.load_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.meta is not None, timeout=20000)
    assert not dialog.isVisible()
    assert w.meta.n_class == 21 and w.meta.variant_names == ("8s",) and w.meta.variant("8s").at_once
    assert w.service.weights == [cached]


def test_cancel_leaves_no_file_and_the_window_stays_as_it_was(qtbot, tmp_path, monkeypatch):
    data = tiny_public_8s(tmp_path, "caffemodel") * 4  # long enough to be cancelled mid-body
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    with FileServer({"m/fcn8s-heavy-pascal.caffemodel": Served(data, pause_after=70_000)}) as server:
        monkeypatch.setenv(MIRROR_ENV, server.url + "/m")
        w, dialog = open_dialog(qtbot, tmp_path)
        select(dialog, "fcn8s-caffe")
        qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
        assert dialog.close_button.text() == "Cancel" and not dialog.load_button.isEnabled()
        qtbot.waitUntil(lambda: "Downloading:" in dialog.label.text(), timeout=20000)
        qtbot.mouseClick(dialog.close_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "Cancelled" in dialog.label.text(), timeout=20000)
    assert not (tmp_path / "cache" / "weights" / "fcn8s-heavy-pascal.caffemodel").exists()
    assert dialog.isVisible() and dialog.close_button.text() == "Close" and dialog.download_button.isEnabled()
    assert w.meta is None and w.last_error == ""
    dialog.close_button.click()
    assert not dialog.isVisible()
