"""`.devstack/` (secrets, the demo token) and the local D1 file (every session token) are private
to the user running the stack from the moment they exist."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from devstack.migrate import apply_migrations
from devstack.stack_config import StackConfig


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_state_directory_is_created_0700_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        StackConfig.from_env({"DEVSTACK_DIR": str(tmp_path / "a" / ".devstack")})
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a" / ".devstack") == 0o700
    assert _mode(tmp_path / "a") == 0o700  # created for it, so ours to close


def test_an_existing_state_directory_left_open_is_tightened(tmp_path: Path) -> None:
    state = tmp_path / ".devstack"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    StackConfig.from_env({"DEVSTACK_DIR": str(state)})
    assert _mode(state) == 0o700


def test_the_local_d1_file_and_its_wal_are_created_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        d1 = tmp_path / "state" / "d1.sqlite3"
        apply_migrations(d1)
        conn = sqlite3.connect(d1)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(
            'INSERT INTO "verification" VALUES (?, ?, ?, ?, ?, ?)', ("i", "x", "v", 0, 0, 0)
        )
        conn.commit()
        # Modes read while the connection is open: closing the last one removes -wal and -shm.
        extra = {p.name: _mode(p) for p in d1.parent.iterdir() if p.name.startswith("d1.sqlite3-")}
        conn.close()
    finally:
        os.umask(old)
    assert _mode(d1) == 0o600
    assert _mode(d1.parent) == 0o700
    assert extra == {"d1.sqlite3-wal": 0o600, "d1.sqlite3-shm": 0o600}


def test_an_existing_d1_file_readable_by_others_is_tightened(tmp_path: Path) -> None:
    d1 = tmp_path / "d1.sqlite3"
    d1.touch()
    d1.chmod(0o644)
    apply_migrations(d1)
    assert _mode(d1) == 0o600
