"""One upstream fetch shared by every client that asked for the same object meanwhile
(request collapsing). Readers receive the body as it arrives, not after it has all arrived.

A body that will be stored is kept whole. One that will not (uncacheable, or larger than the
cache) is kept only until every reader has sent it on, so a pass-through download never sits
in memory whole.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator


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
        self.headers_ready = asyncio.Event()
        self._progress = asyncio.Event()
        self._base = 0  # absolute index of chunks[0]; > 0 once chunks were let go
        self._readers: dict[Reader, int] = {}

    def _wake(self) -> None:
        event, self._progress = self._progress, asyncio.Event()
        event.set()

    def start(self, status: int, headers: dict[str, str], storable: bool, keep: bool) -> None:
        self.status, self.headers, self.storable, self.keep = status, headers, storable, keep
        self.headers_ready.set()

    def append(self, chunk: bytes) -> None:
        self.chunks.append(chunk)
        self.received += len(chunk)
        self._wake()

    def finish(self) -> None:
        self.done = True
        self._wake()

    def fail(self, reason: str) -> None:
        self.error = reason
        self.headers_ready.set()
        self._wake()

    @property
    def trimmed(self) -> bool:
        return self._base > 0

    @property
    def body(self) -> bytes:
        if self._base:
            raise FillFailed("the body was streamed through, not kept")
        return b"".join(self.chunks)

    def reader(self) -> Reader:
        """Register a reader now (before the body arrives), so nothing it needs is let go."""
        if self._base:
            raise FillFailed("joined a pass-through fetch too late")
        reader = Reader(self)
        self._readers[reader] = 0
        return reader

    def _advance(self, reader: Reader, position: int | None) -> None:
        if position is None:
            self._readers.pop(reader, None)
        else:
            self._readers[reader] = position
        if not self.keep:
            low = min(self._readers.values(), default=self._base + len(self.chunks))
            if low > self._base:
                del self.chunks[: low - self._base]
                self._base = low

    async def wait_complete(self) -> bytes:
        with self.reader() as reader:
            return b"".join([chunk async for chunk in reader])


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
