"""A request body read as it arrives, ahead of the handler that uses it.

Some clients close the connection as soon as they have sent a body, without waiting for the
response: ffmpeg's HTTP output does, for every file its `hls` and `dash` muxers PUT. An ASGI
server that sees the connection close before the application has read the whole body answers
the application's next read with a disconnect, and the bytes it had received but not yet
handed on are lost. Reading in a task of its own, which never waits for the consumer while
it has room, takes every byte before the close is noticed, whatever the handler is doing
(waiting for its turn, or for a slow pipe)."""

from __future__ import annotations

import asyncio
import contextlib

from starlette.requests import ClientDisconnect, Request

MAX_AHEAD_BYTES = 16 << 20  # what one request may hold in memory ahead of its handler


class BodyAhead:
    """Iterate over the body's chunks; raises `ClientDisconnect` after the last chunk that
    came if the client went away before the end of the body. `close()` when done."""

    def __init__(self, request: Request, max_bytes: int = MAX_AHEAD_BYTES) -> None:
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._held = 0
        self._max_bytes = max_bytes
        self._room = asyncio.Event()
        self._room.set()
        self._gone: ClientDisconnect | None = None
        self._head = b""  # peeked at, not yet iterated over
        self._task = asyncio.create_task(self._read(request))

    async def _read(self, request: Request) -> None:
        try:
            async for chunk in request.stream():
                if not chunk:
                    continue
                await self._room.wait()
                self._held += len(chunk)
                if self._held >= self._max_bytes:
                    self._room.clear()
                self._chunks.put_nowait(chunk)
        except ClientDisconnect as exc:
            self._gone = exc
        finally:
            self._chunks.put_nowait(None)

    def __aiter__(self) -> BodyAhead:
        return self

    async def peek(self, size: int) -> bytes:
        """The body's first `size` bytes (fewer if it is shorter), which iterating over it
        still yields."""
        while len(self._head) < size:
            try:
                self._head += await self._next()
            except StopAsyncIteration:
                break
        return self._head[:size]

    async def __anext__(self) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            return head
        return await self._next()

    async def _next(self) -> bytes:
        chunk = await self._chunks.get()
        if chunk is None:
            self._chunks.put_nowait(None)  # the end stays the end
            if self._gone is not None:
                raise self._gone
            raise StopAsyncIteration
        self._held -= len(chunk)
        if self._held < self._max_bytes:
            self._room.set()
        return chunk

    async def read(self, limit: int) -> bytes:
        """The whole body, or `ValueError` once it is longer than `limit`."""
        whole = bytearray()
        async for chunk in self:
            whole += chunk
            if len(whole) > limit:
                raise ValueError(f"a body of more than {limit} bytes")
        return bytes(whole)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
