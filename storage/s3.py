"""S3 storage through the `minio` client (MinIO, AWS S3, SeaweedFS, Ceph RGW).

Every request is signed with SigV4 including the payload's sha256, so the server verifies each
byte it stores; the sha256 of the whole object is also kept as user metadata.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from storage.base import CHUNK_BYTES, ObjectInfo, PrefixDeletion, sha256_file, validate_key
from storage.errors import ObjectNotFound, StorageError

PART_BYTES = 16 << 20


def _http_client() -> Any:
    """minio's connection pool with a short connect timeout and few retries: an endpoint that
    is down costs a request about a second, not the default's several (callers retry later)."""
    import certifi
    import urllib3

    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=1.0, read=60.0),
        maxsize=16,
        cert_reqs="CERT_REQUIRED",
        ca_certs=certifi.where(),
        retries=urllib3.Retry(total=2, backoff_factor=0.1, status_forcelist=[500, 502, 503, 504]),
    )


class S3Storage(PrefixDeletion):
    def __init__(
        self,
        *,
        endpoint: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        secure: bool = False,
        region: str | None = None,
        prefix: str = "",
        create_bucket: bool = True,
    ) -> None:
        from minio import Minio

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        scheme = "https" if secure else "http"
        self.url = f"s3://{bucket}?endpoint={endpoint}&secure={int(secure)}"
        self.endpoint_url = f"{scheme}://{endpoint}"
        self._client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=_http_client(),
        )
        if create_bucket:
            self._call(self._ensure_bucket)

    def __repr__(self) -> str:  # never show the keys
        return f"S3Storage({self.url!r})"

    def _ensure_bucket(self) -> None:
        from minio.error import S3Error

        if self._client.bucket_exists(self.bucket):
            return
        try:
            self._client.make_bucket(self.bucket)
        except S3Error as exc:
            # Several processes starting at once race to create it: any of them winning is fine.
            if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    def _call(self, fn: Any, *args: Any, key: str | None = None, **kwargs: Any) -> Any:
        from minio.error import S3Error
        from urllib3.exceptions import HTTPError as TransportError

        try:
            return fn(*args, **kwargs)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject") and key is not None:
                raise ObjectNotFound(key) from exc
            raise StorageError(f"S3 {exc.code}: {exc.message}") from exc
        except (OSError, TransportError) as exc:  # refused, reset, timed out, retries spent
            raise StorageError(f"S3 endpoint unreachable: {exc}") from exc
        except ValueError as exc:  # the client's own argument checks (bucket name, ...)
            raise StorageError(f"S3 request refused: {exc}") from exc

    def _name(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def put_stream(self, key: str, stream: BinaryIO, size_bytes: int = -1) -> ObjectInfo:
        hashing = _HashingReader(stream)
        self._call(
            self._client.put_object,
            self.bucket,
            self._name(key),
            hashing,
            size_bytes,
            part_size=PART_BYTES,
        )
        return ObjectInfo(key=key, size_bytes=hashing.size, sha256=hashing.hexdigest())

    def put_file(self, key: str, path: Path) -> ObjectInfo:
        sha = sha256_file(path)
        size = path.stat().st_size
        with path.open("rb") as f:
            self._call(
                self._client.put_object,
                self.bucket,
                self._name(key),
                f,
                size,
                metadata={"sha256": sha},
                part_size=PART_BYTES,
            )
        return ObjectInfo(key=key, size_bytes=size, sha256=sha)

    def put_bytes(self, key: str, data: bytes) -> ObjectInfo:
        sha = hashlib.sha256(data).hexdigest()
        self._call(
            self._client.put_object,
            self.bucket,
            self._name(key),
            io.BytesIO(data),
            len(data),
            metadata={"sha256": sha},
        )
        return ObjectInfo(key=key, size_bytes=len(data), sha256=sha)

    def _get(self, key: str, offset: int = 0, length: int = 0) -> Any:
        return self._call(
            self._client.get_object,
            self.bucket,
            self._name(key),
            offset=offset,
            length=length,
            key=key,
        )

    def get_bytes(self, key: str) -> bytes:
        resp = self._get(key)
        try:
            return bytes(resp.read())
        finally:
            resp.close()
            resp.release_conn()

    def read_range(self, key: str, start: int, length: int) -> bytes:
        if length <= 0:
            return b""
        resp = self._get(key, start, length)
        try:
            return bytes(resp.read())
        finally:
            resp.close()
            resp.release_conn()

    def iter_range(
        self, key: str, start: int, length: int, chunk_bytes: int = CHUNK_BYTES
    ) -> Iterator[bytes]:
        if length <= 0:
            return
        from urllib3.exceptions import HTTPError as TransportError

        resp = self._get(key, start, length)
        try:
            yield from resp.stream(chunk_bytes)
        except (OSError, TransportError) as exc:  # the body broke off mid-way
            raise StorageError(f"S3 read of {key} broken: {exc}") from exc
        finally:
            resp.close()
            resp.release_conn()

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            st = self._call(self._client.stat_object, self.bucket, self._name(key), key=key)
        except ObjectNotFound:
            return None
        meta = {k.lower(): v for k, v in (st.metadata or {}).items()}
        modified = st.last_modified.timestamp() if st.last_modified else time.time()
        return ObjectInfo(
            key=key,
            size_bytes=int(st.size or 0),
            sha256=meta.get("x-amz-meta-sha256"),
            modified_at=modified,
        )

    def download(self, key: str, dest: Path) -> None:
        with dest.open("wb") as out:
            for chunk in self.iter_range(key, 0, 1 << 62):
                out.write(chunk)

    def delete(self, key: str) -> None:
        self._call(self._client.remove_object, self.bucket, self._name(key))

    def list_keys(self, prefix: str) -> list[str]:
        def listing() -> list[str]:  # the listing is lazy: its requests happen as it is read
            objects = self._client.list_objects(
                self.bucket, prefix=self.prefix + prefix, recursive=True
            )
            return sorted(o.object_name[len(self.prefix) :] for o in objects)

        result: list[str] = self._call(listing)
        return result

    def local_path(self, key: str) -> Path | None:
        return None


class _HashingReader(io.RawIOBase):
    """Wraps a stream, hashing and counting what is read through it."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self._digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        self._digest.update(data)
        self.size += len(data)
        return data

    def hexdigest(self) -> str:
        return self._digest.hexdigest()
