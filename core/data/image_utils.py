"""Loading images from http(s) URLs and local files, safely and with an on-disk cache.

``image_from_url`` replaces the course's helper of the same name: it returns an RGB uint8 array or
raises ``ImageLoadError(source, reason)`` with a short reason the UI shows on a placeholder.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import numpy as np
import requests
from PIL import Image, ImageOps, UnidentifiedImageError

from core.data.paths import image_cache_dir
from core.errors import ImageLoadError

__all__ = ["DEFAULT_MAX_BYTES", "image_from_url"]

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
_CHUNK = 64 * 1024
_HEADERS = {"User-Agent": "rnn-captioning-explainer/1.0 (+image_from_url)", "Accept": "image/*"}


def image_from_url(
    url, timeout: float = 10.0, max_bytes: int = DEFAULT_MAX_BYTES, cache_dir=None
) -> np.ndarray:
    """Load an image as an RGB array.

    Args:
        url: ``http://`` or ``https://`` URL, ``file://`` URL, or a local path (str or Path).
        timeout: seconds to wait for the server to connect or send data.
        max_bytes: largest encoded image accepted (the download stops beyond it).
        cache_dir: folder of cached downloads (default ``core.data.paths.image_cache_dir()``); files are
            named by the SHA-256 of the URL. Local files are not cached.

    Returns:
        (H, W, 3) uint8 RGB array (transparency composited on white, EXIF rotation applied).

    Raises:
        ImageLoadError: offline, timeout, HTTP error (dead link), not an image, too big (bytes or
            pixels), unreadable file, or a URL scheme other than http, https and file.
    """
    source = str(url) if url is not None else ""
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
            return _decode(cached.read_bytes(), source)
        except (ImageLoadError, OSError):
            cached.unlink(missing_ok=True)  # a damaged cache entry: fetch again
    data = _fetch(url, source, timeout, max_bytes)
    image = _decode(data, source)
    _write_cache(cached, data)
    return image


def _read_local(path: Path, source: str, max_bytes: int) -> bytes:
    try:
        if path.is_dir():
            raise ImageLoadError(source, "is a folder, not an image file")
        size = path.stat().st_size
        if size > max_bytes:
            raise ImageLoadError(
                source, f"file too big ({size / 1e6:.1f} MB, limit {max_bytes / 1e6:.1f} MB)"
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageLoadError(source, "file not found") from None
    except PermissionError:
        raise ImageLoadError(source, "permission denied") from None
    except OSError as exc:
        raise ImageLoadError(source, f"cannot read file ({exc.strerror or type(exc).__name__})") from None


def _fetch(url: str, source: str, timeout: float, max_bytes: int) -> bytes:
    try:
        response = requests.get(url, timeout=timeout, stream=True, headers=_HEADERS)
    except requests.Timeout:
        raise ImageLoadError(source, f"timed out after {timeout:g} s") from None
    except requests.ConnectionError:
        raise ImageLoadError(source, "offline or host unreachable") from None
    except requests.RequestException as exc:
        raise ImageLoadError(source, f"request failed ({type(exc).__name__})") from None
    with response:
        if response.status_code >= 400:
            hint = " (dead link)" if response.status_code in (404, 410) else ""
            raise ImageLoadError(
                source, f"HTTP {response.status_code} {response.reason or ''}".rstrip() + hint
            )
        if "photo_unavailable" in response.url:
            # Flickr redirects removed photos to a "This photo is no longer available" picture.
            raise ImageLoadError(source, "photo no longer available on Flickr (dead link)")
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type and not content_type.startswith("image/"):
            raise ImageLoadError(source, f"not an image (content type {content_type})")
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > max_bytes:
            raise ImageLoadError(
                source, f"too big ({int(length) / 1e6:.1f} MB, limit {max_bytes / 1e6:.1f} MB)"
            )
        buffer = bytearray()
        try:
            for chunk in response.iter_content(_CHUNK):
                buffer += chunk
                if len(buffer) > max_bytes:
                    raise ImageLoadError(source, f"too big (more than {max_bytes / 1e6:.1f} MB)")
        except requests.Timeout:
            raise ImageLoadError(source, f"timed out after {timeout:g} s") from None
        except requests.RequestException:
            raise ImageLoadError(source, "connection lost during download") from None
    return bytes(buffer)


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
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError(source, f"corrupt or truncated image ({type(exc).__name__})") from None
    if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageLoadError(source, f"unexpected image shape {array.shape}")
    return array


def _write_cache(path: Path, data: bytes) -> None:
    """Write atomically (temporary file + rename); a cache that cannot be written is not an error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        pass
