"""Tests for core.data.download and `python -m core.data download`, against a local HTTP server."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest

from core.data.__main__ import main
from core.data.coco_utils import load_coco_data
from core.data.download import TextProgress, download_coco
from core.errors import DownloadError
from tests.helpers.coco_fixtures import build_zip
from tests.helpers.fault_server import FaultServer, send
from tests.helpers.paths import REPO
from tests.helpers.processes import run_module

ROOT = REPO


pytestmark = pytest.mark.usefixtures("isolated_home")


class ArchiveServer:
    """Serves ``body`` at /coco.zip on 127.0.0.1, honouring ``Range: bytes=N-`` unless told not to.

    ``cut_after``: on the first request, send only this many bytes (Content-Length says all) and close.
    """

    def __init__(self, body: bytes, *, ranges=True, cut_after=None, status=200):
        self.body = body
        self.ranges = ranges
        self.cut_after = cut_after
        self.status = status
        self.requests: list[dict] = []
        self.server = FaultServer({"/coco.zip": self.answer}, protocol_version="HTTP/1.1")
        self.url = self.server.url + "/coco.zip"

    def answer(self, handler):
        self.requests.append({"path": handler.path, "range": handler.headers.get("Range")})
        if self.status != 200:
            send(handler, self.status, {}, b"")
            return
        body, start = self.body, 0
        rng = handler.headers.get("Range")
        if rng and self.ranges:
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                send(handler, 416, {"Content-Range": f"bytes */{len(body)}"}, b"")
                return
            handler.send_response(206)
            handler.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            handler.send_response(200)
        chunk = body[start:]
        handler.send_header("Content-Type", "application/zip")
        handler.send_header("Content-Length", str(len(chunk)))
        handler.end_headers()
        if self.cut_after is not None:
            handler.wfile.write(chunk[: self.cut_after])
            self.cut_after = None
            handler.close_connection = True
            return
        handler.wfile.write(chunk)

    def stop(self):
        self.server.stop()


@pytest.fixture
def serve():
    servers = []

    def start(body, **kw):
        srv = ArchiveServer(body, **kw)
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.stop()


def siblings(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.parent.iterdir() if p.name != dest.name)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_download_unpacks_and_loads(tmp_path, serve, capsys):
    srv = serve(build_zip(tmp_path))
    dest = tmp_path / "data" / "coco"
    assert main(["download", "--dest", str(dest), "--url", srv.url]) == 0
    out, err = capsys.readouterr()
    assert str(dest) in out
    assert "100.0%" in err and "Traceback" not in err
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        [
            "coco2014_captions.h5",
            "coco2014_vocab.json",
            "train2014_urls.txt",
            "train2014_vgg16_fc7_pca.h5",
            "val2014_urls.txt",
            "val2014_vgg16_fc7_pca.h5",
        ]
    )
    assert siblings(dest) == []  # no .part, .zip or temporary folder left
    d = load_coco_data(dest)
    assert d["source"] == "coco" and d["train_features"].shape == (6, 512)
    # already complete: nothing is fetched again
    assert main(["download", "--dest", str(dest), "--url", srv.url]) == 0
    assert len(srv.requests) == 1


def test_default_destination_is_data_home(tmp_path, serve, isolated_home):
    srv = serve(build_zip(tmp_path, prefix=""))  # also accepts an archive without a top folder
    dest = download_coco(url=srv.url)
    assert dest == (isolated_home / "coco_captioning").resolve()
    assert load_coco_data()["source"] == "coco"


def test_resume_with_range(tmp_path, serve):
    body = build_zip(tmp_path)
    srv = serve(body)
    dest = tmp_path / "coco"
    part = tmp_path / "coco.zip.part"
    part.write_bytes(body[:1000])
    seen = []
    download_coco(dest, url=srv.url, progress=lambda f, m: seen.append((f, m)))
    assert srv.requests == [{"path": "/coco.zip", "range": "bytes=1000-"}]
    assert any("resuming" in m for _, m in seen)
    assert seen[-1][0] == 1.0
    assert load_coco_data(dest)["val_features"].shape == (4, 512)
    assert siblings(dest) == []


def test_interrupted_download_resumes_on_rerun(tmp_path, serve):
    body = build_zip(tmp_path)
    srv = serve(body, cut_after=len(body) // 3)
    dest = tmp_path / "coco"
    with pytest.raises(DownloadError, match="rerun|run the same command again"):
        download_coco(dest, url=srv.url, chunk_size=1024)
    part = tmp_path / "coco.zip.part"
    kept = part.stat().st_size  # whole chunks received before the cut
    assert len(body) // 3 - 1024 <= kept <= len(body) // 3
    assert not dest.exists()  # nothing half-written where the loader looks
    download_coco(dest, url=srv.url)
    assert srv.requests[1]["range"] == f"bytes={kept}-"
    assert load_coco_data(dest)["source"] == "coco"


def test_server_ignoring_range_restarts(tmp_path, serve):
    body = build_zip(tmp_path)
    srv = serve(body, ranges=False)
    (tmp_path / "coco.zip.part").write_bytes(b"x" * 500)  # not even the right bytes
    download_coco(tmp_path / "coco", url=srv.url)
    assert srv.requests[0]["range"] == "bytes=500-"
    assert load_coco_data(tmp_path / "coco")["source"] == "coco"


def test_complete_part_file_416(tmp_path, serve):
    body = build_zip(tmp_path)
    srv = serve(body)
    (tmp_path / "coco.zip.part").write_bytes(body)
    download_coco(tmp_path / "coco", url=srv.url)
    assert load_coco_data(tmp_path / "coco")["source"] == "coco"


def corrupt_member(body: bytes) -> bytes:
    """Flip bytes inside the stored vocabulary member, so its CRC no longer matches."""
    start = body.index(b'{"idx_to_word"')
    return body[:start] + b'{"IDX' + body[start + 5 :]


def test_corrupt_archive_rejected(tmp_path, serve, capsys):
    srv = serve(corrupt_member(build_zip(tmp_path, stored=True)))
    dest = tmp_path / "coco"
    with pytest.raises(DownloadError, match="coco2014_vocab.json is corrupt"):
        download_coco(dest, url=srv.url)
    assert not dest.exists()
    assert siblings(dest) == []
    # the same through the command line: one line, no traceback, non-zero exit
    assert main(["download", "--dest", str(dest), "--url", srv.url]) == 1
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and "corrupt" in last and "Traceback" not in err


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"skip": ("coco2014_vocab.json",)}, "lacks coco2014_vocab.json"),
        ({"extra": (("coco_captioning/../evil.txt", b"x"),)}, "unsafe member"),
    ],
)
def test_incomplete_or_unsafe_archive(tmp_path, serve, kwargs, message):
    srv = serve(build_zip(tmp_path, **kwargs))
    with pytest.raises(DownloadError, match=message):
        download_coco(tmp_path / "coco", url=srv.url)
    assert not (tmp_path / "coco").exists()
    assert not (tmp_path / "coco.zip").exists()


def test_not_a_zip(tmp_path, serve):
    srv = serve(b"<html>maintenance</html>")
    with pytest.raises(DownloadError, match="not a valid zip"):
        download_coco(tmp_path / "coco", url=srv.url)
    assert not (tmp_path / "coco").exists()


def test_http_error(tmp_path, serve):
    srv = serve(b"", status=404)
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_coco(tmp_path / "coco", url=srv.url)


def test_refuses_other_schemes(tmp_path):
    with pytest.raises(DownloadError, match="http and https"):
        download_coco(tmp_path / "coco", url="ftp://example.com/coco.zip")


def test_incomplete_existing_folder_replaced(tmp_path, serve):
    dest = tmp_path / "coco"
    dest.mkdir()
    (dest / "coco2014_vocab.json").write_text("half")
    (dest / "train2014_images.txt").write_text("old")
    download_coco(dest, url=serve(build_zip(tmp_path)).url)
    assert load_coco_data(dest)["source"] == "coco"
    assert not (dest / "train2014_images.txt").exists()
    assert siblings(dest) == []


def test_folder_with_other_files_is_not_replaced(tmp_path, serve):
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "thesis.tex").write_text("precious")
    srv = serve(build_zip(tmp_path))
    with pytest.raises(DownloadError, match="thesis.tex"):
        download_coco(dest, url=srv.url)
    assert (dest / "thesis.tex").read_text() == "precious"
    assert srv.requests == []


def test_no_network_one_line(tmp_path, capsys):
    url = f"http://127.0.0.1:{closed_port()}/coco.zip"
    code = main(["download", "--dest", str(tmp_path / "coco"), "--url", url])
    out, err = capsys.readouterr()
    assert code != 0
    assert err.strip().count("\n") == 0 and err.startswith("error: No network")
    assert "Traceback" not in err and out == ""


def test_no_network_cli_subprocess(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/coco.zip"
    result = run_module("core.data", "download", "--url", url, home=tmp_path / "home")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: No network")


def test_text_progress_bar():
    stream = io.StringIO()
    bar = TextProgress(stream, width=10, min_interval=0)
    bar(0.5, "5.0 MB of 10.0 MB")
    bar(1.0, "done")
    text = stream.getvalue()
    assert "[#####-----]  50.0% 5.0 MB of 10.0 MB" in text
    assert text.endswith("\n") and "100.0% done" in text
