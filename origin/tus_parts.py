"""A tus upload's pieces in object storage: each PATCH's body is stored as one object under
`tus/<upload id>/`, and the catalog lists the pieces in order. Any origin sharing the
catalog and the storage can therefore resume any upload; when it completes, the pieces are
joined into the source file once. Blocking: call from a thread."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path

from storage import Storage

PARTS_ROOT = "tus/"


def parts_prefix(upload_id: str) -> str:
    return f"{PARTS_ROOT}{upload_id}/"


def part_key(upload_id: str, offset_bytes: int) -> str:
    """Where a piece starting at `offset_bytes` goes: unique, so two origins writing the same
    offset at once never overwrite each other (the catalog keeps the one that won)."""
    return f"{parts_prefix(upload_id)}{offset_bytes:015d}-{uuid.uuid4().hex[:12]}"


def join_parts(storage: Storage, parts: Iterable[str], dest: Path) -> int:
    """Write the pieces one after the other into `dest`; returns its size."""
    size = 0
    with dest.open("wb") as out:
        for key in parts:
            local = storage.local_path(key)
            if local is not None:
                with local.open("rb") as piece:
                    shutil.copyfileobj(piece, out, 1 << 20)
                    size += piece.tell()
                continue
            info = storage.stat(key)
            length = info.size_bytes if info is not None else 0
            for chunk in storage.iter_range(key, 0, length):
                out.write(chunk)
                size += len(chunk)
    return size


def drop_parts(storage: Storage, upload_ids: Iterable[str]) -> None:
    for upload_id in upload_ids:
        storage.delete_prefix(parts_prefix(upload_id))
