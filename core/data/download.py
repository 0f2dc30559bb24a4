"""Downloading and unpacking the CS231n COCO captioning archive.

``download_coco()`` fetches ``coco_captioning.zip`` (about 1 GB) into ``<dest>.zip.part`` beside the
target folder, resuming an interrupted download with an HTTP Range request, checks the archive (CRCs
and the expected files), unpacks it into a hidden temporary sibling folder and renames that into place,
so the loader never sees a half-written dataset. One download at a time writes into a folder (a lock
file beside it); what a killed one left while unpacking is removed by the next. Used by
``python -m core.data download``.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import zipfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import requests

from core.data.coco_files import coco_file_names
from core.data.paths import coco_dir
from core.data.temporary import make_folder, owned_name, remove_stale
from core.errors import DownloadError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt

__all__ = ["COCO_URL", "TextProgress", "download_coco", "expected_members"]

COCO_URL = "http://cs231n.stanford.edu/coco_captioning.zip"
CHUNK_SIZE = 256 * 1024

ProgressFn = Callable[[float, str], None]


def expected_members() -> tuple[str, ...]:
    """Files the archive must contain (possibly under one top-level folder): the 512-d PCA set."""
    return coco_file_names(pca_features=True)


class TextProgress:
    """A text progress bar: ``TextProgress(sys.stderr)(fraction, message)``.

    On a terminal it is one line redrawn in place (at most every `min_interval` seconds). Anywhere else (a
    log file, a pipe, CI) it writes plain lines without terminal control codes, at most one every
    `log_interval` seconds, and the last one.
    """

    def __init__(self, stream=None, width: int = 30, min_interval: float = 0.1, log_interval: float = 10.0):
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.min_interval = min_interval
        self.log_interval = log_interval
        try:
            self.terminal = bool(self.stream.isatty())
        except (AttributeError, ValueError):
            self.terminal = False
        self._last = -float("inf")
        self._open_line = False

    def __call__(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        done = fraction >= 1.0
        interval = self.min_interval if self.terminal else max(self.min_interval, self.log_interval)
        if not done and now - self._last < interval:
            return
        self._last = now
        fraction = min(max(fraction, 0.0), 1.0)
        filled = int(round(fraction * self.width))
        line = f"[{'#' * filled}{'-' * (self.width - filled)}] {fraction * 100:5.1f}% {message}"
        if not self.terminal:
            self.stream.write(line + "\n")
        else:
            self.stream.write(f"\r{line}\033[K")
            self._open_line = True
            if done:
                self.stream.write("\n")
                self._open_line = False
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line (after an error, so the next message starts on its own line)."""
        if self._open_line:
            self.stream.write("\n")
            self.stream.flush()
            self._open_line = False


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def download_coco(
    dest=None,
    url: str = COCO_URL,
    *,
    progress: ProgressFn | None = None,
    timeout: float = 30.0,
    keep_archive: bool = False,
    force: bool = False,
    chunk_size: int = CHUNK_SIZE,
) -> Path:
    """Download, check and unpack the COCO captioning archive into ``dest``.

    Args:
        dest: target folder (default: ``core.data.paths.coco_dir()``, i.e. $COCO_DIR or the data folder).
        url: archive URL (http or https).
        progress: optional ``progress(fraction, message)`` callback.
        timeout: seconds to wait for the server to connect or send data.
        keep_archive: keep ``<dest>.zip`` after unpacking.
        force: download and unpack again even when ``dest`` already holds the files.
        chunk_size: bytes per read.

    Returns:
        the folder holding the unpacked files.

    Raises:
        DownloadError: no network, HTTP error, interrupted download (rerun to resume), corrupt or
            incomplete archive, or no disk space. The message is one line.
    """
    _check_url(url)
    try:
        dest = coco_dir(dest).resolve()
    except (OSError, RuntimeError, ValueError) as exc:
        raise DownloadError(f"Cannot use --dest {dest}: {exc}. Choose another folder.") from None
    if not force and all((dest / name).is_file() for name in expected_members()):
        if progress is not None:
            progress(1.0, f"already present in {dest}")
        return dest
    _check_dest_replaceable(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"Cannot create {dest.parent}: {exc.strerror or exc}. Choose another --dest."
        ) from None
    archive = dest.parent / f"{dest.name}.zip"
    part = dest.parent / f"{dest.name}.zip.part"

    with _only_download_into(dest):
        # No other download into dest runs: what an earlier one left while unpacking is stale.
        for leftover in (_UNPACKING, _OLD):
            remove_stale(dest.parent, f".{dest.name}{leftover}")
        try:
            if force or not archive.is_file():
                _fetch(url, part, progress=progress, timeout=timeout, chunk_size=chunk_size)
                try:
                    os.replace(part, archive)
                except OSError as exc:
                    raise DownloadError(
                        f"Cannot rename {part} to {archive}: {exc.strerror or exc}."
                    ) from None
            members = _check_archive(archive)
            _unpack(archive, members, dest, progress)
        finally:
            if isinstance(progress, TextProgress):
                progress.close()
        if not keep_archive:
            archive.unlink(missing_ok=True)
    return dest


