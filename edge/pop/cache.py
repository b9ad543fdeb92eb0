"""The POP's shared cache: the response stores (memory, and disk when configured), fills in
flight (one upstream fetch per object however many clients ask meanwhile), and the RFC 9111
decisions between them.

Tiers: a lookup tries memory, then disk; a disk hit no larger than `memory_max` is copied into
memory. Every fill is spooled as it arrives (edge/pop/fill.py): with a disk tier into its spool
directory, and published there when complete; without one, into an unnamed scratch file. A
complete body the memory tier takes (one no larger than `memory_max`, an eighth of the tier,
that its eviction policy admits) is then read back into memory, once. A response in flight
holds the body it sends, evicted or not: were larger bodies kept in memory, readers that stall
would hold many of them beyond the tier's bound, whatever the eviction policy.

`lookup` answers what can be answered from the store at once (a fresh hit, or a stale one
while it is refreshed in the background); `validate` and `miss` hold a fill open while the
caller sends from it. `fetch` is the public way in for admin prefetch and prefetching."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from edge.eviction.policy import make_policy
from edge.pop.cluster import Cluster, owner_of
from edge.pop.config import EdgeConfig
from edge.pop.disk import DiskTier
from edge.pop.fill import Fill, FillFailed, Reader, ScratchSpools, Spool
from edge.pop.metrics import EdgeMetrics
from edge.pop.purges import PurgeLog
from edge.pop.store import Entry, ResponseStore
from edge.pop.upstream import Upstream, UpstreamFailed, forward_headers, via_after
from httprules.caching import (
    Verdict,
    age_clock,
    is_personal,
    is_storable,
    judge,
    merge_304,
    surrogate_control_for,
    vary_names,
    vary_values,
)
from httprules.headers import ascii_digits, with_capability

log = logging.getLogger("mediacdn.edge")
SEGMENT_NUMBER = re.compile(r"^(?P<stem>.*/)(?P<n>\d{1,9})(?P<ext>\.(?:m4s|ts|mp4|vtt))$")


# fills `fill` (for `url`, this request's headers, validating a stale entry) from another worker
Follower = Callable[["Fill", str, dict[str, str], "Entry | None"], Coroutine[Any, Any, None]]


@dataclass(slots=True)
class Answer:
    """What to send: a stored `entry` (HIT, STALE, REVALIDATED) or a `fill` read through
    `reader` (MISS). `now` is the clock reading the decision was made at, when known."""

    result: str
    entry: Entry | None = None
    fill: Fill | None = None
    reader: Reader | None = None
    verdict: Verdict | None = None
    now: float | None = None


def plainly_fresh(entry: Entry, headers: dict[str, str], now: float) -> float | None:
    """The common case of a hit, decided without building a verdict: the current age of a
    fresh entry that needs no validation, for a request that says nothing of caching; else
    None."""
    policy = entry.policy
    if policy.no_cache or "cache-control" in headers:
        return None
    age = entry.clock.current_age_s(now)
    return age if age < policy.lifetime_s else None


class EdgeCache:
    def __init__(
        self,
        config: EdgeConfig,
        metrics: EdgeMetrics,
        upstream: Upstream,
        *,
        clock: Callable[[], float] = time.time,
        cluster: Cluster | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.metrics = metrics
        self.upstream = upstream
        # several workers share the tiers' capacity: each has its part of the memory tier and
        # indexes (and evicts) the part of the disk tier it owns
        self.cluster = cluster
        workers = cluster.workers if cluster is not None else 1
        self.store: ResponseStore[Entry] = ResponseStore(
            make_policy(config.policy, config.capacity_bytes // workers, clock=clock)
        )
        self.disk: DiskTier | None = None
        if config.cache_dir is not None:
            self.disk = DiskTier(
                Path(config.cache_dir),
                config.disk_capacity_bytes // workers,
                config.policy,
                clock=clock,
                owns=cluster.owns_digest if cluster is not None else lambda digest: True,
                shared=cluster is not None,
                min_free_bytes=config.disk_min_free_bytes,
            )
        # the largest object the memory tier keeps (on a fill, or copied from a disk hit)
        self.memory_max = config.capacity_bytes // workers // 8
        self._scratch = ScratchSpools()
        self.fills: dict[str, Fill] = {}
        self.purges = PurgeLog()  # a fill purged while it came is not stored
        self.via = config.via
        self._background: set[asyncio.Task[None]] = set()
        # how a miss on a URL another worker owns is filled (edge/pop/sharing.py)
        self.follower: Follower | None = None
        # headers every fill adds (the POP's credential upstream)
        self.fill_headers: Callable[[], dict[str, str]] = dict

    # -- decisions ----------------------------------------------------------------------------

    def lookup(self, url: str, headers: dict[str, str]) -> Answer:
        """HIT or STALE (refreshing in the background) from the store; VALIDATE when a stored
        entry must be validated first; MISS when nothing usable is stored."""
        entry = self._find(url, headers)
        if entry is None:
            self.store.missed(url, headers)
            if self.disk is not None:
                self.disk.missed(url, headers)
            return Answer("MISS")
        now = self.clock()
        if plainly_fresh(entry, headers, now) is not None:
            return Answer("HIT", entry, now=now)
        policy = entry.policy
        verdict = judge(policy, entry.clock, now, headers.get("cache-control"))
        if verdict.fresh:
            return Answer("HIT", entry)
        if verdict.may_serve_stale_while_revalidating:
            self.spawn(self.drain(self.fetch(url, headers, entry)))
            return Answer("STALE", entry)
        return Answer("VALIDATE", entry, verdict=verdict)

    def fresh_hit(self, url: str, headers: dict[str, str]) -> tuple[Entry, float] | None:
        """A fresh hit in either tier decided at once (see `plainly_fresh`), and its current
        age; None for anything else."""
        entry = self._find(url, headers)
        if entry is None:
            return None
        age = plainly_fresh(entry, headers, self.clock())
        return None if age is None else (entry, age)

    def _find(self, url: str, headers: dict[str, str]) -> Entry | None:
        """The stored response for this request: from memory, else from disk."""
        entry = self.store.lookup(url, headers)
        return entry if entry is not None else self._from_disk(url, headers)

    def _from_disk(self, url: str, headers: dict[str, str]) -> Entry | None:
        """A disk hit, copied into memory when small enough."""
        if self.disk is None:
            return None
        entry = self.disk.lookup(url, headers)
        if entry is None:
            return None
        if not entry.via:  # the disk tier keeps the parsed entry: worked out once
            entry.via = via_after(entry.headers.get("via"), self.via).encode("latin-1")
        if self.cluster is not None and not self.cluster.owns(url):  # for the owner's policy
            touch = {"op": "touch", "url": url, "variant": list(entry.variant)}
            self.cluster.tell(owner_of(url, self.cluster.workers), touch)
        if entry.length <= self.memory_max and entry.path is not None:
            try:
                body = Path(entry.path).read_bytes()
            except OSError:
                return None  # evicted since its meta was read: a miss
            # the memory tier's own copy (the disk tier's parsed entry stays as it is)
            entry = dataclasses.replace(entry, body=body, path=None)
            self.store.put(entry, headers)
        return entry

    def stored(self, url: str, headers: dict[str, str]) -> bool:
        """Whether a response for this request is stored in either tier (on disk, whichever
        worker owns it)."""
        if self.store.lookup(url, headers) is not None:
            return True
        return self.disk is not None and self.disk.lookup(url, headers) is not None

    @contextlib.asynccontextmanager
    async def validate(
        self, url: str, headers: dict[str, str], stale: Answer
    ) -> AsyncIterator[Answer]:
        """A stored entry that must be validated (RFC 9111 §4.3): REVALIDATED on a 304, STALE
        if the upstream fails and stale-if-error allows it, else the new response (MISS)."""
        assert stale.entry is not None
        assert stale.verdict is not None
        fill, reader = await self.join(url, headers, stale.entry)
        with reader:
            await fill.headers_ready.wait()
            failed = fill.error is not None or fill.status >= 500
            if failed and stale.verdict.may_serve_stale_on_error:
                yield Answer("STALE", stale.entry)
            elif fill.status == 304 and fill.error is None:
                yield Answer("REVALIDATED", self._revalidated(url, headers, stale.entry, fill))
            else:
                yield Answer("MISS", fill=fill, reader=reader)

    @contextlib.asynccontextmanager
    async def miss(self, url: str, headers: dict[str, str]) -> AsyncIterator[Answer]:
        """Nothing stored: join or start the fill (and prefetch the next segments if asked)."""
        fill, reader = await self.join(url, headers, None)
        with reader:
            self._prefetch_after(url, headers)
            yield Answer("MISS", fill=fill, reader=reader)

    def _revalidated(self, url: str, headers: dict[str, str], stale: Entry, fill: Fill) -> Entry:
        """What a client whose request validated `stale` gets: the stored response as the 304
        updated it, or, when the 304 made it one user's (a cookie set, private), a copy for
        this client alone (the stored one did not take those fields: it stays stale)."""
        if is_personal(fill.headers):
            return dataclasses.replace(
                stale, headers=fill.headers, clock=age_clock(fill.headers, *fill.times)
            )
        return self.store.lookup(url, headers) or stale

    # -- fills --------------------------------------------------------------------------------

    async def join(
        self, url: str, headers: dict[str, str], stale: Entry | None
    ) -> tuple[Fill, Reader]:
        """The fill a client reads and its place in it: the fill in flight once its response
        is known to be one this client may have (RFC 9111 §4.1: the same variant, nobody's in
        particular; a 304 only if it validates), else a new one (validating `stale` if given).
        The reader is registered before the wait, so nothing of the body is let go meanwhile."""
        fill = self.fills.get(url)
        if fill is not None and not fill.closed:
            reader = fill.reader()
            fill.waiters += 1
            try:
                await fill.headers_ready.wait()
            except BaseException:
                fill.waiters -= 1
                reader.close()
                raise
            if self._can_share(fill, headers) and (stale is not None or fill.status != 304):
                self.metrics.collapsed += 1
                return fill, reader
            fill.waiters -= 1
            reader.close()
        fill = self._start(url, headers, stale)
        return fill, fill.reader()

    def fetch(self, url: str, headers: dict[str, str], stale: Entry | None = None) -> Fill:
        """A fill for `url` that no client reads from (refreshes, prefetches): the one in
        flight if there is one, else a new one."""
        fill = self.fills.get(url)
        if fill is not None and (not fill.headers_ready.is_set() or self._can_share(fill, headers)):
            return fill
        return self._start(url, headers, stale)

    def _start(self, url: str, headers: dict[str, str], stale: Entry | None) -> Fill:
        fill = Fill(headers, self.purges.count)
        if url not in self.fills:
            self.fills[url] = fill
        if self.cluster is not None and not self.cluster.owns(url):
            assert self.follower is not None, "a cache with a cluster needs edge/pop/sharing.py"
            self.spawn(self.follower(fill, url, headers, stale))  # the owner fetches it
        else:
            self.spawn(self.run_fill(fill, url, headers, stale))
        return fill

    @staticmethod
    def _can_share(fill: Fill, headers: dict[str, str]) -> bool:
        """Once its headers are in: may this client be sent the fill's response? Only one
        that is nobody's in particular (no Set-Cookie, not private) for the same variant (the
        same values of the headers it varies on), or the failure to get any response."""
        if fill.closed:  # ended: its body is no longer there to read
            return False
        if fill.error is not None and not fill.received and fill.status in (0, 502, 504):
            return True
        if is_personal(fill.headers):
            return False
        names = vary_names(fill.headers)
        return vary_values(names, headers) == vary_values(names, fill.request_headers)

    async def run_fill(
        self,
        fill: Fill,
        url: str,
        headers: dict[str, str],
        stale: Entry | None,
        *,
        store: bool = True,
    ) -> None:
        """Fetch `url` from upstream into `fill` (validating `stale` if given); store what may
        be stored, unless not to (`store`)."""
        forward = forward_headers(headers, self.via, fill=True) | self.fill_headers()
        forward = with_capability(forward, self.config.name)
        if stale is not None:  # §4.3.1: validate with the stored validators
            if "etag" in stale.headers:
                forward["if-none-match"] = stale.headers["etag"]
            if "last-modified" in stale.headers:
                forward["if-modified-since"] = stale.headers["last-modified"]
        request_time = self.clock()
        started = time.perf_counter()
        self.metrics.upstream_requests += 1
        response: httpx.Response | None = None
        try:
            try:
                response = await self.upstream.open("GET", url, forward)
            except UpstreamFailed as exc:
                fill.status = exc.status
                raise FillFailed(str(exc)) from None
            self.metrics.upstream_latency_s_sum += time.perf_counter() - started
            response_time = self.clock()
            out = surrogate_control_for(self.upstream.response_headers(response), self.config.name)
            if response.status_code == 304 and stale is not None:
                merged = merge_304(stale.headers, out)
                fill.times = (request_time, response_time)
                if not is_personal(merged):  # else the 304 is the asking client's alone
                    stale.refresh(merged, age_clock(merged, request_time, response_time))
                    stale.via = via_after(merged.get("via"), self.via).encode("latin-1")
                    if self.disk is not None:
                        self.disk.refresh(stale)
                fill.start(304, merged, True, None)
                fill.finish()
                return
            times = (request_time, response_time)
            fill.times = times
            await self._receive(fill, url, headers, stale, response, out, times, store)
        except FillFailed as exc:
            self.metrics.upstream_errors += 1
            fill.fail(str(exc))
        except httpx.HTTPError as exc:  # the body broke off mid-way
            self.metrics.upstream_errors += 1
            fill.fail(f"upstream body broken: {exc}")
        except OSError as exc:  # the spool's filesystem full or failing: this fill fails
            log.warning("fill of %s: cache disk: %s", url, exc.strerror or exc)
            fill.fail(f"cache disk: {exc.strerror or exc}")
        except BaseException as exc:
            fill.fail(f"fill cancelled: {type(exc).__name__}")
            raise
        finally:
            if self.fills.get(url) is fill:
                del self.fills[url]
            if response is not None:
                await response.aclose()

    async def _receive(
        self,
        fill: Fill,
        url: str,
        headers: dict[str, str],
        stale: Entry | None,
        response: httpx.Response,
        out: dict[str, str],
        times: tuple[float, float],
        store: bool,
    ) -> None:
        """Stream the body into the fill; store it if it may be and it fits. `times`: when
        the request went and the response came (for its age, RFC 9111 §4.2.3)."""
        storable = is_storable("GET", response.status_code, headers, out)
        declared = out.get("content-length")
        length = int(declared) if declared is not None and ascii_digits(declared) else None
        fill.start(response.status_code, out, storable, self._spool(length))
        async for chunk in response.aiter_raw():
            fill.append(chunk)
            self.metrics.bytes_from_upstream += len(chunk)
            if length is not None and fill.received > length:
                break
        if length is not None and length != fill.received:
            raise FillFailed(f"upstream body ended at {fill.received} of {declared} bytes")
        if storable and store:
            entry = Entry(url, response.status_code, out, b"", age_clock(out, *times))
            entry.via = via_after(out.get("via"), self.via).encode("latin-1")
            self.keep(entry, fill, headers)
        elif stale is not None and response.status_code < 500:
            self.purge(url)
        fill.finish()

    def _spool(self, length: int | None) -> Spool:
        """Where a fill's body (of `length`, if known) goes while it arrives: the disk tier,
        unless its filesystem has no room for it even after shedding (then not kept there)."""
        if self.disk is not None and self.disk.make_room(length or 0):
            return self.disk.spool()
        return self._scratch.spool()

    def keep(
        self, entry: Entry, fill: Fill, headers: dict[str, str], *, publish: bool = True
    ) -> None:
        """Store a complete fill: on disk when there is a disk tier (unless it is another
        worker's, which it published), and in memory if the memory tier takes it (no larger
        than `memory_max`, and admitted by its policy)."""
        if self.purges.purged_since(entry.url, fill.purges_before):
            return  # invalidated while it came: the next request fetches it afresh
        if publish and self.disk is not None and fill.spool is not None and fill.spool.named:
            self.disk.publish(fill.spool, entry, headers)
        if fill.received <= self.memory_max:
            entry.path, entry.length = None, fill.received
            if self.store.put(entry, headers):  # room is made before the body is read in
                entry.body = fill.body

    def _prefetch_after(self, url: str, headers: dict[str, str]) -> None:
        """On a segment miss, fetch the next K segments of the same rendition (off by default)."""
        k = self.config.prefetch_segments
        match = SEGMENT_NUMBER.match(url) if k > 0 else None
        if match is None:
            return
        number = int(match["n"])
        for n in range(number + 1, number + 1 + k):
            next_url = f"{match['stem']}{n}{match['ext']}"
            if next_url not in self.fills and not self.stored(next_url, headers):
                self.spawn(self.drain(self.fetch(next_url, headers, None)))

    @staticmethod
    async def drain(fill: Fill) -> None:
        with contextlib.suppress(FillFailed):
            await fill.wait_complete()

    # -- changes from outside ---------------------------------------------------------------

    def push(self, url: str, stored_headers: dict[str, str], body: bytes) -> bool:
        """An object pushed by the operator: stored as a 200 with the given headers (the
        other workers' copies are purged first: see `Edge`'s admin)."""
        now = self.clock()
        entry = Entry(url, 200, stored_headers, body, age_clock(stored_headers, now, now))
        entry.via = self.via.encode("latin-1")
        self.purge(url)
        if self.disk is None:
            return len(body) <= self.memory_max and self.store.put(entry, {})
        on_disk = self.disk.store(body, Entry(url, 200, stored_headers, b"", entry.clock))
        if self.cluster is not None and not self.cluster.owns(url):
            owner = owner_of(url, self.cluster.workers)
            self.cluster.tell(owner, {"op": "adopt", "url": url, "vary": [], "variant": []})
        return self.store.put(entry, {}) if len(body) <= self.memory_max else on_disk

    def purge(self, url: str) -> int:
        """Forget every stored variant of `url` in both tiers; how many were in memory or on
        disk (one on both counts once)."""
        self.purges.record(url, prefix=False)
        purged = self.store.purge(url)
        return max(purged, self.disk.purge(url)) if self.disk is not None else purged

    def purge_prefix(self, prefix: str) -> int:
        self.purges.record(prefix, prefix=True)
        purged = self.store.purge_prefix(prefix)
        if self.disk is not None:
            purged = max(purged, self.disk.purge_prefix(prefix))
        return purged

    async def invalidate(self, url: str, response_headers: dict[str, str]) -> None:
        """RFC 9111 §4.4: a successful unsafe request invalidates its URL, and the URLs in
        the response's Location and Content-Location when they are on this POP's host
        (in every worker's tiers: it returns when the other workers have purged them too, or
        after a second)."""
        urls = [url]
        for name in ("location", "content-location"):
            target = response_headers.get(name, "")
            if target.startswith("/") and not target.startswith("//"):
                urls.append(target)
        for target in urls:
            self.purge(target)
        if self.cluster is not None:
            await self.cluster.gather({"op": "purge", "urls": urls})

    # -- background work ----------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def finish_fills(self, timeout_s: float) -> None:
        """Let the fills in flight end (for up to `timeout_s`): a stopping worker's last
        clients may be done while another worker's clients still read a fill it owns."""
        running = [f for f in self.fills.values() if not f.done and f.error is None]
        if running:
            ends = [asyncio.ensure_future(fill.wait_ended()) for fill in running]
            try:
                await asyncio.wait(ends, timeout=timeout_s)
            finally:
                for end in ends:
                    end.cancel()

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await self.upstream.aclose()
        self._scratch.cleanup()
