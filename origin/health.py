"""Readiness: can this origin do its work now? The database answers, object storage answers,
and the data directory has room for uploads. `/healthz` answers 503 naming what is not."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import anyio
import anyio.to_thread

from manifests.catalog import Catalog
from origin.errors import ApiError
from storage import Storage

log = logging.getLogger("mediacdn.origin")
CHECK_TIMEOUT_S = 3.0


def free_bytes(directory: Path) -> int:
    return shutil.disk_usage(directory).free


def has_room(directory: Path, min_free_mb: int) -> bool:
    """Is there room for uploads below `directory`, keeping `min_free_mb` free?"""
    return free_bytes(directory) >= min_free_mb << 20


def require_room(directory: Path, min_free_mb: int) -> None:
    """Refuse an upload (507) before any of it is read when the disk is (nearly) full."""
    if not has_room(directory, min_free_mb):
        raise ApiError(
            507, "insufficient_storage", "the server is out of disk space for uploads; try later"
        )


async def _check(name: str, fn: Callable[[], object]) -> str:
    try:
        with anyio.fail_after(CHECK_TIMEOUT_S):
            await anyio.to_thread.run_sync(fn, abandon_on_cancel=True)
    except Exception as exc:
        log.warning("health check: %s unavailable: %s", name, exc)
        return "unavailable"
    return "ok"


async def readiness(
    catalog: Catalog, storage: Storage, data_dir: Path, min_free_mb: int
) -> tuple[bool, dict[str, str]]:
    """(ready, the state of each dependency)."""
    parts = {
        "database": await _check("the database", lambda: catalog.get_job("healthz")),
        "storage": await _check("object storage", lambda: storage.stat("healthz/probe")),
        "disk": "ok" if has_room(data_dir, min_free_mb) else "full",
    }
    return all(v == "ok" for v in parts.values()), parts
