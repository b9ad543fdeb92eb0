"""The workers of one POP as one cache. Each worker process holds a slot (0..N-1, a lock file it
keeps while it lives) and a Unix datagram socket in `<cache dir>/workers/`. Every URL has an
owner slot (a hash of the URL): the owner alone fetches it from upstream, stores it on disk and
keeps it in its share of the disk index; another worker that misses asks the owner for the
fill and reads the owner's spool file (its descriptor passed over the socket) as it grows. So
a POP fetches each object once however many workers it has, and its disk capacity is shared,
not multiplied.

Messages are JSON objects with an `op`; a request carries an `id` and its reply comes back
with `op` "reply" and the same `id`. A worker that is gone is skipped (its socket refuses).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import itertools
import json
import logging
import os
import socket
from array import array
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("mediacdn.edge")

Message = dict[str, Any]
Handler = Callable[[Message, list[int]], Awaitable[Message | None]]
MAX_MESSAGE = 1 << 20  # headers and stats: far below this
SEND_PATIENCE_S = 2.0  # a peer's full socket buffer is retried this long, then the send dropped


def url_digest(url: str) -> str:
    """SHA-256 of a URL, in hex: it names the URL's files on disk and picks its owner, so a
    worker knows the files it owns by their names."""
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()


def owner_of(url: str, workers: int) -> int:
    """The slot that owns `url` among `workers` (the same in every worker)."""
    return _owner(url_digest(url), workers)


def _owner(digest: str, workers: int) -> int:
    return int(digest[:16], 16) % workers


class Cluster:
    def __init__(self, root: Path, workers: int) -> None:
        self.root = root
        self.workers = workers
        root.mkdir(parents=True, exist_ok=True)
        self.slot, self._lock = _claim_slot(root, workers)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        path = self.path(self.slot)
        path.unlink(missing_ok=True)
        self.sock.bind(str(path))
        for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
            self.sock.setsockopt(socket.SOL_SOCKET, option, 4 << 20)
        self.sock.setblocking(False)
        self.handlers: dict[str, Handler] = {}
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[tuple[Message, list[int]]]] = {}
        self._tasks: set[asyncio.Future[object]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def path(self, slot: int) -> Path:
        return self.root / f"{slot}.sock"

    def owns(self, url: str) -> bool:
        return owner_of(url, self.workers) == self.slot

    def owns_digest(self, digest: str) -> bool:
        """Whether this worker owns the URL whose `url_digest` this is."""
        return _owner(digest, self.workers) == self.slot

    def others(self) -> list[int]:
        return [s for s in range(self.workers) if s != self.slot]

    # -- running ------------------------------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.sock.fileno(), self._readable)

    def close(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self.sock.fileno())
        for task in list(self._tasks):
            task.cancel()
        self.sock.close()
        os.close(self._lock)

    def _readable(self) -> None:
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(self.sock, MAX_MESSAGE, 4)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("cluster socket: %s", exc)
                return
            try:
                message = json.loads(data)
            except ValueError:
                for fd in fds:
                    os.close(fd)
                continue
            if message.get("op") == "reply":
                waiter = self._waiting.pop(message.get("id", 0), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result((message, fds))
                else:
                    for fd in fds:
                        os.close(fd)
            else:
                self._spawn(self._handle(message, fds))

    async def _handle(self, message: Message, fds: list[int]) -> None:
        handler = self.handlers.get(str(message.get("op")))
        try:
            reply = await handler(message, fds) if handler is not None else None
        except Exception:
            log.exception("cluster message %s failed", message.get("op"))
            reply = {"error": "failed"}
        if "id" in message and "from" in message:
            reply = reply or {}
            fds_out = reply.pop("_fds", [])
            try:
                await self.send(
                    int(message["from"]), {"op": "reply", "id": message["id"]} | reply, fds_out
                )
            finally:
                close_fds(fds_out)

    def _spawn(self, coro: Awaitable[object]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- sending ------------------------------------------------------------------------------

    async def send(self, slot: int, message: Message, fds: list[int] | None = None) -> bool:
        """Send `message` (and duplicates of `fds`) to a slot; False if it is not there."""
        data = json.dumps(message | {"from": self.slot}).encode()
        address = str(self.path(slot))
        waited = 0.0
        while True:
            try:
                ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array("i", fds))] if fds else []
                self.sock.sendmsg([data], ancillary, 0, address)
                return True
            except (BlockingIOError, InterruptedError):
                if waited >= SEND_PATIENCE_S:
                    log.warning("worker %d is not reading its messages: one dropped", slot)
                    return False
                await asyncio.sleep(0.002)
                waited += 0.002
            except (FileNotFoundError, ConnectionRefusedError):
                return False

    async def ask(
        self, slot: int, message: Message, timeout_s: float
    ) -> tuple[Message, list[int]] | None:
        """A request to one slot and its reply (with any descriptors), or None."""
        ident = next(self._ids)
        waiter: asyncio.Future[tuple[Message, list[int]]] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiting[ident] = waiter
        try:
            if not await self.send(slot, message | {"id": ident}):
                return None
            async with asyncio.timeout(timeout_s):
                return await waiter
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(ident, None)

    async def gather(self, message: Message, timeout_s: float = 1.0) -> list[Message]:
        """Ask every other worker; the replies that came in time."""
        answers = await asyncio.gather(*(self.ask(s, message, timeout_s) for s in self.others()))
        replies = []
        for answer in answers:
            if answer is not None:
                reply, fds = answer
                for fd in fds:
                    os.close(fd)
                replies.append(reply)
        return replies

    def tell_all(self, message: Message) -> None:
        """Send to every other worker without waiting for anything."""
        for slot in self.others():
            self._spawn(self.send(slot, message))

    def tell(self, slot: int, message: Message) -> None:
        self._spawn(self.send(slot, message))


def _claim_slot(root: Path, workers: int) -> tuple[int, int]:
    """The first free slot: its lock file, held (flock) for as long as this process lives."""
    for slot in range(workers):
        fd = os.open(root / f"{slot}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return slot, fd
    raise RuntimeError(f"all {workers} worker slots in {root} are taken")


def close_fds(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
