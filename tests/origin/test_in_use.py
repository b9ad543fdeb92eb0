"""Marks that an upload is in use: seen by any process while held, gone after, never waited
on for long."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from origin.in_use import held, hold, owner_of_spool_file


def _held_elsewhere(directory: Path, name: str) -> bool:
    code = "from pathlib import Path; from origin.in_use import held; "
    code += f"print(held(Path({str(directory)!r}), {name!r}))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout.strip() == "True"


def test_a_mark_is_held_for_its_block_only(tmp_path: Path) -> None:
    assert not held(tmp_path, "video-a")
    with hold(tmp_path, "video-a"):
        assert held(tmp_path, "video-a")
        assert _held_elsewhere(tmp_path, "video-a")
        assert not held(tmp_path, "video-b")
    assert not held(tmp_path, "video-a")
    assert not _held_elsewhere(tmp_path, "video-a")
    assert not list(tmp_path.iterdir())


def test_holding_a_held_mark_again_neither_waits_nor_drops_it(tmp_path: Path) -> None:
    with hold(tmp_path, "upload-u"):
        started = time.monotonic()
        with hold(tmp_path, "upload-u"):
            assert held(tmp_path, "upload-u")
        assert time.monotonic() - started < 1.0
        assert held(tmp_path, "upload-u")  # the inner block left the outer's mark alone
    assert not held(tmp_path, "upload-u")


def test_a_mark_left_by_a_killed_process_is_not_held(tmp_path: Path) -> None:
    (tmp_path / "video-dead").touch()
    assert not held(tmp_path, "video-dead")


def test_spool_files_name_their_owner() -> None:
    assert owner_of_spool_file("video-0123abcd-x1y2") == "video-0123abcd"
    assert owner_of_spool_file("tus-feed-1234") == "upload-feed"
    assert owner_of_spool_file("upload-k3r9gfau") is None  # an older version's
    assert owner_of_spool_file("video-") is None
    assert owner_of_spool_file("") is None
