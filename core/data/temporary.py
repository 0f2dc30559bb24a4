"""Temporary files and folders written beside their final place, and the removal of those a killed process
left behind.

Everything the project writes atomically (the embedded dataset, the unpacked COCO folder, cached images,
stored models) is first written under a temporary name, then renamed into place. The name holds the id of
the process writing it (``<prefix><pid>-<8 hex digits><suffix>``), so that a later start can tell the
leftovers of a process killed with ``kill -9`` (its pid is gone) from the work of a process still running,
which is never touched.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import time
from pathlib import Path

# A temporary entry this old is stale even if its pid names a live process (the pid was reused) or it
# has no pid in its name (written by an older version): every write the project does takes minutes at most.
STALE_AFTER = 24 * 3600.0

_OWNER = re.compile(r"(\d+)-[0-9a-f]{8}$")
log = logging.getLogger(__name__)


def owned_name(prefix: str, suffix: str = "") -> str:
    """A fresh name ``<prefix><pid>-<8 random hex digits><suffix>`` that says which process writes it."""
    return f"{prefix}{os.getpid()}-{secrets.token_hex(4)}{suffix}"


def make_folder(parent: Path, prefix: str) -> Path:
    """A new empty folder ``parent/owned_name(prefix)``, with the permissions the umask gives a new folder
    (tempfile.mkdtemp would make it private, 0700, and so would the folder it is renamed to)."""
    while True:
        folder = Path(parent) / owned_name(prefix)
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue


def remove_stale(parent: Path, prefix: str, suffix: str = "", max_age: float = STALE_AFTER) -> list[Path]:
    """Remove the temporary entries ``parent/<prefix>…<suffix>`` left behind: those whose process is gone,
    and those older than `max_age` seconds (or with no pid in their name) whoever wrote them. Entries of a
    live process are kept. Returns the paths removed; errors (a folder that cannot be read) are ignored."""
    try:
        entries = [p for p in Path(parent).iterdir() if p.name.startswith(prefix) and p.name.endswith(suffix)]
    except OSError:
        return []
    removed = []
    for path in entries:
        middle = path.name[len(prefix) : len(path.name) - len(suffix)]
        owner = _OWNER.search(middle)
        if (owner is None or _process_alive(int(owner.group(1)))) and _age(path) < max_age:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                path.unlink()
            except OSError:
                continue
        log.info("Removed %s, left behind by a process that was stopped while writing it.", path)
        removed.append(path)
    return removed


def _process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (on Windows, where signal 0 would end the process,
    every pid counts as alive and only the age decides)."""
    if pid == os.getpid():
        return True
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists but belongs to someone else (EPERM)
    return True


def _age(path: Path) -> float:
    """Seconds since the entry or, for a folder, anything directly inside it last changed."""
    try:
        newest = path.lstat().st_mtime
        if path.is_dir() and not path.is_symlink():
            for child in path.iterdir():
                newest = max(newest, child.lstat().st_mtime)
    except OSError:
        return 0.0  # vanished or unreadable meanwhile: leave it to its owner
    return time.time() - newest
