"""``fcn-workbench weights list|get`` against a local HTTP server: progress, resume, Ctrl+C, mirrors, refusals
(no network, never the real cache, and no torch)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fcn_core.cli import main
from fcn_core.weights import catalog
from fcn_core.weights.cache import CACHE_ENV, MIRROR_ENV
from fcn_core.weights.catalog import PublicWeights
from tests.helpers.file_server import FileServer, Served

ROOT = Path(__file__).resolve().parents[2]
DATA = np.random.default_rng(1).bytes(400_000)
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing answers


def make_entry(name: str, file: str, md5: str | None, base: str = NOWHERE) -> PublicWeights:
    return PublicWeights(name, "8s", False, "pth" if md5 else "caffemodel", f"{base}/{file}", md5, len(DATA), file)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A cache in tmp_path; a catalogue of a good file, a file with a wrong md5 and one without a checksum."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "c"))
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    with FileServer({"good.pth": Served(DATA), "bad.pth": Served(DATA), "plain.caffemodel": Served(DATA)}) as server:
        monkeypatch.setattr(catalog, "CATALOG", (
            make_entry("good", "good.pth", hashlib.md5(DATA).hexdigest(), server.url),
            make_entry("bad", "bad.pth", "0" * 32, server.url),
            make_entry("plain", "plain.caffemodel", None, server.url)))
        server.cache = tmp_path / "c" / "weights"
        yield server


def lines(text: str) -> list[str]:
    return [s for s in text.splitlines() if s.strip()]


def test_list_names_every_file_and_whether_it_is_cached(env, capsys):
    (env.cache).mkdir(parents=True)
    (env.cache / "good.pth").write_bytes(DATA)
    assert main(["weights", "list"]) == 0
    out = lines(capsys.readouterr().out)
    assert out[0].split() == ["NAME", "NET", "FORMAT", "SIZE", "CHECKSUM", "CACHED", "PATH"]
    rows = {r.split()[0]: r for r in out[1:4]}
    assert rows["good"].split()[-2:] == ["yes", str(env.cache / "good.pth")]
    assert rows["plain"].split()[-2:] == ["no", str(env.cache / "plain.caffemodel")] and "none published" in rows["plain"]
    assert out[-1] == f"cache: {env.cache}"


def test_the_real_catalogue_lists_without_torch(tmp_path):
    code = ("import sys\nfrom fcn_core.cli import main\n"
            f"rc = main(['weights', 'list', '--cache', {str(tmp_path)!r}])\n"
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', rc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stdout.splitlines()[-1] == "NO-TORCH 0", out.stderr
    assert "fcn8s-torchfcn" in out.stdout and "fcn8s-atonce-caffe" in out.stdout


def test_get_prints_the_path_with_progress_on_stderr(env, capsys):
    assert main(["weights", "get", "good"]) == 0
    captured = capsys.readouterr()
    assert lines(captured.out) == [str(env.cache / "good.pth")]
    assert "good: 0.4 / 0.4 MB (100%)" in captured.err
    assert (env.cache / "good.pth").read_bytes() == DATA
    assert main(["weights", "get", "good", "--quiet"]) == 0  # in the cache: no second download
    captured = capsys.readouterr()
    assert lines(captured.out) == [str(env.cache / "good.pth")] and captured.err == ""
    assert len(env.ranges("good.pth")) == 1


def test_get_into_another_cache_folder(env, tmp_path, capsys):
    assert main(["weights", "get", "good", "--cache", str(tmp_path / "mine"), "--quiet"]) == 0
    assert lines(capsys.readouterr().out) == [str(tmp_path / "mine" / "good.pth")]
    assert not env.cache.exists()


def test_a_wrong_md5_is_status_2_and_one_line(env, capsys):
    assert main(["weights", "get", "bad"]) == 2
    err = lines(capsys.readouterr().err)
    assert err[-1].startswith("fcn-workbench weights: the file from 127.0.0.1:") and "not the published 000" in err[-1]
    assert not env.cache.exists() or list(env.cache.iterdir()) == []


def test_an_unknown_name_fetches_nothing(env, capsys):
    assert main(["weights", "get", "good", "godo"]) == 2
    assert "did you mean good?" in capsys.readouterr().err
    assert env.requests == []


def test_a_cut_download_resumes_on_the_next_get(env, capsys):
    env.files["good.pth"].cut_after = 150_000
    assert main(["weights", "get", "good"]) == 2
    err = lines(capsys.readouterr().err)
    assert "broke after 0.1 of 0.4 MB" in err[-1] and "resumes" in err[-1]
    assert (env.cache / "good.pth.part").stat().st_size == 150_000
    assert main(["weights", "get", "good", "--quiet"]) == 0
    assert env.ranges("good.pth") == [None, "bytes=150000-"]
    assert (env.cache / "good.pth").read_bytes() == DATA and not (env.cache / "good.pth.part").exists()


def test_ctrl_c_cancels_cleanly_and_the_next_get_resumes(env, capsys):
    env.files["good.pth"].interrupt_after = 100_000
    assert main(["weights", "get", "good"]) == 130
    err = lines(capsys.readouterr().err)
    assert err[-1].startswith("fcn-workbench weights: interrupted; good is not in the cache")
    assert not (env.cache / "good.pth").exists()
    part = env.cache / "good.pth.part"
    kept = part.stat().st_size if part.exists() else 0  # 0 only on a machine too slow to read the first bytes in 0.3 s
    assert ("resumes" in err[-1]) == (kept > 0)
    assert main(["weights", "get", "good", "--quiet"]) == 0
    assert env.ranges("good.pth")[-1] == (f"bytes={kept}-" if kept else None)
    assert hashlib.md5((env.cache / "good.pth").read_bytes()).hexdigest() == hashlib.md5(DATA).hexdigest()


def test_mirror_by_flag_and_by_environment(env, monkeypatch, capsys):
    env.files["mirror/plain.caffemodel"] = Served(DATA)
    env.files["other/good.pth"] = Served(DATA)
    assert main(["weights", "get", "plain", "--mirror", env.url + "/mirror", "--quiet"]) == 0
    monkeypatch.setenv(MIRROR_ENV, env.url + "/other/")
    assert main(["weights", "get", "good", "--quiet"]) == 0
    assert [n for n, _ in env.requests] == ["mirror/plain.caffemodel", "other/good.pth"]
    record = json.loads((env.cache / "plain.caffemodel.json").read_text())
    assert record["url"] == env.url + "/mirror/plain.caffemodel"
    assert record["sha256"] == hashlib.sha256(DATA).hexdigest()


def test_no_checksum_prints_the_sha256(env, capsys):
    assert main(["weights", "get", "plain"]) == 0
    err = capsys.readouterr().err
    assert f"plain: no checksum is published; its sha256 is {hashlib.sha256(DATA).hexdigest()}" in err


def test_a_web_page_is_refused(env, capsys):
    env.files["page/good.pth"] = Served(b"<html><head><title>Google Drive - Virus scan warning</title>",
                                        content_type="text/html")
    assert main(["weights", "get", "good", "--mirror", env.url + "/page"]) == 2
    err = lines(capsys.readouterr().err)
    assert "answered a web page instead of the weights" in err[-1] and "--mirror" in err[-1]
    assert not env.cache.exists() or list(env.cache.iterdir()) == []


def test_get_from_a_folder_mirror_loads_no_torch(tmp_path):
    folder = tmp_path / "mirror"
    folder.mkdir()
    (folder / "fcn8s-heavy-pascal.caffemodel").write_bytes(b"not really a caffemodel")
    code = ("import sys\nfrom fcn_core.cli import main\n"
            f"rc = main(['weights', 'get', 'fcn8s-caffe', '--cache', {str(tmp_path / 'c')!r}, '--mirror', {str(folder)!r}])\n"
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', rc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={k: v for k, v in os.environ.items() if k != MIRROR_ENV})
    assert out.stdout.splitlines() == [str(tmp_path / "c" / "fcn8s-heavy-pascal.caffemodel"), "NO-TORCH 0"], out.stderr
