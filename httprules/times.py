"""Times as every API and log line shows them: ISO 8601 in UTC, to the millisecond."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def iso_utc(at_s: float) -> str: ...
@overload
def iso_utc(at_s: None) -> None: ...
def iso_utc(at_s: float | None) -> str | None:
    """`1796000000.5` → `2026-11-29T21:33:20.500Z`; None stays None."""
    if at_s is None:
        return None
    return datetime.fromtimestamp(at_s, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
