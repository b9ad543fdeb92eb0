"""Build a storage backend from its URL: file:///path or s3://bucket?endpoint=host:port."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from storage.base import Storage
from storage.local import LocalStorage
from storage.s3 import S3Storage


def open_storage(url: str, *, access_key: str = "", secret_key: str = "") -> Storage:
    parts = urlsplit(url)
    if parts.scheme == "file":
        return LocalStorage(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        endpoint = query.get("endpoint")
        if not parts.netloc or not endpoint:
            raise ValueError("S3 storage URL needs a bucket and endpoint: s3://bucket?endpoint=h:p")
        return S3Storage(
            endpoint=endpoint,
            bucket=parts.netloc,
            access_key=access_key,
            secret_key=secret_key,
            secure=query.get("secure", "0") in ("1", "true", "yes"),
            region=query.get("region"),
            prefix=unquote(parts.path),
        )
    raise ValueError(f"unsupported storage URL {url!r} (use file:///path or s3://bucket?...)")
