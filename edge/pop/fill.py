"""One upstream fetch shared by every client that asked for the same object meanwhile
(request collapsing). Readers receive the body as it arrives, not after it has all arrived.

A body is either kept in memory, whole (one the memory tier will store, when the POP has room
for it among the fills in flight), or spooled: written to a file as it arrives and read back by
each reader at its own pace (`pread` from the page cache). A spooled fill holds no body in
memory however slow its readers, so neither a flood of misses nor objects larger than the
memory tier nor stalled readers grow the POP's memory.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge.pop.disk import Spool

READ_SIZE = 256 << 10  # a spooled body is read back in pieces of this size


class FillFailed(Exception):
    """The upstream response broke off (or never came): nothing may be stored or completed."""


class Fill:
    def __init__(self, request_headers: dict[str, str] | None = None) -> None:
        self.request_headers = request_headers or {}  # the initiating request's
        self.status = 0
        self.headers: dict[str, str] = {}
        self.chunks: list[bytes] = []
        self.received = 0
        self.done = False
        self.error: str | None = None
        self.waiters = 0
        self.storable = False
        self.keep = True  # keep the whole body (it is going to be stored)
        self.spool: Spool | None = None  # the body is in this file, not in `chunks`
        self.headers_ready = asyncio.Event()
        self._progress = asyncio.Event()
        self._base = 0  # absolute index of chunks[0]; > 0 once chunks were let go
        self._readers: dict[Reader, int] = {}

    def _wake(self) -> None:
        event, self._progress = self._progress, asyncio.Event()
        event.set()

    def start(
        self,
        status: int,
        headers: dict[str, str],
        storable: bool,
        keep: bool,
        spool: Spool | None = None,
    ) -> None:
        self.status, self.headers, self.storable, self.keep = status, headers, storable, keep
        self.spool = spool
        self.headers_ready.set()

    def append(self, chunk: bytes) -> None:
        if self.spool is not None:
            self.spool.write(chunk)
        else:
            self.chunks.append(chunk)
        self.received += len(chunk)
        self._wake()

    def finish(self) -> None:
        self.done = True
        self._wake()
        self._release()

    def fail(self, reason: str) -> None:
        self.error = reason
        self.headers_ready.set()
        self._wake()
        self._release()

    def _release(self) -> None:
        """Close the spool once the fill has ended and no reader is left."""
        if self.spool is not None and not self._readers and (self.done or self.error):
            self.spool.close()

    @property
    def trimmed(self) -> bool:
        """Too late to read from the start: a pass-through body partly let go, or a spool
        already closed."""
        return self._base > 0 or (self.spool is not None and self.spool.fd < 0)

    @property
    def body(self) -> bytes:
        if self._base:
            raise FillFailed("the body was streamed through, not kept")
        if self.spool is not None:
            return os.pread(self.spool.fd, self.received, 0)
        return b"".join(self.chunks)

    def reader(self) -> Reader:
        """Register a reader now (before the body arrives), so nothing it needs is let go."""
        if self.trimmed:
            raise FillFailed("joined a pass-through fetch too late")
        reader = Reader(self)
        self._readers[reader] = 0
        return reader

    def _advance(self, reader: Reader, position: int | None) -> None:
        if position is None:
            self._readers.pop(reader, None)
            self._release()
        else:
            self._readers[reader] = position
        if not self.keep and self.spool is None:
            low = min(self._readers.values(), default=self._base + len(self.chunks))
            if low > self._base:
                del self.chunks[: low - self._base]
                self._base = low

    async def wait_complete(self) -> None:
        """Until the whole body has arrived (FillFailed if it does not)."""
        with self.reader() as reader:
            async for _ in reader:
                pass


class Reader:
    """One client's position in a fill's body."""

    def __init__(self, fill: Fill) -> None:
        self._fill = fill
        self._position = 0

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._fill._advance(self, None)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        """The body, chunk by chunk as it arrives; raises FillFailed if the fetch breaks."""
        fill = self._fill
        await fill.headers_ready.wait()
        if fill.spool is not None:
            async for piece in self._spooled(fill.spool):
                yield piece
            return
        while True:
            progress = fill._progress
            while self._position < fill._base + len(fill.chunks):
                chunk = fill.chunks[self._position - fill._base]
                self._position += 1
                fill._advance(self, self._position)
                yield chunk
            if fill.error is not None:
                raise FillFailed(fill.error)
            if fill.done:
                return
            await progress.wait()

    async def _spooled(self, spool: Spool) -> AsyncIterator[bytes]:
        fill = self._fill
        offset = 0
        while True:
            progress = fill._progress
            while offset < fill.received:
                piece = os.pread(spool.fd, min(READ_SIZE, fill.received - offset), offset)
                if not piece:
                    raise FillFailed("the spooled body was cut short")
                offset += len(piece)
                yield piece
            if fill.error is not None:
                raise FillFailed(fill.error)
            if fill.done:
                return
            await progress.wait()
