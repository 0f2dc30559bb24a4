"""Tests for core.data.image_utils.image_from_url: local files, a local HTTP server, failures, cache."""

from __future__ import annotations

import io
import socket
import time

import numpy as np
import pytest
from PIL import Image

from core.data import paths
from core.data.image_utils import image_from_url
from core.errors import CaptioningError, ImageLoadError
from tests.helpers.fault_server import FaultServer, slow
from tests.helpers.paths import COCO_SAMPLE

SAMPLE = COCO_SAMPLE


pytestmark = pytest.mark.usefixtures("isolated_home")


def encode(image: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()


RGB = np.arange(12 * 20 * 3, dtype=np.uint8).reshape(12, 20, 3)
PNG = encode(Image.fromarray(RGB), "PNG")
GRAY_PNG = encode(Image.fromarray(np.full((5, 6), 77, np.uint8)), "PNG")
RGBA_PNG = encode(Image.fromarray(np.zeros((4, 4, 4), np.uint8)), "PNG")  # fully transparent black
JPEG = encode(Image.fromarray(np.full((16, 16, 3), 200, np.uint8)), "JPEG")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server():
    srv = FaultServer(
        {
            "/img.png": (200, {"Content-Type": "image/png"}, PNG),
            "/img.jpg": (200, {"Content-Type": "image/jpeg; charset=binary"}, JPEG),
            "/gray.png": (200, {"Content-Type": "image/png"}, GRAY_PNG),
            "/rgba.png": (200, {"Content-Type": "image/png"}, RGBA_PNG),
            "/no-type.png": (200, {}, PNG),
            "/page.html": (200, {"Content-Type": "text/html"}, b"<html>hello</html>"),
            "/lie.png": (200, {"Content-Type": "image/png"}, b"<html>not really</html>"),
            "/truncated.png": (200, {"Content-Type": "image/png"}, PNG[: len(PNG) // 2]),
            "/big.png": (200, {"Content-Type": "image/png"}, PNG + b"\0" * 5000),
            "/gone.png": (410, {"Content-Type": "text/plain"}, b"gone"),
            "/boom.png": (500, {}, b"oops"),
            "/redirect": (302, {"Location": "/img.png"}, b""),
            "/flickr": (302, {"Location": "/photo_unavailable.png"}, b""),
            "/photo_unavailable.png": (200, {"Content-Type": "image/png"}, PNG),
            "/slow.png": slow(1.5),
        }
    )
    yield srv
    srv.stop()


# ---------------------------------------------------------------------------------------------- http


def test_png_over_http(server):
    image = image_from_url(server.url + "/img.png")
    assert image.shape == (12, 20, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, RGB)


@pytest.mark.parametrize(
    ("path", "check"),
    [
        ("/img.jpg", lambda a: a.shape == (16, 16, 3) and abs(int(a.mean()) - 200) <= 2),
        ("/gray.png", lambda a: a.shape == (5, 6, 3) and (a == 77).all()),
        ("/rgba.png", lambda a: a.shape == (4, 4, 3) and (a == 255).all()),  # transparent -> white
        ("/no-type.png", lambda a: a.shape == (12, 20, 3)),
        ("/redirect", lambda a: a.shape == (12, 20, 3)),
    ],
)
def test_formats_and_modes(server, path, check):
    image = image_from_url(server.url + path)
    assert image.dtype == np.uint8 and image.ndim == 3
    assert check(image)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/missing.png", "HTTP 404 Not Found (dead link)"),
        ("/gone.png", "HTTP 410"),
        ("/boom.png", "HTTP 500"),
        ("/page.html", "not an image (content type text/html)"),
        ("/lie.png", "not an image"),
        ("/truncated.png", "truncated"),
        ("/big.png", "too big"),
        ("/flickr", "no longer available"),
    ],
)
def test_http_failures(server, path, reason):
    with pytest.raises(ImageLoadError) as info:
        image_from_url(server.url + path, max_bytes=len(PNG) + 100)
    assert reason in info.value.reason
    assert info.value.source == server.url + path
    assert isinstance(info.value, CaptioningError)


def test_size_cap_without_content_length(server):
    def chunked(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.end_headers()  # no Content-Length: the body ends when the connection closes
        handler.wfile.write(PNG + b"\0" * 300_000)
        handler.close_connection = True

    server.routes["/stream.png"] = chunked
    with pytest.raises(ImageLoadError, match="too big"):
        image_from_url(server.url + "/stream.png", max_bytes=100_000)


def test_timeout(server):
    start = time.monotonic()
    with pytest.raises(ImageLoadError, match="timed out"):
        image_from_url(server.url + "/slow.png", timeout=0.3)
    assert time.monotonic() - start < 1.4


def test_offline():
    url = f"http://127.0.0.1:{closed_port()}/img.png"
    with pytest.raises(ImageLoadError) as info:
        image_from_url(url, timeout=2)
    assert "offline" in info.value.reason


def test_cache_hit_without_server(isolated_home):
    srv = FaultServer({"/img.png": (200, {"Content-Type": "image/png"}, PNG)})
    url = srv.url + "/img.png"
    try:
        first = image_from_url(url)
    finally:
        srv.stop()
    cached = list(paths.image_cache_dir().glob("*.img"))
    assert len(cached) == 1 and cached[0].read_bytes() == PNG
    assert str(cached[0]).startswith(str(isolated_home))
    second = image_from_url(url)  # the server is gone
    np.testing.assert_array_equal(first, second)
    assert srv.hits == ["/img.png"]


def test_failures_not_cached_and_cache_dir_argument(server, tmp_path):
    with pytest.raises(ImageLoadError):
        image_from_url(server.url + "/page.html", cache_dir=tmp_path / "c")
    assert not (tmp_path / "c").exists() or not list((tmp_path / "c").iterdir())
    image_from_url(server.url + "/img.png", cache_dir=tmp_path / "c")
    assert len(list((tmp_path / "c").glob("*.img"))) == 1
    assert not paths.image_cache_dir().exists()


def test_damaged_cache_entry_refetched(server):
    url = server.url + "/img.png"
    image_from_url(url)
    (entry,) = paths.image_cache_dir().glob("*.img")
    entry.write_bytes(b"garbage")
    np.testing.assert_array_equal(image_from_url(url), RGB)
    assert entry.read_bytes() == PNG
    assert server.hits.count("/img.png") == 2


def test_decompression_bomb_guard(server, tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # the 12x20 PNG has 240 pixels
    with pytest.raises(ImageLoadError, match="decompression bomb"):
        image_from_url(server.url + "/img.png")
    path = tmp_path / "img.png"
    path.write_bytes(PNG)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 200)  # between the limit and twice the limit
    with pytest.warns(Image.DecompressionBombWarning), pytest.raises(ImageLoadError, match="too many pixels"):
        image_from_url(path)


# ---------------------------------------------------------------------------------------------- local


def test_local_paths(tmp_path):
    path = tmp_path / "pic one%20 two.png"
    path.write_bytes(PNG)
    for source in (path, str(path), path.as_uri()):
        np.testing.assert_array_equal(image_from_url(source), RGB)
    assert not paths.image_cache_dir().exists()  # local files are not cached


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d: d / "nope.png", "file not found"),
        (lambda d: d, "folder"),
        (lambda d: _write(d / "notes.png", b"just text"), "not an image"),
        (lambda d: _write(d / "empty.png", b""), "empty"),
        (lambda d: _write(d / "huge.png", PNG + b"\0" * 2000), "too big"),
    ],
)
def test_local_failures(tmp_path, make, reason):
    path = make(tmp_path)
    with pytest.raises(ImageLoadError) as info:
        image_from_url(str(path), max_bytes=len(PNG) + 1000)
    assert reason in info.value.reason


