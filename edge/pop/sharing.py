"""One cache across the workers of a POP (the messages travel over edge/pop/cluster.py).

A worker that misses on a URL another worker owns does not fetch it: it asks the owner
(`fill`), which joins or starts the fill as if for a client of its own and answers, once the
response's head is in, with the head and a descriptor of its spool file (or, when it has stored
a fresh response since the asker looked, with that file, as a fill already ended). The asking
worker serves its clients from that file as it grows (a `Fill` like any other, so its own
clients collapse onto it) until the owner says the fill has ended (`fill-end`). The owner
stores the response; the asker keeps a copy in its memory tier if small. Disk hits on files
another worker owns are reported to the owner (`touch`) so its eviction policy sees them;
purges go to every worker (`purge`), since each has a memory tier; a response a worker
publishes for a URL it does not own (a push) is indexed by the owner (`adopt`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from collections import OrderedDict
from functools import partial

from edge.pop.cache import EdgeCache, Follower, plainly_fresh
from edge.pop.cluster import Message, close_fds, owner_of
from edge.pop.fill import Fill, FillFailed, Spool
from edge.pop.store import Entry
from edge.pop.upstream import via_after
from httprules.caching import age_clock, is_personal, merge_304

POLL_S = 0.002  # how often a borrowed spool is checked for growth
ENDED_KEPT = 10_000  # how many ended fills' outcomes an owner remembers for late askers


def share(cache: EdgeCache) -> Follower:
    """Make `cache` one of its POP's workers: serve the other workers' requests, and the
    follower its misses on URLs other workers own go through."""
    Lending(cache)
    return partial(follow, cache)


async def follow(
    cache: EdgeCache, fill: Fill, url: str, headers: dict[str, str], stale: Entry | None
) -> None:
    """Fill `fill` from the worker that owns `url`. If the owner does not answer (it is
    restarting), fetch from upstream here and store nothing on disk."""
    assert cache.cluster is not None
    owner = owner_of(url, cache.cluster.workers)
    request = {"op": "fill", "url": url, "headers": headers, "validate": stale is not None}
    try:
        answer = await cache.cluster.ask(owner, request, cache.config.upstream_timeout_s + 2)
        if answer is None:
            await cache.run_fill(fill, url, headers, stale, store=False)
            return
        head, fds = answer
        spool = Spool.borrowed(fds[0]) if fds else None
        close_fds(fds[1:])
        await _follow(cache, fill, owner, url, headers, stale, head, spool)
    except FillFailed as exc:
        fill.fail(str(exc))
    except BaseException as exc:
        fill.fail(f"fill cancelled: {type(exc).__name__}")
        raise
    finally:
        if cache.fills.get(url) is fill:
            del cache.fills[url]
        if fill.spool is not None and not fill.done and fill.error is None:
            fill.fail("the owning worker's fill was abandoned")


async def _follow(
    cache: EdgeCache,
    fill: Fill,
    owner: int,
    url: str,
    headers: dict[str, str],
    stale: Entry | None,
    head: Message,
    spool: Spool | None,
) -> None:
    assert cache.cluster is not None
    if "ticket" not in head:  # the owner could not lend a fill
        raise FillFailed(f"the owning worker failed: {head.get('error')}")
    status, out = int(head.get("status") or 0), dict(head.get("headers") or {})
    fill.times = (float(head["times"][0]), float(head["times"][1]))
    if head.get("error") is not None and status in (0, 502, 504):
        fill.status = status or 502
        raise FillFailed(str(head["error"]))
    if status == 304 and stale is not None:  # the owner validated it
        merged = merge_304(stale.headers, out)
        if not is_personal(merged):  # the owner kept it (else the 304 is this client's alone)
            stored = cache.disk.lookup(url, headers) if cache.disk is not None else None
            merged = stored.headers if stored is not None else merged
            stale.refresh(merged, stored.clock if stored else age_clock(merged, *fill.times))
            stale.via = via_after(merged.get("via"), cache.via).encode("latin-1")
        fill.start(304, merged, True, None)
        fill.finish()
        return
    fill.start(status, out, bool(head.get("storable")), spool)
    ended = asyncio.ensure_future(
        cache.cluster.ask(owner, {"op": "fill-end", "ticket": head["ticket"]}, 24 * 3600)
    )
    try:
        last_growth = time.monotonic()
        while not ended.done():
            size = os.fstat(spool.fd).st_size if spool is not None else 0
            if size > fill.received:
                fill.grew(size)
                last_growth = time.monotonic()
            elif time.monotonic() - last_growth > cache.config.upstream_timeout_s + 5:
                raise FillFailed("the owning worker's fill stopped")
            await asyncio.wait({ended}, timeout=POLL_S)
    finally:
        if not ended.done():
            ended.cancel()
    result = ended.result()
    if result is None:
        raise FillFailed("the owning worker went away during the fill")
    end, fds = result
    close_fds(fds)
    if spool is not None:
        fill.grew(int(end.get("received") or 0))
    if end.get("error") is not None:
        raise FillFailed(str(end["error"]))
    if fill.storable:
        entry = Entry(url, status, out, b"", age_clock(out, *fill.times))
        entry.via = via_after(out.get("via"), cache.via).encode("latin-1")
        cache.keep(entry, fill, headers, publish=False)
    fill.finish()


class Lending:
    """The owner's side: fills lent to other workers, and the other messages it serves."""

    def __init__(self, cache: EdgeCache) -> None:
        assert cache.cluster is not None
        self.cache = cache
        self._tickets = itertools.count(1)
        self._in_flight: dict[int, Fill] = {}
        self._ended: OrderedDict[int, tuple[int, str | None]] = OrderedDict()
        cache.cluster.handlers |= {
            "fill": self._lend,
            "fill-end": self._fill_end,
            "touch": self._touch,
            "adopt": self._adopt,
            "purge": self._purge,
        }

    async def _lend(self, message: Message, fds: list[int]) -> Message:
        close_fds(fds)
        cache = self.cache
        url, headers = str(message["url"]), {str(k): str(v) for k, v in message["headers"].items()}
        stale = None
        if message.get("validate") and cache.disk is not None:
            stale = cache.disk.lookup(url, headers)
        elif (stored := self._stored(url, headers)) is not None:
            return stored
        # the fill in flight if its response may go to the asker's client, as for a client
        # of this worker's own (the same variant, nobody's in particular), else a new one
        fill, reader = await cache.join(url, headers, stale)
        with reader:
            await fill.headers_ready.wait()
            ticket = next(self._tickets)
            self._in_flight[ticket] = fill
            cache.spawn(self._watch(ticket, fill))
            fd = os.dup(fill.spool.fd) if fill.spool is not None and not fill.closed else None
            return _lent(
                ticket, fill.status, fill.headers, fill.storable, fill.error, fill.times, fd
            )

    def _stored(self, url: str, headers: dict[str, str]) -> Message | None:
        """A fresh response this worker has stored on disk, lent as a fill that has ended:
        the asker looked on disk before this worker stored it, and the fill it would have
        joined is over (without this, a second fetch upstream)."""
        cache = self.cache
        entry = cache.disk.lookup(url, headers) if cache.disk is not None else None
        if entry is None or entry.path is None:
            return None
        if plainly_fresh(entry, headers, cache.clock()) is None:
            return None
        try:
            fd = os.open(entry.path, os.O_RDONLY)
        except OSError:  # evicted since its meta was read
            return None
        ticket = next(self._tickets)
        self._ended[ticket] = (entry.length, None)
        times = (entry.clock.request_time, entry.clock.response_time)
        return _lent(ticket, entry.status, entry.headers, True, None, times, fd)

    async def _watch(self, ticket: int, fill: Fill) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await fill.wait_ended()
        self._ended[ticket] = (fill.received, fill.error)
        self._in_flight.pop(ticket, None)
        while len(self._ended) > ENDED_KEPT:
            self._ended.popitem(last=False)

    async def _fill_end(self, message: Message, fds: list[int]) -> Message:
        close_fds(fds)
        ticket = int(message["ticket"])
        fill = self._in_flight.get(ticket)
        if fill is not None:
            await fill.wait_ended()
            outcome = (fill.received, fill.error)
        else:
            outcome = self._ended.get(ticket, (0, "no such fill"))
        return {"received": outcome[0], "error": outcome[1]}

    async def _touch(self, message: Message, fds: list[int]) -> None:
        close_fds(fds)
        if self.cache.disk is not None:
            self.cache.disk.touch(str(message["url"]), tuple(message["variant"]))

    async def _adopt(self, message: Message, fds: list[int]) -> None:
        close_fds(fds)
        if self.cache.disk is not None:
            vary, variant = tuple(message["vary"]), tuple(message["variant"])
            self.cache.disk.adopt(str(message["url"]), vary, variant)

    async def _purge(self, message: Message, fds: list[int]) -> Message:
        close_fds(fds)
        purged = sum(self.cache.purge(str(u)) for u in message.get("urls", ()))
        purged += sum(self.cache.purge_prefix(str(p)) for p in message.get("prefixes", ()))
        return {"purged": purged}


def _lent(
    ticket: int,
    status: int,
    headers: dict[str, str],
    storable: bool,
    error: str | None,
    times: tuple[float, float],
    fd: int | None,
) -> Message:
    """The answer to `fill`: the response's head, the ticket to ask for its end with, and the
    descriptor of the file its body is in (none for a response without one)."""
    reply: Message = {
        "status": status,
        "headers": headers,
        "storable": storable,
        "error": error,
        "ticket": ticket,
        "times": list(times),
    }
    if fd is not None:
        reply["_fds"] = [fd]
    return reply
