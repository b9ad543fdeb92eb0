"""The storage seam: what every backend offers. Blocking calls; run them in a thread."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from storage.errors import InvalidKey

_KEY = re.compile(r"[A-Za-z0-9._\-]+(/[A-Za-z0-9._\-]+)*")
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size_bytes: int
    sha256: str | None = None
    modified_at: float | None = None


def validate_key(key: str) -> str:
    """Keys are relative slash-separated names; no empty, `.` or `..` parts, no NUL."""
    if not _KEY.fullmatch(key) or any(part in (".", "..") for part in key.split("/")):
        raise InvalidKey(key)
    return key


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


class PrefixDeletion:
    """`delete_prefix` for any backend that can list and delete keys."""

    def list_keys(self, prefix: str) -> list[str]:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list_keys(prefix)
        for key in keys:
            self.delete(key)
        return len(keys)


class Storage(Protocol):
    url: str

    def put_file(self, key: str, path: Path) -> ObjectInfo:
        """Store a local file under `key` atomically, with its sha256 recorded."""
        ...

    def put_stream(self, key: str, stream: BinaryIO, size_bytes: int) -> ObjectInfo: ...

    def put_bytes(self, key: str, data: bytes) -> ObjectInfo: ...

    def get_bytes(self, key: str) -> bytes: ...

    def read_range(self, key: str, start: int, length: int) -> bytes: ...

    def iter_range(
        self, key: str, start: int, length: int, chunk_bytes: int = CHUNK_BYTES
    ) -> Iterator[bytes]: ...

    def stat(self, key: str) -> ObjectInfo | None: ...

    def download(self, key: str, dest: Path) -> None: ...

    def delete(self, key: str) -> None: ...

    def delete_prefix(self, prefix: str) -> int: ...

    def list_keys(self, prefix: str) -> list[str]: ...

    def local_path(self, key: str) -> Path | None:
        """The file behind `key` when the backend is a local directory, else None."""
        ...
