"""Pinned downloads into the user cache, against a small HTTP server on 127.0.0.1 (no real network)."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
from pathlib import Path

import pytest

from v2vcli.config import RunSettings, preset
from v2vcli.downloads import DownloadFailed, RemoteFile, fetch
from v2vcli.models.vgg import VGG19_IMAGENET
from v2vcli.training.perceptual import perceptual_loss

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB, several reads of the download loop


@pytest.fixture
def server(tmp_path):
    """http://127.0.0.1:PORT/ serving tmp_path/served; yields the base URL."""
    folder = tmp_path / "served"
    folder.mkdir()
    (folder / "weights-0123abcd.pth").write_bytes(PAYLOAD)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty user cache and no other model folder with the file; downloads allowed."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("V2V_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("V2V_OFFLINE", raising=False)
    return tmp_path / "cache" / "v2v"


def remote(base: str, sha256: str | None = None, size: int | None = len(PAYLOAD)) -> RemoteFile:
    return RemoteFile(f"{base}/weights-0123abcd.pth", sha256 or hashlib.sha256(PAYLOAD).hexdigest(), size, "test")


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []


def test_a_file_is_downloaded_once_into_the_cache_and_verified(server, cache):
    path = fetch(remote(server), quiet=True)
    assert path == cache / "weights-0123abcd.pth" and path.read_bytes() == PAYLOAD
    assert leftovers(cache) == ["weights-0123abcd.pth"]  # no temporary file left beside it
    mtime = path.stat().st_mtime_ns
    assert fetch(remote("http://127.0.0.1:9"), quiet=True) == path and path.stat().st_mtime_ns == mtime  # no network


def test_a_checksum_mismatch_keeps_nothing(server, cache):
    with pytest.raises(DownloadFailed, match="SHA-256 is .* not the pinned 0+; nothing was kept"):
        fetch(remote(server, sha256="0" * 64), quiet=True)
    assert leftovers(cache) == []


def test_a_short_download_keeps_nothing(server, cache):
    with pytest.raises(DownloadFailed, match=f"stopped after {len(PAYLOAD)} of {len(PAYLOAD) + 1} bytes"):
        fetch(remote(server, size=len(PAYLOAD) + 1), quiet=True)
    assert leftovers(cache) == []


def test_an_unreachable_server_or_a_missing_file_is_one_line(server, cache):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with pytest.raises(DownloadFailed, match="cannot download .*no network") as error:
        fetch(remote(f"http://127.0.0.1:{closed}"), quiet=True)
    assert "\n" not in str(error.value)
    with pytest.raises(DownloadFailed, match="answered 404"):
        fetch(RemoteFile(f"{server}/missing.pth", "0" * 64, None, "test"), quiet=True)
    assert leftovers(cache) == []


def test_a_copy_placed_by_hand_is_used_when_it_matches_the_pin(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("V2V_OFFLINE", "1")
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "weights-0123abcd.pth").write_bytes(PAYLOAD)
    assert fetch(remote("http://127.0.0.1:9"), quiet=True) == tmp_path / "weights" / "weights-0123abcd.pth"
    (tmp_path / "weights" / "weights-0123abcd.pth").write_bytes(PAYLOAD[:-1] + b"x")  # damaged: not used
    with pytest.raises(DownloadFailed, match="V2V_OFFLINE is set"):
        fetch(remote("http://127.0.0.1:9"), quiet=True)


def test_vgg19_is_pinned_to_torchvisions_file():
    assert VGG19_IMAGENET.filename == "vgg19-dcbb9e9d.pth"
    assert VGG19_IMAGENET.sha256.startswith("dcbb9e9d") and len(VGG19_IMAGENET.sha256) == 64  # the name's prefix


def test_training_without_the_vgg_file_says_why_in_one_line(cache, monkeypatch):
    monkeypatch.setenv("V2V_OFFLINE", "1")
    train = preset("tiny").train
    loss, note = perceptual_loss(RunSettings(), train, "cpu")
    assert loss is None and "VGG perceptual loss off" in note and "--vgg" in note and "\n" not in note
    assert perceptual_loss(RunSettings(vgg=False), train, "cpu") == (None, "VGG perceptual loss off (--no-vgg)")
