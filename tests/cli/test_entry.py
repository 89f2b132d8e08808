"""The entry point: images and folders with no command open the window, unknown words are one-line errors,
and ``--debug`` swaps the one-sentence errors for tracebacks (in the GUI's background jobs too)."""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import app.entry
from app.entry import main
from fcn_core.cli import DEBUG_ENV, info

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch):
    """Each test starts without debugging, and what ``--debug`` sets in os.environ is undone afterwards."""
    monkeypatch.setenv(DEBUG_ENV, "0")


@pytest.fixture
def gui_calls(monkeypatch) -> list[argparse.Namespace]:
    calls: list[argparse.Namespace] = []
    monkeypatch.setattr(app.entry, "_run_gui", lambda args: calls.append(args) or 0)
    return calls


@pytest.fixture
def images(tmp_path) -> list[str]:
    (tmp_path / "a.jpg").write_bytes(b"")
    (tmp_path / "b c.png").write_bytes(b"")
    (tmp_path / "folder").mkdir()
    return [str(tmp_path / "a.jpg"), str(tmp_path / "b c.png"), str(tmp_path / "folder")]


@pytest.mark.parametrize("before, after", [
    ([], []),
    (["gui"], []),                                  # the explicit form still works
    ([], ["--view", "compare", "--device", "cpu"]),
    (["--weights", "m.pt"], []),                    # an option only gui knows, before the images
    (["--debug"], []),
    ([], ["--debug"]),
    (["--debug", "gui"], []),
])
def test_images_and_folders_open_the_window(gui_calls, images, before, after):
    assert main([*before, *images, *after]) == 0
    [args] = gui_calls
    assert args.command == "gui" and args.paths == images
    assert args.debug == ("--debug" in before + after)
    assert (os.environ[DEBUG_ENV] == "1") == args.debug


def test_no_arguments_open_the_window(gui_calls):
    assert main([]) == 0 and main(["--debug"]) == 0
    assert [a.paths for a in gui_calls] == [[], []] and gui_calls[1].debug


def test_commands_still_win(monkeypatch, gui_calls, tmp_path):
    calls = []
    monkeypatch.setattr(info, "run", lambda args: calls.append(args) or 0)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "info").mkdir()  # a folder named like a command: the command wins (`gui info` opens the folder)
    assert main(["info", "--weights", "x.pt"]) == 0 and main(["--debug", "info"]) == 0
    assert [a.command for a in calls] == ["info", "info"] and calls[1].debug and not gui_calls
    with pytest.raises(SystemExit) as e:
        main(["predict"])  # its own argument errors, not the window
    assert e.value.code == 2 and not gui_calls


def test_unknown_word_is_one_line_exit_2(gui_calls, capsys, tmp_path):
    assert main([str(tmp_path / "missing.jpg")]) == 2
    assert main(["prdict", "x.jpg"]) == 2
    out, err = capsys.readouterr()
    assert not out and not gui_calls
    lines = err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"fcn-workbench: no such command or file: {tmp_path / 'missing.jpg'}")
    assert lines[1].startswith("fcn-workbench: no such command or file: prdict") and "predict" in lines[1]


