"""The local stack's state is private to the user running it: `.devstack/` holds the Better Auth
secret, the internal API key and the demo session token, and the D1 file holds every session
token. Directories are 0700 and files 0600 from the moment they exist (no window in which
another local user could open them), and an existing one we own is tightened."""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def _tighten(path: Path, mode: int) -> None:
    info = path.stat()
    if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(mode)


def private_dir(path: Path) -> Path:
    """`path` and its missing parents created 0700 (parents we did not create are left alone)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=DIR_MODE, exist_ok=True)
    if not missing:
        _tighten(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """`path` created empty 0600 if absent (SQLite gives its -wal/-shm files the same mode)."""
    if not path.parent.exists():
        private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        _tighten(path, FILE_MODE)
    else:
        os.close(fd)
    return path
