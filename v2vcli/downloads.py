"""Files fetched once from a pinned URL into the user cache, checked against a pinned SHA-256.

A `RemoteFile` names a published file: its URL, the SHA-256 and size of its bytes. `fetch(remote)` returns
a verified local copy:

1. a copy already in one of the model folders (v2vcli.weights: $V2V_WEIGHTS, ./weights, the installed
   and source-tree weights, the user cache), for instance one a user copied there by hand on a machine
   without a network: it is used when its bytes match the pinned SHA-256;
2. else the file is downloaded into the user cache (`v2vcli.weights.cache_dir()`), under a temporary
   name that becomes the final one only once every byte has arrived and the SHA-256 matches, so an
   interrupted or corrupted download never leaves a file that looks complete.

Failures are one line each (`DownloadFailed`): the network cannot be reached, the server answers with an
error, the download is cut short, or its bytes do not match the pin (the file is then not kept). With
the environment variable V2V_OFFLINE set (to anything but "" or "0"), nothing is downloaded: only local
copies count (for machines whose firewall lets connections hang, and for test suites).
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from v2vcli.errors import V2VError
from v2vcli.io.outputs import atomic_path

OFFLINE_VARIABLE = "V2V_OFFLINE"
BLOCK_BYTES = 1 << 20
DEFAULT_TIMEOUT_SECONDS = 30.0


class DownloadFailed(V2VError):
    """A file could not be fetched or did not match its pinned checksum; the message is one line."""


@dataclass(frozen=True)
class RemoteFile:
    """A published file: where it is, what its bytes hash to, how many there are, and what it is."""

    url: str
    sha256: str
    size: int | None
    description: str

    @property
    def filename(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]


def sha256_of(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(BLOCK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def matches(path: Path, remote: RemoteFile) -> bool:
    """True when `path` is a file with the remote file's size and SHA-256."""
    if not path.is_file() or (remote.size is not None and path.stat().st_size != remote.size):
        return False
    return sha256_of(path) == remote.sha256


def local_copy(remote: RemoteFile) -> Path | None:
    """The first copy of `remote` in the model folders whose bytes match the pin, or None."""
    from v2vcli.weights import weight_dirs

    for folder in weight_dirs():
        if matches(folder / remote.filename, remote):
            return folder / remote.filename
    return None


def fetch(remote: RemoteFile, quiet: bool = False, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> Path:
    """A verified local copy of `remote`: one already in the model folders, else downloaded into the
    user cache. Raises DownloadFailed with one line."""
    from v2vcli.weights import cache_dir

    return local_copy(remote) or download(remote, cache_dir(), quiet, timeout)


def download(remote: RemoteFile, folder: Path, quiet: bool = False,
             timeout: float = DEFAULT_TIMEOUT_SECONDS) -> Path:
    """Download `remote` into `folder`/FILENAME (replacing what is there) and verify it; returns the path."""
    if os.environ.get(OFFLINE_VARIABLE, "") not in ("", "0"):
        raise DownloadFailed(f"{remote.url}: not downloaded ({OFFLINE_VARIABLE} is set)")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / remote.filename
    try:
        response = urllib.request.urlopen(remote.url, timeout=timeout)  # noqa: S310 (a pinned https URL)
    except urllib.error.HTTPError as error:
        raise DownloadFailed(f"{remote.url}: the server answered {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DownloadFailed(f"{remote.url}: cannot download ({reason}); no network, or the address cannot "
                             "be reached from here") from None
    with response, atomic_path(target) as temporary:
        total = response.length if response.length is not None else remote.size
        digest, received = _receive(response, temporary, total, remote, quiet)
        if remote.size is not None and received != remote.size:
            raise DownloadFailed(f"{remote.url}: the download stopped after {received} of {remote.size} bytes; "
                                 "nothing was kept, try again")
        if digest != remote.sha256:
            raise DownloadFailed(f"{remote.url}: the downloaded file's SHA-256 is {digest}, not the pinned "
                                 f"{remote.sha256}; nothing was kept")
    return target


def _receive(response, path: Path, total: int | None, remote: RemoteFile, quiet: bool) -> tuple[str, int]:
    """Copy the response body to `path`, hashing it, with a progress bar: (hex SHA-256, bytes received)."""
    from v2vcli.progress import make_progress

    digest, received = hashlib.sha256(), 0
    with open(path, "wb") as output, make_progress(quiet) as progress:
        task = progress.add_task(f"download {remote.filename}", total=total, rate="")
        try:
            for block in iter(lambda: response.read(BLOCK_BYTES), b""):
                output.write(block)
                digest.update(block)
                received += len(block)
                progress.update(task, completed=received, rate=f"{received / 1e6:.0f} MB")
        except (urllib.error.URLError, OSError) as error:
            raise DownloadFailed(f"{remote.url}: the download broke off after {received} bytes ({error}); "
                                 "nothing was kept, try again") from None
    return digest.hexdigest(), received
