"""Local-directory storage: the embedded default. Atomic writes by temp file + rename."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from storage.base import CHUNK_BYTES, ObjectInfo, PrefixDeletion, validate_key
from storage.errors import ObjectNotFound


class LocalStorage(PrefixDeletion):
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._tmp = self.root / ".tmp"
        self._tmp.mkdir(exist_ok=True)
        self.url = self.root.as_uri()

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def _commit(self, tmp: Path, key: str) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, dest)

    def put_stream(self, key: str, stream: BinaryIO, size_bytes: int = -1) -> ObjectInfo:
        validate_key(key)
        digest = hashlib.sha256()
        size = 0
        fd, name = tempfile.mkstemp(dir=self._tmp)
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK_BYTES):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            self._commit(tmp, key)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return ObjectInfo(key=key, size_bytes=size, sha256=digest.hexdigest())

    def put_file(self, key: str, path: Path) -> ObjectInfo:
        with path.open("rb") as f:
            return self.put_stream(key, f)

    def put_bytes(self, key: str, data: bytes) -> ObjectInfo:
        return self.put_stream(key, io.BytesIO(data), len(data))

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc

    def read_range(self, key: str, start: int, length: int) -> bytes:
        try:
            with self._path(key).open("rb") as f:
                f.seek(start)
                return f.read(length)
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc

    def iter_range(
        self, key: str, start: int, length: int, chunk_bytes: int = CHUNK_BYTES
    ) -> Iterator[bytes]:
        try:
            f = self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc
        with f:
            f.seek(start)
            left = length
            while left > 0:
                chunk = f.read(min(chunk_bytes, left))
                if not chunk:
                    break
                left -= len(chunk)
                yield chunk

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            st = self._path(key).stat()
        except FileNotFoundError:
            return None
        return ObjectInfo(key=key, size_bytes=st.st_size, modified_at=st.st_mtime)

    def download(self, key: str, dest: Path) -> None:
        src = self._path(key)
        if not src.exists():
            raise ObjectNotFound(key)
        shutil.copyfile(src, dest)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list_keys(self, prefix: str) -> list[str]:
        base = self.root / validate_key(prefix.rstrip("/")) if prefix.strip("/") else self.root
        if base.is_file():
            return [prefix]
        if not base.is_dir():
            return []
        keys = [
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and self._tmp not in p.parents
        ]
        return sorted(keys)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)
