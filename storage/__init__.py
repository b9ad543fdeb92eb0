"""Object storage: a `Storage` seam with a local-directory and an S3 backend, and the layout of
object keys."""

from storage.base import ObjectInfo, Storage, validate_key
from storage.errors import ObjectNotFound, StorageError
from storage.factory import open_storage

__all__ = [
    "ObjectInfo",
    "ObjectNotFound",
    "Storage",
    "StorageError",
    "open_storage",
    "validate_key",
]
