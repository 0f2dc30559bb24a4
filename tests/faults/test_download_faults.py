"""`python -m core.data download` against bad arguments, a competing download, an unsafe archive and a full
disk: one clear line on stderr, exit status 1, at once, and nothing half-written where the loader looks."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from core.data.__main__ import main
from core.data.download import download_coco
from core.data.temporary import owned_name
from core.errors import DownloadError
from tests.helpers.coco_fixtures import build_zip
from tests.helpers.fault_server import FaultServer, stall
from tests.helpers.faults import within
from tests.helpers.processes import run_module

pytestmark = pytest.mark.usefixtures("isolated_home")


def one_error_line(capsys, *names) -> str:
    """The command's stderr ends with its one error line (progress lines may come before), which names
    every one of `names`; no traceback."""
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    errors = [line for line in lines if not line.startswith("[")]  # "[####--] 40.0% ..." progress lines
    assert len(errors) == 1 and errors[0] == lines[-1], err
    assert lines[-1].startswith("error: ") and "Traceback" not in err, err
    for name in names:
        assert name in lines[-1], lines[-1]
    return lines[-1]


@pytest.mark.parametrize(
    ("url", "names"),
    [
        ("http://[::1/coco.zip", ["http://[::1/coco.zip", "not a valid URL"]),
        ("http://127.0.0.1:99999/coco.zip", ["99999", "not a valid URL"]),
        ("http:///coco.zip", ["names no host"]),
        ("ftp://example.com/coco.zip", ["ftp://", "only http and https"]),
        ("coco.zip", ["'coco.zip'", "only http and https"]),
    ],
    ids=["unclosed IPv6 address", "port out of range", "no host", "ftp", "no scheme"],
)
def test_malformed_url_is_one_line(tmp_path, capsys, url, names):
    with within(2):
        assert main(["download", "--dest", str(tmp_path / "coco"), "--url", url]) == 1
    one_error_line(capsys, *names)
    assert sorted(os.listdir(tmp_path)) == []  # nothing created


def test_a_second_download_into_the_same_folder_says_another_one_runs(tmp_path):
    """The first download (in this process) stalls on its server; a second command, another process, is
    told at once that a download into that folder is running, and the first is not disturbed."""
    dest = tmp_path / "coco"
    with FaultServer({"/coco.zip": stall}) as server:
        first = threading.Thread(
            target=lambda: pytest.raises(
                DownloadError, download_coco, dest, server.url + "/coco.zip", timeout=3
            ),
            daemon=True,
        )
        first.start()
        lock = tmp_path / ".coco.download.lock"
        deadline = time.monotonic() + 5
        while not server.hits and time.monotonic() < deadline:
            time.sleep(0.02)
        assert lock.exists()
        url = server.url + "/coco.zip"
        second = run_module(
            "core.data", "download", "--dest", str(dest), "--url", url, home=tmp_path / "home"
        )
        assert second.returncode == 1
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: Another download into"), second.stderr
        assert str(dest) in lines[0]
        assert server.hits == ["/coco.zip"]  # the second never asked
    first.join(10)
    assert not first.is_alive()
    assert not dest.exists() and not lock.exists()


def test_unsafe_archive_is_refused_and_deleted(tmp_path, capsys):
    evil = build_zip(tmp_path, extra=(("coco_captioning/../../escaped.txt", b"zip slip"),))
    dest = tmp_path / "data" / "coco"
    with FaultServer({"/coco.zip": (200, {"Content-Type": "application/zip"}, evil)}) as server:
        with within(5):
            assert main(["download", "--dest", str(dest), "--url", server.url + "/coco.zip"]) == 1
    one_error_line(capsys, "unsafe member", "escaped.txt")
    assert not dest.exists() and not (tmp_path / "escaped.txt").exists()
    assert os.listdir(dest.parent) == []  # the archive is deleted, no temporary folder is left


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_full_disk_while_downloading_is_one_line(tmp_path, capsys):
    """The partial download is /dev/full, where every write fails with ENOSPC."""
    dest = tmp_path / "coco"
    (tmp_path / "coco.zip.part").symlink_to("/dev/full")
    body = build_zip(tmp_path)
    with FaultServer({"/coco.zip": (200, {"Content-Type": "application/zip"}, body)}) as server:
        with within(5):
            assert main(["download", "--dest", str(dest), "--url", server.url + "/coco.zip"]) == 1
    one_error_line(capsys, "coco.zip.part", "No space left on device", "Free some disk space")
    assert not dest.exists() and not (tmp_path / "coco.zip").exists()


def test_progress_in_a_log_has_no_terminal_control_codes(tmp_path, capsys):
    body = build_zip(tmp_path)
    dest = tmp_path / "coco"
    with FaultServer({"/coco.zip": (200, {"Content-Type": "application/zip"}, body)}) as server:
        assert main(["download", "--dest", str(dest), "--url", server.url + "/coco.zip"]) == 0
    err = capsys.readouterr().err
    assert "100.0%" in err
    assert "\r" not in err and "\x1b" not in err  # stderr is not a terminal here


def test_leftovers_of_a_killed_unpack_are_removed_and_the_folder_is_not_private(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leftover = tmp_path / f".coco.unpacking-{dead.pid}-0123abcd"
    leftover.mkdir()
    (leftover / "coco2014_captions.h5").write_bytes(b"half")
    live = tmp_path / owned_name(".coco.unpacking-")  # this process: still unpacking elsewhere
    live.mkdir()
    body = build_zip(tmp_path)
    with FaultServer({"/coco.zip": (200, {"Content-Type": "application/zip"}, body)}) as server:
        download_coco(tmp_path / "coco", url=server.url + "/coco.zip")
    assert not leftover.exists() and live.exists()
    mode = (tmp_path / "coco").stat().st_mode & 0o777
    umask = os.umask(0o022)
    os.umask(umask)
    assert mode == 0o777 & ~umask  # as any new folder, not 0700
