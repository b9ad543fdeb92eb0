"""One log format for every process: readable text lines (the default) or JSON lines
(`--log-format json`) with a UTC ISO 8601 time, level, logger and message, plus the fields of
an access record when the line is one. Access records go to the `mediacdn.access` logger."""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from httprules.times import iso_utc

ACCESS_LOGGER = "mediacdn.access"
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": iso_utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            line |= access
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, separators=(",", ":"), default=str)


def configure_logging(level: int = logging.INFO, fmt: str = "text") -> None:
    """Send every logger's records to stderr in `fmt`, replacing earlier handlers (a server
    library's own included: they propagate here)."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "granian", "_granian"):
        library = logging.getLogger(name)
        for old in list(library.handlers):
            library.removeHandler(old)
        library.propagate = True


class AccessFile(logging.Formatter):
    """An access log file's lines: the record's own fields, one JSON object a line."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(getattr(record, "access", {}), separators=(",", ":"), default=str)


class _AccessText:
    """An access record's text line, made only if a text handler formats it."""

    __slots__ = ("record",)

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record

    def __str__(self) -> str:
        r = self.record
        head = " ".join(str(r[k]) for k in ("method", "path", "status") if k in r)
        return head + "".join(f" {k}={r[k]}" for k in ACCESS_TEXT_FIELDS if r.get(k))


ACCESS_TEXT_FIELDS = ("bytes", "ms", "cache", "pop", "id")


def route_access_log(destination: str, logger_name: str = ACCESS_LOGGER) -> Callable[[], None]:
    """Where access records go: "-" with the other logs (stderr, in their format), "off"
    nowhere, or a file path (JSON lines; reopened when logrotate moves it). Returns a function
    that closes the file."""
    logger = logging.getLogger(logger_name)
    for old in list(logger.handlers):
        logger.removeHandler(old)
        old.close()
    logger.disabled = destination == "off"
    logger.propagate = destination == "-"
    logger.setLevel(logging.INFO)
    if destination in ("-", "off"):
        return lambda: None
    handler = logging.handlers.WatchedFileHandler(destination, encoding="utf-8")
    handler.setFormatter(AccessFile())
    logger.addHandler(handler)

    def close() -> None:
        logger.removeHandler(handler)
        handler.close()

    return close


def check_access_log(destination: str) -> None:
    """A ValueError saying why `destination` (as for `route_access_log`) cannot take records,
    so that a server says so as it starts (each of its workers would fail on opening it)."""
    if destination in ("-", "off"):
        return
    path = Path(destination)
    existed = path.exists()
    try:
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise ValueError(f"cannot write to {destination}: {exc.strerror}") from None
    if not existed:  # the server makes it when it starts
        path.unlink(missing_ok=True)


def log_access(record: dict[str, Any], logger_name: str = ACCESS_LOGGER) -> None:
    """One request answered, as `record`'s fields."""
    logger = logging.getLogger(logger_name)
    if logger.isEnabledFor(logging.INFO):
        logger.info(_AccessText(record), extra={"access": record})
