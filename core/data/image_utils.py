"""Loading images from http(s) URLs and local files, safely and with an on-disk cache.

``image_from_url`` replaces the course's helper of the same name: it returns an RGB uint8 array or
raises ``ImageLoadError(source, reason)`` with a short reason the UI shows on a placeholder.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import stat
import threading
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import numpy as np
import requests
import urllib3
from PIL import Image, ImageOps, UnidentifiedImageError

from core.data.paths import image_cache_dir
from core.data.temporary import owned_name, remove_stale
from core.errors import ImageLoadError

__all__ = ["DEFAULT_MAX_BYTES", "image_from_url"]

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
_CHUNK = 64 * 1024
_MAX_REDIRECTS = 5
_TEMPORARY = ".tmp-"
_HEADERS = {"User-Agent": "rnn-captioning-explainer/1.0 (+image_from_url)", "Accept": "image/*"}


def image_from_url(
    url, timeout: float = 10.0, max_bytes: int = DEFAULT_MAX_BYTES, cache_dir=None
) -> np.ndarray:
    """Load an image as an RGB array.

    Args:
        url: ``http://`` or ``https://`` URL, ``file://`` URL, or a local path (str or Path) of a regular file.
        timeout: seconds the whole download may take (connecting, redirects and every byte), whatever
            the server does; a stalled or trickling transfer ends with "timed out" at this bound.
        max_bytes: largest encoded image accepted: at most max_bytes + 1 bytes are ever read, whatever
            the Content-Length header or the file's size say.
        cache_dir: folder of cached downloads (default ``core.data.paths.image_cache_dir()``); files are
            named by the SHA-256 of the URL. Local files are not cached.

    Returns:
        (H, W, 3) uint8 RGB array (transparency composited on white, EXIF rotation applied).

    Raises:
        ImageLoadError, for every failure: offline, timeout, HTTP error (dead link), redirect loop or
        redirect to another scheme, not an image, too big (bytes or pixels), a malformed URL or path, a
        file that is missing, unreadable or not a regular file (a device or a pipe), or a URL scheme other
        than http, https and file.
    """
    source = str(url) if url is not None else ""
    try:
        return _load(url, source, timeout, max_bytes, cache_dir)
    except ValueError as exc:  # urlsplit on "http://[::1/x.jpg", a path holding a NUL byte, ...
        raise ImageLoadError(source, f"malformed URL or path ({_first_line(exc)})") from None


def _load(url, source: str, timeout: float, max_bytes: int, cache_dir) -> np.ndarray:
    if isinstance(url, os.PathLike):
        return _decode(_read_local(Path(url), source, max_bytes), source)
    if not isinstance(url, str) or not url.strip():
        raise ImageLoadError(source, "empty or invalid URL")
    url = url.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("", "file") or (len(scheme) == 1 and os.name == "nt"):
        if scheme == "file":
            if parts.netloc not in ("", "localhost"):
                raise ImageLoadError(source, f"file URL on another host ({parts.netloc}) not supported")
            path = Path(url2pathname(parts.path))
        else:
            path = Path(url).expanduser()
        return _decode(_read_local(path, source, max_bytes), source)
    if scheme not in ("http", "https"):
        raise ImageLoadError(source, f"unsupported URL scheme '{scheme}' (only http, https and local files)")

    cache_root = Path(cache_dir) if cache_dir is not None else image_cache_dir()
    cached = cache_root / (hashlib.sha256(url.encode("utf-8")).hexdigest() + ".img")
    if cached.is_file():
        try:
            return _decode(_read_local(cached, source, max_bytes), source)
        except ImageLoadError:
            cached.unlink(missing_ok=True)  # a damaged cache entry: fetch again
    data = _Transfer(url, source, timeout, max_bytes).run_within_timeout()
    image = _decode(data, source)
    _write_cache(cached, data)
    return image


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _read_local(path: Path, source: str, max_bytes: int) -> bytes:
    """At most max_bytes of a regular file; ImageLoadError for anything else (never blocks on a pipe)."""
    try:
        # O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting forever.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise ImageLoadError(source, "file not found") from None
    except PermissionError:
        raise ImageLoadError(source, "permission denied") from None
    except IsADirectoryError:
        raise ImageLoadError(source, "is a folder, not an image file") from None
    except OSError as exc:
        raise ImageLoadError(source, f"cannot read file ({exc.strerror or type(exc).__name__})") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ImageLoadError(source, "is a folder, not an image file")
        if not stat.S_ISREG(info.st_mode):
            raise ImageLoadError(source, "not a regular file (a device, pipe or socket)")
        if info.st_size > max_bytes:
            raise ImageLoadError(
                source, f"file too big ({info.st_size / 1e6:.1f} MB, limit {max_bytes / 1e6:.1f} MB)"
            )
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(max_bytes + 1)  # the size may have changed since fstat
    except OSError as exc:
        raise ImageLoadError(source, f"cannot read file ({exc.strerror or type(exc).__name__})") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise ImageLoadError(source, f"file too big (more than {max_bytes / 1e6:.1f} MB)")
    return data


class _Transfer:
    """One HTTP download, run in a worker thread that the caller waits for at most `timeout` seconds.

    Each read of the socket has its own timeout in requests, so a server sending a byte now and then
    would hold a caller that reads in the same thread for as long as it likes. Here the caller stops
    waiting at the deadline and reports "timed out"; the worker is told to stop, its blocked read is
    interrupted (urllib3's HTTPResponse.shutdown) and it ends at once.
    """

    def __init__(self, url: str, source: str, timeout: float, max_bytes: int):
        self.url, self.source, self.timeout, self.max_bytes = url, source, timeout, max_bytes
        self.cancelled = threading.Event()
        self.response = None
        self.data: bytes | None = None
        self.error: BaseException | None = None

    def run_within_timeout(self) -> bytes:
        worker = threading.Thread(target=self._work, name="image-download", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            self.cancelled.set()
            self._interrupt()
            raise ImageLoadError(self.source, f"timed out after {self.timeout:g} s")
        if self.error is not None:
            raise self.error
        return self.data

    def _interrupt(self) -> None:
        response = self.response
        shutdown = getattr(getattr(response, "raw", None), "shutdown", None)
        try:
            if shutdown is not None:
                shutdown()
        except Exception:  # already released or closed: the worker ends on its own
            pass

    def _work(self) -> None:
        try:
            self.data = self._download()
        except ImageLoadError as exc:
            self.error = exc
        except requests.TooManyRedirects:
            self.error = ImageLoadError(self.source, "too many redirects (a redirect loop)")
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema):
            self.error = ImageLoadError(self.source, "malformed URL")
        except requests.exceptions.InvalidSchema:
            self.error = ImageLoadError(self.source, "redirected to a URL that is not http or https")
        except requests.Timeout:
            self.error = ImageLoadError(self.source, f"timed out after {self.timeout:g} s")
        except requests.ConnectionError:
            self.error = ImageLoadError(self.source, "offline or host unreachable")
        except Exception as exc:  # anything else requests or the server can throw at us
            self.error = ImageLoadError(self.source, f"request failed ({type(exc).__name__})")

    def _download(self) -> bytes:
        source, max_bytes = self.source, self.max_bytes
        with requests.Session() as session:
            session.max_redirects = _MAX_REDIRECTS
            response = session.get(self.url, timeout=self.timeout, stream=True, headers=_HEADERS)
            self.response = response
            with response:
                _check_response(response, source, max_bytes)
                buffer = bytearray()
                try:
                    while len(buffer) <= max_bytes and not self.cancelled.is_set():
                        # read1: whatever has arrived, so a trickling server cannot keep this thread.
                        chunk = response.raw.read1(min(_CHUNK, max_bytes + 1 - len(buffer)))
                        if not chunk:
                            break
                        buffer += chunk
                except urllib3.exceptions.ReadTimeoutError:
                    raise ImageLoadError(source, f"timed out after {self.timeout:g} s") from None
                except (urllib3.exceptions.HTTPError, OSError):
                    if self.cancelled.is_set():
                        return b""  # interrupted at the deadline: the caller has reported the timeout
                    raise ImageLoadError(source, "connection lost during download") from None
        if len(buffer) > max_bytes:
            raise ImageLoadError(source, f"too big (more than {max_bytes / 1e6:.1f} MB)")
        return bytes(buffer)


def _check_response(response, source: str, max_bytes: int) -> None:
    """ImageLoadError unless the response's status and headers promise an image of at most max_bytes."""
    if response.status_code >= 400:
        hint = " (dead link)" if response.status_code in (404, 410) else ""
        raise ImageLoadError(source, f"HTTP {response.status_code} {response.reason or ''}".rstrip() + hint)
    if "photo_unavailable" in response.url:
        # Flickr redirects removed photos to a "This photo is no longer available" picture.
        raise ImageLoadError(source, "photo no longer available on Flickr (dead link)")
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type and not content_type.startswith("image/"):
        raise ImageLoadError(source, f"not an image (content type {content_type})")
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise ImageLoadError(source, f"too big ({int(length) / 1e6:.1f} MB, limit {max_bytes / 1e6:.1f} MB)")


def _decode(data: bytes, source: str) -> np.ndarray:
    """Encoded bytes -> (H, W, 3) uint8, refusing images beyond Image.MAX_IMAGE_PIXELS."""
    if not data:
        raise ImageLoadError(source, "empty file, not an image")
    try:
        with Image.open(io.BytesIO(data)) as im:
            limit = Image.MAX_IMAGE_PIXELS
            if limit and im.width * im.height > limit:
                raise ImageLoadError(
                    source,
                    f"too many pixels ({im.width}x{im.height}, limit {limit}): possible decompression bomb",
                )
            im.load()
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                im = Image.alpha_composite(background, rgba)
            rgb = im.convert("RGB")
            array = np.array(rgb, dtype=np.uint8)
    except Image.DecompressionBombError:
        raise ImageLoadError(source, "too many pixels: possible decompression bomb") from None
    except UnidentifiedImageError:
        raise ImageLoadError(source, "not an image (unrecognised file format)") from None
    except ImageLoadError:
        raise
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, struct.error, ... on bad data
        raise ImageLoadError(source, f"corrupt or truncated image ({type(exc).__name__})") from None
    if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageLoadError(source, f"unexpected image shape {array.shape}")
    return array


def _write_cache(path: Path, data: bytes) -> None:
    """Write atomically (temporary file + rename); a cache that cannot be written is not an error. The first
    write of a process into a folder removes the temporary files a killed process left there."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_once(path.parent)
        partial = path.parent / owned_name(_TEMPORARY)
        try:
            with open(partial, "xb") as out:
                out.write(data)
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    except OSError:
        pass


@functools.cache
def _remove_stale_once(folder: Path) -> None:
    remove_stale(folder, _TEMPORARY)