def _check_url(url) -> None:
    """DownloadError unless url is an http or https URL with a host (and a valid port, if any)."""
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        host, _ = (parts.hostname, parts.port) if parts else (None, None)  # .port checks the port too
    except ValueError as exc:  # e.g. "http://[::1" (an unclosed IPv6 address), port 99999
        raise DownloadError(f"Cannot download {url!r}: not a valid URL ({_one_line(exc)}).") from None
    if parts is None or parts.scheme.lower() not in ("http", "https"):
        raise DownloadError(f"Cannot download {url!r}: only http and https URLs are supported.")
    if not host:
        raise DownloadError(f"Cannot download {url!r}: the URL names no host.")


_LOCK = ".download.lock"
_UNPACKING = ".unpacking-"
_OLD = ".old-"


@contextmanager
def _only_download_into(dest: Path):
    """Hold the lock file ``.<dest name>.download.lock`` beside dest while downloading into it; if another
    process holds it, DownloadError at once. The lock goes with the process (kill -9 included): the
    operating system releases it. The file is removed before the lock is released, and a lock taken on a
    file removed meanwhile is taken again, so two downloads never both hold it."""
    path = dest.parent / f".{dest.name}{_LOCK}"
    while True:
        try:
            file = open(path, "a+b")
        except OSError as exc:
            raise DownloadError(
                f"Cannot create {path}: {exc.strerror or exc}. Choose another --dest."
            ) from None
        if not _try_lock(file):
            file.close()
            raise DownloadError(
                f"Another download into {dest} is running (it holds {path}); wait for it to finish, "
                "or choose another --dest."
            )
        try:
            same = os.path.samestat(os.fstat(file.fileno()), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        file.close()  # the previous holder removed it just before we locked it: lock the new one
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        file.close()


def _try_lock(file) -> bool:
    """Take an exclusive lock on the open file without waiting; False if another process holds one."""
    try:
        if fcntl is not None:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # Windows
            msvcrt.locking(file.fileno(), msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


# Files the course archive may hold besides the expected ones; a folder holding only these can be replaced.
_ARCHIVE_EXTRAS = (
    "train2014_vgg16_fc7.h5",
    "val2014_vgg16_fc7.h5",
    "train2014_images.txt",
    "val2014_images.txt",
)


def _check_dest_replaceable(dest: Path) -> None:
    """Refuse to replace a folder that holds anything but COCO files (it is swapped out whole)."""
    if dest.exists() and not dest.is_dir():
        raise DownloadError(f"{dest} exists and is not a folder; choose another --dest.")
    if dest.is_dir():
        ours = set(expected_members()) | set(_ARCHIVE_EXTRAS)
        foreign = sorted(p.name for p in dest.iterdir() if p.name not in ours)
        if foreign:
            raise DownloadError(
                f"{dest} already holds other files ({', '.join(foreign[:3])}); the download replaces the "
                "whole folder, so choose an empty or new --dest."
            )


def _fetch(url: str, part: Path, *, progress, timeout: float, chunk_size: int) -> None:
    """Download ``url`` into ``part``, continuing from its current size with a Range request."""
    host = urlsplit(url).netloc
    offset = part.stat().st_size if part.is_file() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        response = requests.get(url, headers=headers, stream=True, timeout=timeout)
    except requests.ConnectionError:
        raise DownloadError(
            f"No network: could not reach {host}. Check the connection and run the command again "
            "(the app works offline with its embedded dataset meanwhile)."
        ) from None
    except requests.Timeout:
        raise DownloadError(
            f"No network: {host} did not answer within {timeout:g} s. Try again later."
        ) from None
    except requests.RequestException as exc:
        raise DownloadError(f"Download of {url} failed: {_one_line(exc)}.") from None

    with response:
        if response.status_code == 416 and offset:
            # The part file already holds the whole archive; the archive check decides.
            return
        if response.status_code >= 400:
            raise DownloadError(f"Download of {url} failed: HTTP {response.status_code} {response.reason}.")
        total = None
        if response.status_code == 206 and offset:
            start, total = _parse_content_range(response.headers.get("Content-Range", ""))
            if start != offset:  # the server sent another range: start over
                response.close()
                part.unlink(missing_ok=True)
                return _fetch(url, part, progress=progress, timeout=timeout, chunk_size=chunk_size)
            mode = "ab"
        else:
            offset = 0  # 200: the server ignored the Range header, start over
            mode = "wb"
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        done = offset
        if progress is not None and offset:
            progress(offset / total if total else 0.0, f"resuming at {_mb(offset)}")
        try:
            with open(part, mode) as out:
                for chunk in response.iter_content(chunk_size):
                    out.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        if total:
                            progress(min(done / total, 0.999), f"{_mb(done)} of {_mb(total)}")
                        else:
                            progress(0.0, f"{_mb(done)} downloaded")
        except requests.RequestException:
            raise DownloadError(
                f"Download interrupted after {_mb(done)}"
                + (f" of {_mb(total)}" if total else "")
                + "; run the same command again to resume."
            ) from None
        except OSError as exc:
            raise DownloadError(
                f"Cannot write {part}: {exc.strerror or exc}. Free some disk space and rerun."
            ) from None
    if total is not None and done < total:
        raise DownloadError(
            f"Download interrupted after {_mb(done)} of {_mb(total)}; run the same command again to resume."
        )
    if progress is not None:
        progress(1.0, f"downloaded {_mb(done)}")


def _parse_content_range(value: str) -> tuple[int | None, int | None]:
    """``bytes 100-999/1000`` -> (100, 1000); unknown parts are None."""
    try:
        unit, rest = value.split(" ", 1)
        span, size = rest.split("/", 1)
        start = int(span.split("-", 1)[0])
        return start, (int(size) if size.strip() != "*" else None)
    except ValueError:
        return None, None


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _check_archive(archive: Path) -> dict[str, zipfile.ZipInfo]:
    """Check CRCs and members; return {file name in dest: member}. A bad archive is deleted."""

    def bad(problem: str) -> DownloadError:
        archive.unlink(missing_ok=True)
        return DownloadError(
            f"{archive}: {problem}; deleted it, run the command again to download it afresh."
        )

    try:
        with zipfile.ZipFile(archive) as zf:
            broken = zf.testzip()
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise bad(f"not a valid zip archive ({_one_line(exc)})") from None
    if broken is not None:
        raise bad(f"member {broken} is corrupt (CRC mismatch)")
    files = [info for info in infos if not info.is_dir()]
    for info in files:
        path = PurePosixPath(info.filename)
        if path.is_absolute() or ".." in path.parts or ":" in info.filename:
            raise bad(f"unsafe member name {info.filename!r}")
    # The course archive keeps its files under one top-level folder (coco_captioning/).
    tops = {PurePosixPath(info.filename).parts[0] for info in infos}
    strip = 1 if len(tops) == 1 and all(len(PurePosixPath(i.filename).parts) > 1 for i in files) else 0
    # Only the data files are unpacked (not e.g. __MACOSX/ entries), so the folder holds nothing else.
    wanted = set(expected_members()) | set(_ARCHIVE_EXTRAS)
    members = {}
    for info in files:
        name = "/".join(PurePosixPath(info.filename).parts[strip:])
        if name in wanted:
            members[name] = info
    missing = [name for name in expected_members() if name not in members]
    if missing:
        raise bad(f"the archive lacks {', '.join(missing)}")
    return members


def _unpack(archive: Path, members: dict[str, zipfile.ZipInfo], dest: Path, progress) -> None:
    """Extract into a hidden sibling folder, then swap it into place with renames."""
    needed = sum(info.file_size for info in members.values())
    free = shutil.disk_usage(dest.parent).free
    if needed > free:
        raise DownloadError(
            f"Not enough disk space in {dest.parent}: unpacking needs {_mb(needed)}, {_mb(free)} free."
        )
    tmp = make_folder(dest.parent, f".{dest.name}{_UNPACKING}")
    try:
        written = 0
        with zipfile.ZipFile(archive) as zf:
            for name, info in members.items():
                target = tmp / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, CHUNK_SIZE)
                written += info.file_size
                if progress is not None:
                    progress(written / needed if needed else 1.0, f"unpacking {name}")
        old = None
        if dest.exists():
            old = dest.parent / owned_name(f".{dest.name}{_OLD}")
            os.replace(dest, old)
        os.replace(tmp, dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        raise DownloadError(
            f"Unpacking into {dest} failed: {exc.strerror or exc}. Free some disk space and rerun."
        ) from None
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"{archive}: {_one_line(exc)}; delete it and run the command again.") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
