"""One upstream fetch shared by every client that asked for the same object meanwhile
(request collapsing). Waiters receive the body as it arrives, not after it has all arrived."""

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
        self.headers_ready = asyncio.Event()
        self._progress = asyncio.Event()

    def _wake(self) -> None:
        event, self._progress = self._progress, asyncio.Event()
        event.set()

    def start(self, status: int, headers: dict[str, str], storable: bool) -> None:
        self.status, self.headers, self.storable = status, headers, storable
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
    def body(self) -> bytes:
        return b"".join(self.chunks)

    async def stream(self) -> AsyncIterator[bytes]:
        """The body, chunk by chunk as it arrives; raises FillFailed if the fetch breaks."""
        index = 0
        while True:
            progress = self._progress
            while index < len(self.chunks):
                yield self.chunks[index]
                index += 1
            if self.error is not None:
                raise FillFailed(self.error)
            if self.done:
                return
            await progress.wait()

    async def wait_complete(self) -> bytes:
        async for _ in self.stream():
            pass
        return self.body
