"""Fills: every reader gets every byte at its own pace, from a spool file; the spool is closed
(and an unnamed one leaves nothing behind) once the fill has ended and its readers are gone."""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path

import pytest

from edge.pop.fill import Fill, FillFailed, Spool


def test_every_reader_gets_the_whole_body_at_its_own_pace(tmp_path: Path) -> None:
    async def scenario() -> tuple[bytes, bytes, bytes]:
        fill = Fill()
        fast, slow = fill.reader(), fill.reader()
        fill.start(200, {}, True, Spool(tmp_path / "s", named=False))
        fast_pieces = []
        for i in range(5):
            fill.append(bytes([i]) * 100_000)
            fast_pieces.append(await anext(aiter(fast)))
        body = fill.body
        fill.finish()
        slow_body = b"".join([piece async for piece in slow])
        return b"".join(fast_pieces), slow_body, body

    fast, slow, body = asyncio.run(scenario())
    assert fast == slow == body == b"".join(bytes([i]) * 100_000 for i in range(5))
    assert list(tmp_path.iterdir()) == []  # unnamed: nothing on disk at any time


def test_the_spool_closes_when_the_last_reader_leaves_and_late_readers_are_refused(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        fill = Fill()
        reader = fill.reader()
        spool = Spool(tmp_path / "named")
        fill.start(200, {}, False, spool)
        fill.append(b"x" * 10)
        fill.finish()
        assert spool.fd >= 0  # a reader is still on it
        assert b"".join([piece async for piece in reader]) == b"x" * 10
        reader.close()
        assert fill.closed
        assert not spool.path.exists()  # a named spool that was not published is deleted
        with pytest.raises(FillFailed):
            fill.reader()

    asyncio.run(scenario())


def test_a_broken_fill_fails_its_readers_after_what_arrived(tmp_path: Path) -> None:
    async def scenario() -> list[bytes]:
        fill = Fill()
        reader = fill.reader()
        fill.start(200, {}, True, Spool(tmp_path / "s", named=False))
        fill.append(b"abc")
        fill.fail("upstream body broken")
        got: list[bytes] = []

        async def read_all() -> None:
            async for piece in reader:
                got.append(piece)

        with pytest.raises(FillFailed):
            await read_all()
        return got

    assert asyncio.run(scenario()) == [b"abc"]


def test_a_part_comes_as_its_bytes_arrive_and_fails_if_the_body_ends_before_it(
    tmp_path: Path,
) -> None:
    async def scenario() -> tuple[bytes, bytes]:
        fill = Fill()
        early, late = fill.reader(), fill.reader()
        fill.start(200, {}, True, Spool(tmp_path / "s", named=False))
        fill.append(b"a" * 1000)
        # bytes 10-19 are here: they come at once, with the rest of the body still to come
        part = b"".join([piece async for piece in early.part(10, 20)])
        beyond = late.part(900, 1500)
        first = await anext(beyond)  # what has arrived of it, then it waits for more
        fill.append(b"b" * 100)
        fill.finish()  # 1100 bytes: the part's end never comes
        assert await anext(beyond) == b"b" * 100
        with pytest.raises(FillFailed):
            await anext(beyond)
        return part, first

    part, first = asyncio.run(scenario())
    assert part == b"a" * 10
    assert first == b"a" * 100


def test_a_spool_on_a_full_filesystem_asks_for_room_once_then_fails(tmp_path: Path) -> None:
    """ENOSPC: the disk tier is asked to shed what the rest of the chunk needs, and the write
    tried again, once; still full, the write fails (the fill then fails, not the POP)."""
    asked: list[int] = []

    def make_room(size: int) -> bool:
        asked.append(size)
        return True  # it says it shed, but the filesystem stays full

    spool = Spool(tmp_path / "s", make_room=make_room)
    full = os.open("/dev/full", os.O_WRONLY)  # every write: ENOSPC
    os.dup2(full, spool.fd)
    os.close(full)
    with pytest.raises(OSError, match="No space left") as raised:
        spool.write(b"x" * 1000)
    assert raised.value.errno == errno.ENOSPC
    assert asked == [1000]
    assert spool.length == 0
    spool.close()
    assert list(tmp_path.iterdir()) == []  # never published: deleted
