"""Object storage: a `Storage` seam with a local-directory and an S3 backend."""

from origin.storage.base import ObjectInfo, Storage, validate_key
from origin.storage.errors import ObjectNotFound, StorageError
from origin.storage.factory import open_storage

__all__ = [
    "ObjectInfo",
    "ObjectNotFound",
    "Storage",
    "StorageError",
    "open_storage",
    "validate_key",
]
