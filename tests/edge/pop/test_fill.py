"""Fills: readers get every byte; a body that is not kept is let go once all have sent it."""

from __future__ import annotations

import asyncio

import pytest

from edge.pop.fill import Fill, FillFailed


def test_kept_body_stays_whole_for_every_reader() -> None:
    async def scenario() -> tuple[list[bytes], list[bytes], bytes]:
        fill = Fill()
        first, second = fill.reader(), fill.reader()
        fill.start(200, {}, storable=True, keep=True)
        for chunk in (b"a", b"b", b"c"):
            fill.append(chunk)
        fill.finish()
        return ([c async for c in first], [c async for c in second], fill.body)

    one, two, body = asyncio.run(scenario())
    assert one == two == [b"a", b"b", b"c"]
    assert body == b"abc"


def test_pass_through_body_is_let_go_as_readers_advance() -> None:
    async def scenario() -> tuple[list[int], bytes, bytes]:
        fill = Fill()
        fast, slow = fill.reader(), fill.reader()
        fill.start(200, {}, storable=False, keep=False)
        held: list[int] = []
        fast_chunks, slow_chunks = [], []
        for i in range(5):
            fill.append(bytes([i]) * 10)
            fast_chunks.append(await anext(aiter(fast)))
            held.append(len(fill.chunks))  # the slow reader still needs everything
        async for chunk in slow:
            slow_chunks.append(chunk)
            if len(slow_chunks) == 5:
                break
        held.append(len(fill.chunks))  # both have sent it all: nothing held
        fill.finish()
        return held, b"".join(fast_chunks), b"".join(slow_chunks)

    held, fast_body, slow_body = asyncio.run(scenario())
    assert held == [1, 2, 3, 4, 5, 0]
    assert fast_body == slow_body == b"".join(bytes([i]) * 10 for i in range(5))


def test_late_reader_of_a_pass_through_body_is_refused() -> None:
    async def scenario() -> None:
        fill = Fill()
        early = fill.reader()
        fill.start(200, {}, storable=False, keep=False)
        fill.append(b"x")
        await anext(aiter(early))
        assert fill.trimmed
        with pytest.raises(FillFailed):
            fill.reader()

    asyncio.run(scenario())