def _write(path, data):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/a.jpg",
        "javascript:alert(1)",
        "data:image/png;base64,iVBORw0KGgo=",
        "gopher://x/y",
        "file://otherhost/etc/a.png",
        "",
        "   ",
        None,
    ],
)
def test_refused_sources(url):
    with pytest.raises(ImageLoadError) as info:
        image_from_url(url)
    assert info.value.reason
    assert "Could not load image" in str(info.value)


# ---------------------------------------------------------------------------------------------- real JPEGs

needs_sample = pytest.mark.skipif(not (SAMPLE / "images").is_dir(), reason=f"{SAMPLE} not present")


@needs_sample
def test_real_coco_jpegs_over_http():
    files = sorted((SAMPLE / "images").glob("*.jpg"))
    assert len(files) == 6
    names = set((SAMPLE / "val2014_images.txt").read_text().split())
    srv = FaultServer({f"/{p.name}": (200, {"Content-Type": "image/jpeg"}, p.read_bytes()) for p in files})
    urls = [f"{srv.url}/{p.name}" for p in files]
    try:
        first = [image_from_url(url) for url in urls]
    finally:
        srv.stop()
    for path, image in zip(files, first, strict=True):
        assert f"coco/images/val2014/{path.name}" in names
        with Image.open(path) as im:
            expected = np.asarray(im.convert("RGB"))
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert image.shape == expected.shape and min(image.shape[:2]) >= 200
        np.testing.assert_array_equal(image, expected)
    # second round: the server is stopped, every image comes from the cache
    for url, image in zip(urls, first, strict=True):
        np.testing.assert_array_equal(image_from_url(url, timeout=1), image)
    assert len(list(paths.image_cache_dir().glob("*.img"))) == 6
    assert len(srv.hits) == 6