def test_help_lists_the_commands_and_debug(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert all(c in out for c in ("predict", "info", "train", "eval", "export", "bench", "gui", "--debug"))


def _fail_with(monkeypatch, exc: Exception) -> None:
    def run_gui(args):
        raise exc
    monkeypatch.setattr(app.entry, "_run_gui", run_gui)


def test_refused_input_is_one_sentence_unless_debugging(monkeypatch, images, capsys):
    _fail_with(monkeypatch, ValueError("the image is too\nlarge"))
    assert main(images) == 2
    assert capsys.readouterr().err == "fcn-workbench gui: the image is too large\n"
    with pytest.raises(ValueError, match="too"):
        main(["--debug", *images])
    monkeypatch.setenv(DEBUG_ENV, "0")
    with pytest.raises(ValueError, match="too"):
        main([*images, "--debug"])


def test_unexpected_error_is_one_line_exit_1_unless_debugging(monkeypatch, images, capsys):
    _fail_with(monkeypatch, RuntimeError("boom"))
    assert main(images) == 1
    assert capsys.readouterr().err == ("fcn-workbench gui: unexpected error: boom "
                                       "(run with --debug for the traceback)\n")
    with pytest.raises(RuntimeError, match="boom"):
        main(["--debug", *images])


def _run_main(argv: list[str], fail: str | None = None) -> subprocess.CompletedProcess:
    """``python main.py ARGV`` in a fresh interpreter; with ``fail``, the GUI handler raises that instead."""
    code = textwrap.dedent(f"""
        import sys
        import app.entry
        def run_gui(args):
            raise {fail}
        if {fail is not None!r}:
            app.entry._run_gui = run_gui
        sys.exit(app.entry.main({argv!r}))
    """)
    env = {k: v for k, v in os.environ.items() if k != DEBUG_ENV}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=60)


def test_in_a_fresh_process(images):
    proc = _run_main(images, fail="RuntimeError('boom')")
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "unexpected error: boom" in proc.stderr
    proc = _run_main(["--debug", *images], fail="RuntimeError('boom')")
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "RuntimeError: boom" in proc.stderr
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "no-such-word"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert proc.returncode == 2 and proc.stderr == (
        "fcn-workbench: no such command or file: no-such-word (fcn-workbench --help lists the commands)\n")


def test_background_job_prints_a_traceback_only_when_debugging(qapp, monkeypatch, capsys):
    from app.services.tasks import JobContext, _Job, _JobSignals

    def job(ctx):
        raise ValueError("not an image: x.jpg")

    for debug in ("0", "1"):
        monkeypatch.setenv(DEBUG_ENV, debug)
        signals = _JobSignals()
        failed: list[str] = []
        signals.failed.connect(failed.append)
        _Job(job, signals, JobContext(signals)).run()
        assert failed == ["not an image: x.jpg"]  # the message to the user is the same either way
        assert ("Traceback" in capsys.readouterr().err) == (debug == "1")


def test_run_app_names_missing_xcb_packages(tmp_path):
    """run-app.sh probes ``ldconfig -p`` (a fake here) and names the missing apt packages in one line."""
    stamp = ROOT / ".venv" / ".fcn-workbench-installed"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text().strip() != want:
        pytest.skip("run-app.sh would (re)install the virtual environment")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "ldconfig"

    def run(cache_libs: list[str], **env: str) -> subprocess.CompletedProcess:
        lines = "".join(f"\t{lib} (libc6,x86-64) => /lib/x86_64-linux-gnu/{lib}\n" for lib in cache_libs)
        fake.write_text(f"#!/bin/sh\nprintf '%s' '{lines}'\n")
        fake.chmod(0o755)
        base = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
        base["PATH"] = f"{bindir}{os.pathsep}{base.get('PATH', '')}"
        return subprocess.run(["bash", str(ROOT / "scripts" / "run-app.sh"), "no-such-word"], capture_output=True,
                              text=True, cwd=ROOT, env={**base, **env}, timeout=120)

    everything = ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxkbcommon-x11.so.0",
                  "libEGL.so.1"]
    proc = run(["libxkbcommon-x11.so.0", "libEGL.so.1"], DISPLAY=":99")
    assert proc.returncode == 2  # it starts anyway (here: the unknown word's own error)
    hint, error = proc.stderr.splitlines()
    assert hint.endswith("sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1")
    assert "no such command or file" in error
    assert "apt-get" in run(["libxcb-cursor.so.0"], WAYLAND_DISPLAY="wayland-0", QT_QPA_PLATFORM="xcb").stderr
    for quiet in (run(everything, DISPLAY=":99"), run([], DISPLAY=":99", QT_QPA_PLATFORM="offscreen"), run([])):
        assert "apt-get" not in quiet.stderr and quiet.stderr.count("\n") == 1
