"""The public weights catalogue and downloader, against a local HTTP server (no network, never the real cache)."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest

from fcn_core.weights import DownloadCancelled, DownloadError, WeightsError, fetch_public_weights
from fcn_core.weights.cache import CACHE_ENV, MIRROR_ENV, weights_cache_dir
from fcn_core.weights.catalog import PublicWeights, find_public_weights, public_weights
from tests.helpers.file_server import FileServer, Served

DATA = np.random.default_rng(0).bytes(300_000)
MD5 = hashlib.md5(DATA).hexdigest()


def entry(url: str, md5: str | None = MD5, file: str = "net.pth", size: int = len(DATA)) -> PublicWeights:
    return PublicWeights("test-net", "8s", False, "pth", url, md5, size, file)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "home-cache"))
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    return tmp_path / "home-cache" / "weights"


def left_in(folder) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


# -- the catalogue ---------------------------------------------------------------------------------------
def test_catalogue_holds_the_checksums_torchfcn_checks():
    entries = {e.name: e for e in public_weights()}
    assert len(entries) == len(public_weights()) and len({e.file for e in public_weights()}) == len(entries)
    assert entries["fcn32s-torchfcn"].md5 == "d3eb467a80e7da0468a20dfcbc13e6c8"
    assert "11k2Q0bvRQgQbT6-jYWeh6nmAsWlSCY3f" in entries["fcn32s-torchfcn"].url
    assert entries["fcn16s-torchfcn"].md5 == "a2d4035f669f09483b39c9a14a0d6670"
    assert entries["fcn8s-torchfcn"].md5 == "de93e540ec79512f8770033849c8ae89"
    assert entries["fcn8s-atonce-torchfcn"].md5 == "bfed4437e941fef58932891217fe6464"
    assert entries["fcn8s-atonce-torchfcn"].at_once and entries["fcn8s-atonce-caffe"].at_once
    assert entries["fcn16s-torchfcn-2017"].md5 == "991ea45d30d632a01e5ec48002cac617"
    assert "0B9P1L--7Wd2vVGE3TkRMbWlNRms" in entries["fcn16s-torchfcn-2017"].url
    assert entries["fcn8s-caffe"].url == "http://dl.caffe.berkeleyvision.org/fcn8s-heavy-pascal.caffemodel"
    assert entries["fcn8s-atonce-caffe"].url == "http://dl.caffe.berkeleyvision.org/fcn8s-atonce-pascal.caffemodel"
    for e in public_weights():
        assert (e.md5 is None) == (e.format == "caffemodel")
        assert e.md5 is None or re.fullmatch(r"[0-9a-f]{32}", e.md5)
        assert e.url.endswith(e.file) or "drive.google.com/uc?id=" in e.url


def test_an_unknown_name_is_one_sentence_with_the_closest():
    with pytest.raises(WeightsError, match="did you mean fcn8s-caffe"):
        find_public_weights("fcn8s-cafe")


def test_the_cache_folder_follows_the_environment(tmp_path):
    assert weights_cache_dir(env={CACHE_ENV: str(tmp_path)}) == tmp_path / "weights"
    assert weights_cache_dir(env={"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "fcn-workbench" / "weights"
    assert weights_cache_dir(tmp_path / "mine", env={CACHE_ENV: "x"}) == tmp_path / "mine"


# -- the downloader --------------------------------------------------------------------------------------
def test_a_good_file_lands_whole_with_its_record(cache):
    seen = []
    with FileServer({"net.pth": Served(DATA)}) as server:
        got = fetch_public_weights(entry(server.url + "/net.pth"), progress=lambda d, t: seen.append((d, t)))
        again = fetch_public_weights(entry(server.url + "/net.pth"))
    assert got.path == cache / "net.pth" and got.path.read_bytes() == DATA and got.checked and got.md5 == MD5
    assert left_in(cache) == {"net.pth", "net.pth.json"}  # no .part, no temporary file
    record = json.loads((cache / "net.pth.json").read_text())
    assert record["sha256"] == hashlib.sha256(DATA).hexdigest() and record["bytes"] == len(DATA)
    assert seen[-1] == (len(DATA), len(DATA))
    assert again.url is None and again.path == got.path and len(server.requests) == 1  # in the cache already


def test_a_wrong_md5_is_refused_and_leaves_nothing(cache):
    with FileServer({"net.pth": Served(DATA)}) as server:
        with pytest.raises(WeightsError, match=f"has md5 {MD5}, not the published 0+, so it was not kept"):
            fetch_public_weights(entry(server.url + "/net.pth", md5="0" * 32))
    assert left_in(cache) == set()


def test_a_cut_connection_keeps_the_part_and_the_next_fetch_resumes_with_range(cache):
    with FileServer({"net.pth": Served(DATA, cut_after=100_000)}) as server:
        with pytest.raises(DownloadError, match="broke after 0.1 of 0.3 MB.*resumes"):
            fetch_public_weights(entry(server.url + "/net.pth"))
        assert (cache / "net.pth.part").stat().st_size == 100_000 and not (cache / "net.pth").exists()
        got = fetch_public_weights(entry(server.url + "/net.pth"))
    assert server.ranges("net.pth") == [None, "bytes=100000-"]
    assert got.resumed_from == 100_000 and got.md5 == MD5 and got.path.read_bytes() == DATA
    assert left_in(cache) == {"net.pth", "net.pth.json"}


def test_a_server_that_ignores_range_is_read_from_the_start(cache):
    with FileServer({"net.pth": Served(DATA, cut_after=100_000, ignore_range=True)}) as server:
        with pytest.raises(DownloadError):
            fetch_public_weights(entry(server.url + "/net.pth"))
        got = fetch_public_weights(entry(server.url + "/net.pth"))
    assert server.ranges("net.pth") == [None, "bytes=100000-"]  # asked, answered 200 with the whole file
    assert got.resumed_from == 0 and got.path.read_bytes() == DATA and got.md5 == MD5


def test_a_cancel_leaves_no_final_file_and_the_next_fetch_resumes(cache):
    calls = []
    with FileServer({"net.pth": Served(DATA)}) as server:
        with pytest.raises(DownloadCancelled):
            fetch_public_weights(entry(server.url + "/net.pth"), progress=lambda d, t: calls.append(d),
                                 cancelled=lambda: bool(calls))
        assert not (cache / "net.pth").exists() and left_in(cache) <= {"net.pth.part"}
        got = fetch_public_weights(entry(server.url + "/net.pth"))
    assert got.path.read_bytes() == DATA and got.md5 == MD5


def test_a_mirror_by_argument_by_environment_and_as_a_folder(cache, tmp_path, monkeypatch):
    nowhere = "http://127.0.0.1:9/net.pth"  # the discard port: nothing answers
    with FileServer({"m/net.pth": Served(DATA)}) as server:
        got = fetch_public_weights(entry(nowhere), mirror=server.url + "/m/")
        assert got.url == server.url + "/m/net.pth"
        got.path.unlink()
        monkeypatch.setenv(MIRROR_ENV, server.url + "/m")
        assert fetch_public_weights(entry(nowhere)).url == server.url + "/m/net.pth"
    assert server.ranges("m/net.pth") == [None, None]
    got.path.unlink()
    folder = tmp_path / "mirror"
    folder.mkdir()
    (folder / "net.pth").write_bytes(DATA)
    monkeypatch.setenv(MIRROR_ENV, str(folder))
    local = fetch_public_weights(entry(nowhere))
    assert local.url.startswith("file://") and local.path.read_bytes() == DATA
    local.path.unlink()
    with pytest.raises(DownloadError, match="the mirror has no other.pth"):
        fetch_public_weights(entry(nowhere, file="other.pth"))


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/octet-stream"])
def test_a_web_page_is_refused(cache, content_type):
    page = b"<!DOCTYPE html><html><body>Google Drive can't scan this file for viruses.</body></html>"
    with FileServer({"uc": Served(page, content_type=content_type)}) as server:
        with pytest.raises(WeightsError, match="answered a web page instead of the weights.*mirror"):
            fetch_public_weights(entry(server.url + "/uc?id=abc&export=download"))
    assert left_in(cache) == set()


def test_a_file_without_checksum_records_its_sha256(cache):
    with FileServer({"net.caffemodel": Served(DATA)}) as server:
        got = fetch_public_weights(entry(server.url + "/net.caffemodel", md5=None, file="net.caffemodel"))
    record = json.loads((cache / "net.caffemodel.json").read_text())
    assert not got.checked and record["sha256"] == got.sha256 == hashlib.sha256(DATA).hexdigest()
    assert record["md5_published"] is False


def test_errors_are_one_sentence(cache):
    with FileServer({}) as server:
        with pytest.raises(DownloadError, match=r"answered HTTP 404"):
            fetch_public_weights(entry(server.url + "/net.pth"))
    with FileServer({"net.pth": Served(DATA)}) as server:
        with pytest.raises(WeightsError, match="sent more than"):
            fetch_public_weights(entry(server.url + "/net.pth", size=1000))
    assert left_in(cache) == set()


def test_a_file_put_in_the_cache_by_hand_is_checked(cache):
    cache.mkdir(parents=True)
    (cache / "net.pth").write_bytes(DATA[:-1])
    with pytest.raises(WeightsError, match="in the cache but its md5"):
        fetch_public_weights(entry("http://127.0.0.1:9/net.pth"))
    (cache / "net.pth").write_bytes(DATA)
    got = fetch_public_weights(entry("http://127.0.0.1:9/net.pth"))
    assert got.url is None and got.md5 == MD5 and (cache / "net.pth.json").exists()


def test_the_same_entry_twice_at_once_is_refused(cache):
    from fcn_core.weights.download import _locked_part

    cache.mkdir(parents=True)
    with _locked_part(cache / "net.pth.part", "test-net"):
        with FileServer({"net.pth": Served(DATA)}) as server:
            with pytest.raises(DownloadError, match="another download of test-net is running"):
                fetch_public_weights(entry(server.url + "/net.pth"))


def test_an_empty_answer_is_refused(cache):
    with FileServer({"net.pth": Served(b"")}) as server:
        with pytest.raises(DownloadError, match="sent an empty file"):
            fetch_public_weights(entry(server.url + "/net.pth"))
    assert left_in(cache) == set()
