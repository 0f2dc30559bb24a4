"""Images against a local fault server (127.0.0.1) and hostile local paths: every failure is an
ImageLoadError with its reason, within the load's timeout, and nothing lands in the image cache."""

from __future__ import annotations

import io
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from core.data import paths
from core.data.image_utils import image_from_url
from core.errors import ImageLoadError
from tests.helpers.fault_server import FaultServer, endless, redirect, send, silent, stall, trickle
from tests.helpers.faults import raises_within

TIMEOUT = 1.0
BOUND = TIMEOUT + 0.5  # the load's own bound, plus the time to start a thread and raise


def png(array) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = png(np.full((6, 8, 3), 90, np.uint8))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels and holds none: what a decompression bomb announces."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def dropped(handler):
    """Half of a PNG, then the connection closes although Content-Length promised all of it."""
    handler.send_response(200)
    handler.send_header("Content-Type", "image/png")
    handler.send_header("Content-Length", str(len(PNG)))
    handler.end_headers()
    handler.wfile.write(PNG[: len(PNG) // 2])
    handler.close_connection = True


ROUTES = {
    "/ok.png": (200, {"Content-Type": "image/png"}, PNG),
    "/stall.png": stall,
    "/silent.png": silent,
    "/trickle.png": trickle(PNG, interval=0.2),
    "/huge.png": endless(PNG),
    "/announced-huge.png": (200, {"Content-Type": "image/png", "Content-Length": str(10**12)}, b""),
    "/page.html": (200, {"Content-Type": "text/html"}, b"<html><a href='x'>not an image</a></html>"),
    "/disguised.png": (200, {"Content-Type": "image/png"}, b"<html>not an image</html>"),
    "/bomb.png": (200, {"Content-Type": "image/png"}, png_header_only(100_000, 100_000)),
    "/loop": redirect("/loop"),
    "/to-file": redirect("file:///etc/passwd"),
    "/dropped.png": dropped,
    "/error.png": lambda handler: send(handler, 500, {}, b"oops"),
}

# path on the fault server -> what the reason says
HTTP_FAULTS = {
    "404": ("/missing.png", "HTTP 404 Not Found (dead link)"),
    "500": ("/error.png", "HTTP 500"),
    "stall after the headers": ("/stall.png", f"timed out after {TIMEOUT:g} s"),
    "no answer at all": ("/silent.png", f"timed out after {TIMEOUT:g} s"),
    "a byte every 0.2 s": ("/trickle.png", f"timed out after {TIMEOUT:g} s"),
    "endless body": ("/huge.png", "too big (more than 0.1 MB)"),
    "announced 1 TB": ("/announced-huge.png", "too big"),
    "an HTML page": ("/page.html", "not an image (content type text/html)"),
    "HTML sent as image/png": ("/disguised.png", "not an image"),
    "decompression bomb": ("/bomb.png", "decompression bomb"),
    "redirect loop": ("/loop", "too many redirects"),
    "redirect to file://": ("/to-file", "redirected to a URL that is not http or https"),
    "connection dropped midway": ("/dropped.png", "connection lost during download"),
}


@pytest.fixture(scope="module")
def server():
    with FaultServer(ROUTES) as srv:
        yield srv


@pytest.fixture(autouse=True)
def image_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.DATA_HOME_ENV, str(tmp_path / "home"))
    return tmp_path / "home" / "image_cache"


@pytest.mark.parametrize("case", HTTP_FAULTS, ids=list(HTTP_FAULTS))
def test_http_faults(server, image_cache, case):
    path, reason = HTTP_FAULTS[case]
    url = server.url + path
    with raises_within(ImageLoadError, url, reason, seconds=BOUND) as info:
        image_from_url(url, timeout=TIMEOUT, max_bytes=100_000)
    assert info.value.source == url
    assert not image_cache.exists() or not list(image_cache.iterdir())  # nothing partial is kept


def test_a_good_image_still_loads_and_is_cached(server, image_cache):
    image = image_from_url(server.url + "/ok.png", timeout=TIMEOUT)
    assert image.shape == (6, 8, 3) and (image == 90).all()
    assert [p.suffix for p in image_cache.iterdir()] == [".img"]


def fifo(folder):
    path = folder / "pipe.png"
    os.mkfifo(path)
    return path


LOCAL_FAULTS = {
    "malformed IPv6 URL": (lambda d: "http://[::1/x.jpg", "malformed URL"),
    "a NUL byte in the path": (lambda d: str(d / "a\x00b.png"), "malformed URL or path"),
    "a NUL byte in a file URL": (lambda d: "file:///tmp/a%00b.png", "malformed URL or path"),
    # Reading /dev/zero would fill the memory (its size says 0); a FIFO would block for ever.
    "/dev/zero": (lambda d: "/dev/zero", "not a regular file"),
    "a FIFO": (fifo, "not a regular file"),
    "a folder": (lambda d: d, "is a folder"),
    "a missing file": (lambda d: d / "nowhere.png", "file not found"),
    "a bad port": (lambda d: "http://127.0.0.1:99999/x.png", "malformed URL"),
}


@pytest.mark.parametrize("case", LOCAL_FAULTS, ids=list(LOCAL_FAULTS))
def test_local_and_malformed_sources(tmp_path, case):
    make, reason = LOCAL_FAULTS[case]
    source = make(tmp_path)
    with raises_within(ImageLoadError, reason, seconds=BOUND):
        image_from_url(source, timeout=TIMEOUT)


@pytest.mark.skipif(not os.path.isfile("/proc/self/status"), reason="needs /proc")
def test_a_file_whose_size_says_zero_is_read_only_up_to_the_limit():
    """/proc files are regular files of size 0 with content: only max_bytes + 1 bytes are read."""
    with raises_within(ImageLoadError, "too big (more than", seconds=BOUND):
        image_from_url("/proc/self/status", max_bytes=10)
