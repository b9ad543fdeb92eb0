"""Marks on the local disk that an upload is being received, which the janitor respects
whatever its `--older-than` (0 included): a file per upload, locked (flock) for as long as the
upload's request runs, in the data directory's `in-use/`. The lock goes with the process, so
an origin killed mid-upload leaves nothing that looks in progress: the janitor may remove it.

Names: `video-<id>` while a video's files are stored, `upload-<id>` while a tus upload
takes a piece. Blocking calls, of microseconds."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

IN_USE_DIR = "in-use"


@contextmanager
def hold(directory: Path, name: str) -> Iterator[None]:
    """`name` is in use until the block ends. Never waits for long: where another request
    (of this process or another) holds the mark already, the name is in use either way, and
    the block runs without taking it (the janitor's look takes microseconds, so a mark it is
    looking at is tried again for a few milliseconds first)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    owned = False
    try:
        owned = _lock(fd)
        yield
    finally:
        if owned:  # gone before the lock goes: no one takes a stale file for a held mark
            path.unlink(missing_ok=True)
        os.close(fd)


def _lock(fd: int, tries: int = 5) -> bool:
    for attempt in range(tries):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if attempt + 1 < tries:
                time.sleep(0.001)
    return False


def held(directory: Path, name: str) -> bool:
    """Is `name` in use by a running process right now?"""
    try:
        fd = os.open(directory / name, os.O_RDONLY)
    except OSError:  # no such mark: nothing holds it
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # (closing releases a lock this call took)
    return False


def owner_of_spool_file(file_name: str) -> str | None:
    """Whose spool file this is (`video-<id>-…`, `tus-<upload id>-…`) as a mark's name."""
    kind, _, rest = file_name.partition("-")
    owner = rest.split("-", 1)[0]
    if not owner:
        return None
    return {"video": f"video-{owner}", "tus": f"upload-{owner}"}.get(kind)
