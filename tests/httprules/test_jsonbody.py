"""JSON bodies within bounds: size, nesting depth, encoding."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from httprules.jsonbody import BodyError, loads_bounded, nesting_depth, read_limited


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        pytest.param("1", 0, id="scalar"),
        pytest.param('{"a": 1}', 1, id="object"),
        pytest.param('{"a": [1, {"b": 2}]}', 3, id="nested"),
        pytest.param('{"a": "[[[{{{"}', 1, id="brackets-in-strings"),
        pytest.param('{"a": "\\\\"}', 1, id="escaped-backslash"),
        pytest.param('["\\"[["]', 1, id="escaped-quote"),
    ],
)
def test_nesting_depth(text: str, depth: int) -> None:
    assert nesting_depth(text) == depth


def test_deep_bodies_are_refused_before_parsing() -> None:
    with pytest.raises(BodyError) as refused:
        loads_bounded(b"[" * 100_000 + b"]" * 100_000, max_depth=2)
    assert refused.value.status == 422
    assert loads_bounded(b'{"a": [1]}', max_depth=2) == {"a": [1]}


@pytest.mark.parametrize("body", [b"\xff\xfe", b"{", b"NaN-ish"])
def test_bodies_that_are_not_json_are_refused(body: bytes) -> None:
    with pytest.raises(BodyError):
        loads_bounded(body, max_depth=4)


def test_reading_stops_at_the_limit() -> None:
    read: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for n in range(100):
            read.append(n)
            yield b"x" * 1000

    async def main() -> None:
        with pytest.raises(BodyError) as refused:
            await read_limited(chunks(), 4096)
        assert refused.value.status == 413
        assert len(read) == 5  # not one chunk more than needed to know

    anyio.run(main)
