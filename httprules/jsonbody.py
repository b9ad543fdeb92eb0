"""JSON request bodies within bounds: at most `max_bytes`, nested at most `max_depth` deep, so
that no body costs more than its limit to read and parse (a deeply nested body would otherwise
exhaust the parser's recursion)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable


class BodyError(ValueError):
    """The body is too large (`status` 413) or not JSON within the limits (422)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


async def read_limited(chunks: AsyncIterable[bytes], max_bytes: int) -> bytes:
    """The whole body, refused as soon as it passes `max_bytes`."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise BodyError(413, "too_large", f"the body is over {max_bytes} bytes")
        parts.append(chunk)
    return b"".join(parts)


def nesting_depth(text: str) -> int:
    """How deeply arrays and objects nest in `text` (brackets inside strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def loads_bounded(body: bytes, max_depth: int) -> object:
    """Parse a JSON body nested at most `max_depth` deep."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError(422, "invalid_json", "the body is not UTF-8") from None
    if nesting_depth(text) > max_depth:
        raise BodyError(422, "invalid_json", f"the body nests deeper than {max_depth}")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise BodyError(422, "invalid_json", f"the body is not JSON: {exc}") from None
