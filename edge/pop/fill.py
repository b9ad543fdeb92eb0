"""One upstream fetch shared by every client that asked for the same object meanwhile
(request collapsing). Readers receive the body as it arrives, not after it has all arrived.

The body is spooled: written to a file as it arrives (the disk tier's spool, or an unnamed
scratch file) and read back by each reader at its own pace (`pread`, from the page cache). A
fill holds no body in memory however many or however slow its readers, so neither a flood of
misses, nor objects larger than the memory tier, nor stalled readers grow the POP's memory;
a body the memory tier stores is read back once, whole, when it is complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

READ_SIZE = 256 << 10  # a spooled body is read back in pieces of this size


class Spool:
    """A body being received: a file written as the chunks arrive, read with `pread` while it
    grows. A named spool (the disk tier's) may be published by renaming it; an unnamed one is
    unlinked at once, so nothing of it outlives its descriptor."""

    @classmethod
    def borrowed(cls, fd: int) -> Spool:
        """Another worker's spool, read through a descriptor it passed over: never written
        nor deleted here."""
        spool = cls.__new__(cls)
        spool.path, spool.fd, spool.length, spool.published = Path("/dev/fd", str(fd)), fd, 0, True
        spool.named, spool.make_room = False, None
        return spool

    def __init__(
        self,
        path: Path,
        *,
        named: bool = True,
        make_room: Callable[[int], bool] | None = None,
    ) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        self.length = 0
        self.published = not named
        self.named = named
        # asked to free this many bytes on its filesystem when it is full; True if it did
        self.make_room = make_room
        if not named:
            path.unlink()

    def write(self, chunk: bytes) -> None:
        """Append `chunk`. A full filesystem is given one chance to make room (the disk tier
        sheds stored responses); OSError if it stays full or fails otherwise."""
        view = memoryview(chunk)
        retried = False
        while view:
            try:
                view = view[os.write(self.fd, view) :]
            except OSError as exc:
                full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
                if retried or not full or self.make_room is None or not self.make_room(len(view)):
                    raise
                retried = True
        self.length += len(chunk)

    def close(self) -> None:
        """Close the writer's descriptor; an unpublished spool file is deleted."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if not self.published:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


class ScratchSpools:
    """Unnamed spools in a private temporary directory (made on first use): for fills with
    no disk tier, or none with room for them."""

    def __init__(self) -> None:
        self._directory: tempfile.TemporaryDirectory[str] | None = None

    def spool(self) -> Spool:
        if self._directory is None:
            self._directory = tempfile.TemporaryDirectory(prefix="mediacdn-pop-")
        return Spool(Path(self._directory.name) / f"{time.monotonic_ns()}", named=False)

    def cleanup(self) -> None:
        if self._directory is not None:
            self._directory.cleanup()


class FillFailed(Exception):
    """The upstream response broke off (or never came): nothing may be stored or completed."""


class Fill:
    def __init__(
        self, request_headers: dict[str, str] | None = None, purges_before: int = 0
    ) -> None:
        self.request_headers = request_headers or {}  # the initiating request's
        self.status = 0
        self.headers: dict[str, str] = {}
        self.received = 0
        self.done = False
        self.error: str | None = None
        self.waiters = 0
        self.storable = False
        self.spool: Spool | None = None  # where the body goes (None: a response without one)
        self.times = (0.0, 0.0)  # when the request went upstream and the response came
        self.purges_before = purges_before  # how many purges its worker had made when it began
        self.headers_ready = asyncio.Event()
        self._progress = asyncio.Event()
        self._readers: set[Reader] = set()

    def _wake(self) -> None:
        event, self._progress = self._progress, asyncio.Event()
        event.set()

    def start(
        self, status: int, headers: dict[str, str], storable: bool, spool: Spool | None
    ) -> None:
        self.status, self.headers, self.storable, self.spool = status, headers, storable, spool
        self.headers_ready.set()

    def append(self, chunk: bytes) -> None:
        assert self.spool is not None, "a body arrived for a fill started without a spool"
        self.spool.write(chunk)
        self.received += len(chunk)
        self._wake()

    def grew(self, received: int) -> None:
        """More of the body is in the spool (written by another worker)."""
        if received > self.received:
            self.received = received
            self._wake()

    async def wait_ended(self) -> None:
        """Until the fill has finished or failed."""
        while not self.done and self.error is None:
            await self._progress.wait()

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
    def closed(self) -> bool:
        """Too late to read from the start: the spool is closed."""
        return self.spool is not None and self.spool.fd < 0

    @property
    def body(self) -> bytes:
        """The whole body, read back in one piece (while the fill is still open)."""
        if self.spool is None:
            return b""
        if self.closed:
            raise FillFailed("the body was streamed through, not kept")
        return os.pread(self.spool.fd, self.received, 0)

    def reader(self) -> Reader:
        """Register a reader now (before the body arrives), so the spool stays open for it."""
        if self.closed:
            raise FillFailed("joined a fill that has ended")
        reader = Reader(self)
        self._readers.add(reader)
        return reader

    def _leave(self, reader: Reader) -> None:
        self._readers.discard(reader)
        self._release()

    async def wait_complete(self) -> None:
        """Until the whole body has arrived (FillFailed if it does not)."""
        with self.reader() as reader:
            async for _ in reader:
                pass


class Reader:
    """One client's position in a fill's body."""

    def __init__(self, fill: Fill) -> None:
        self._fill = fill
        self._offset = 0  # bytes of the body already read

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._fill._leave(self)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._pieces()

    def part(self, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes `start` to `end` (excluded) of the body, piece by piece as they arrive: a
        range is sent as soon as its bytes are here, not once the whole body is."""
        self._offset = start
        return self._pieces(end)

    async def _pieces(self, end: int | None = None) -> AsyncIterator[bytes]:
        """The body (up to `end`), piece by piece as it arrives; raises FillFailed if the
        fetch breaks before."""
        fill = self._fill
        await fill.headers_ready.wait()
        while True:
            progress = fill._progress
            while (offset := self._offset) < (here := _upto(fill.received, end)):
                assert fill.spool is not None
                piece = os.pread(fill.spool.fd, min(READ_SIZE, here - offset), offset)
                if not piece:
                    raise FillFailed("the spooled body was cut short")
                self._offset += len(piece)
                yield piece
            if end is not None and self._offset >= end:
                return
            if fill.error is not None:
                raise FillFailed(fill.error)
            if fill.done:
                if end is not None:
                    raise FillFailed("the body ended before the range did")
                return
            await progress.wait()


def _upto(received: int, end: int | None) -> int:
    return received if end is None or end > received else end
