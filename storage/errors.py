"""Storage errors."""


class StorageError(RuntimeError):
    """The object store failed or refused an operation."""


class ObjectNotFound(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"no object {key!r}")
        self.key = key


class InvalidKey(StorageError, ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(f"invalid object key {key!r}")
        self.key = key
