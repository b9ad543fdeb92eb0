"""Errors raised by the manifests package."""


class ManifestError(ValueError):
    """A playlist line that could not be understood."""

    def __init__(self, lineno: int, line: str, reason: str) -> None:
        super().__init__(f"line {lineno}: {reason}: {line!r}")
        self.lineno = lineno
        self.line = line
        self.reason = reason


class CatalogError(RuntimeError):
    """The catalog database refused an operation."""


class VideoNotFound(CatalogError):
    def __init__(self, video_id: str) -> None:
        super().__init__(f"no video {video_id!r}")
        self.video_id = video_id


class LeaseLost(CatalogError):
    """A worker tried to act on a job it no longer holds."""

    def __init__(self, job_id: str, worker: str) -> None:
        super().__init__(f"job {job_id!r} is no longer leased by {worker!r}")
        self.job_id = job_id
        self.worker = worker
