"""Edge counters, the JSON stats the router uses, and Prometheus text. A POP with several
workers adds their stats up (`combine_stats`): counts, latency histograms and process
figures alike."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from httprules.prometheus import (
    Family,
    Histogram,
    combine_process_figures,
    process_families,
    process_figures,
    render,
)

WINDOW_S = 10


@dataclass
class EdgeMetrics:
    clock: Callable[[], float] = time.monotonic
    results: Counter[str] = field(default_factory=Counter)  # X-Cache value → count
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)  # (X-Cache, status)
    latency: Histogram = field(default_factory=Histogram)  # arrival to last byte, seconds
    bytes_from_cache: int = 0
    bytes_from_upstream: int = 0
    bytes_sent: int = 0
    collapsed: int = 0
    spilled: int = 0  # requests sent to a neighbour while overloaded
    stalled: int = 0  # responses cut because the client took nothing for a while
    answered_at_once: int = 0  # fresh memory hits the listener's shortcut answered
    upstream_requests: int = 0
    upstream_errors: int = 0
    upstream_latency_s_sum: float = 0.0
    in_flight: int = 0
    # One [second, requests, bytes] bucket per second, the last WINDOW_S of them.
    _buckets: deque[list[int]] = field(default_factory=deque)

    def count_stalled(self) -> None:
        self.stalled += 1

    def served(self, result: str, status: int, body_bytes: int) -> None:
        self.results[result] += 1
        self.statuses[(result, status)] += 1  # named in stats(), off the hit path
        self.bytes_sent += body_bytes
        if result in ("HIT", "STALE", "REVALIDATED"):
            self.bytes_from_cache += body_bytes
        second = int(self.clock())
        buckets = self._buckets
        if buckets and buckets[-1][0] == second:
            bucket = buckets[-1]
            bucket[1] += 1
            bucket[2] += body_bytes
        else:
            buckets.append([second, 1, body_bytes])
            while buckets[0][0] <= second - WINDOW_S:
                buckets.popleft()

    def rates(self) -> tuple[float, float]:
        """(requests/s, bytes/s) over the last WINDOW_S seconds."""
        oldest = int(self.clock()) - WINDOW_S
        recent = [b for b in self._buckets if b[0] > oldest]
        return sum(b[1] for b in recent) / WINDOW_S, sum(b[2] for b in recent) / WINDOW_S

    def stats(
        self, *, name: str, used_bytes: int, capacity_bytes: int, objects: int, evictions: int
    ) -> dict[str, object]:
        rps, bps = self.rates()
        total = sum(self.results.values())
        hits = self.results["HIT"] + self.results["STALE"] + self.results["REVALIDATED"]
        return {
            "name": name,
            "requests": total,
            "results": dict(self.results),
            "statuses": {f"{r} {s}": n for (r, s), n in self.statuses.items()},
            "latency": self.latency.snapshot(),
            "process": process_figures(),
            "hit_ratio": hits / total if total else 0.0,
            "requests_per_s": rps,
            "bytes_per_s": bps,
            "in_flight": self.in_flight,
            "collapsed": self.collapsed,
            "spilled": self.spilled,
            "stalled": self.stalled,
            "answered_at_once": self.answered_at_once,
            "upstream_requests": self.upstream_requests,
            "upstream_errors": self.upstream_errors,
            "upstream_latency_s_sum": self.upstream_latency_s_sum,
            "bytes_from_cache": self.bytes_from_cache,
            "bytes_from_upstream": self.bytes_from_upstream,
            "cache_used_bytes": used_bytes,
            "cache_capacity_bytes": capacity_bytes,
            "cache_fill": used_bytes / capacity_bytes if capacity_bytes else 0.0,
            "cache_objects": objects,
            "evictions": evictions,
        }

    @staticmethod
    def prometheus(stats: dict[str, object]) -> str:
        """The text exposition of `stats` (one worker's, or `combine_stats` of several)."""
        responses = Family(
            "mediacdn_edge_responses_total", "counter", "Responses, by cache result and status."
        )
        statuses = stats.get("statuses")
        for key, count in sorted(statuses.items() if isinstance(statuses, dict) else ()):
            result, _, status = str(key).partition(" ")
            responses.add(count, cache=result, status=status)
        families = [responses]
        for key, (name, kind, help) in STAT_FAMILIES.items():
            if key in stats:
                families.append(
                    Family(f"mediacdn_edge_{name}", kind, help).add(_number(stats[key]))
                )
        snapshot = stats.get("latency")
        families.append(
            Histogram().family(
                "mediacdn_edge_request_duration_seconds",
                "Time from a request's arrival to its response's last byte.",
                (),
                snapshot if isinstance(snapshot, dict) else {},
            )
        )
        process = stats.get("process")
        if isinstance(process, dict):
            families += process_families(process)
        return render(families)


STAT_FAMILIES = {  # stats key → (metric name, type, help)
    "bytes_from_cache": ("cache_sent_bytes_total", "counter", "Body bytes sent from the cache."),
    "bytes_from_upstream": (
        "upstream_received_bytes_total",
        "counter",
        "Body bytes received from upstream.",
    ),
    "collapsed": ("collapsed_requests_total", "counter", "Requests that joined a fill."),
    "spilled": ("spilled_requests_total", "counter", "Requests sent to a neighbour POP."),
    "stalled": ("stalled_responses_total", "counter", "Responses cut: the client took nothing."),
    "answered_at_once": (
        "hits_answered_at_once_total",
        "counter",
        "Fresh memory hits answered by the listener's shortcut, without ASGI.",
    ),
    "upstream_requests": ("upstream_requests_total", "counter", "Requests sent upstream."),
    "upstream_errors": ("upstream_errors_total", "counter", "Upstream requests that failed."),
    "upstream_latency_s_sum": (
        "upstream_wait_seconds_total",
        "counter",
        "Time spent waiting for upstream response heads, in all.",
    ),
    "evictions": ("evictions_total", "counter", "Objects evicted from the memory tier."),
    "disk_evictions": ("disk_evictions_total", "counter", "Objects evicted from the disk tier."),
    "disk_shed_bytes": (
        "disk_shed_bytes_total",
        "counter",
        "Bytes the disk tier shed to keep its filesystem's minimum free space.",
    ),
    "in_flight": ("in_flight_requests", "gauge", "Requests being answered."),
    "cache_used_bytes": ("cache_used_bytes", "gauge", "Bytes held by the memory tier."),
    "cache_capacity_bytes": ("cache_capacity_bytes", "gauge", "The memory tier's capacity."),
    "cache_objects": ("cache_objects", "gauge", "Objects in the memory tier."),
    "disk_used_bytes": ("disk_used_bytes", "gauge", "Bytes held by the disk tier."),
    "disk_capacity_bytes": ("disk_capacity_bytes", "gauge", "The disk tier's capacity."),
    "disk_objects": ("disk_objects", "gauge", "Objects in the disk tier."),
    "workers": ("workers", "gauge", "Worker processes sharing this POP's cache."),
}
LONGEST = frozenset({"disk_rebuild_s"})  # combined by the longest, not the sum


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def combine_stats(parts: list[dict[str, object]]) -> dict[str, object]:
    """The figures of a POP's workers as one POP's: counts and sizes add up; ratios are
    worked out again from the sums."""
    combined: dict[str, object] = dict(parts[0])
    results: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for part in parts:
        for key, into in (("results", results), ("statuses", statuses)):
            counts = part.get(key)
            if isinstance(counts, dict):
                into.update(counts)
    for key, value in parts[0].items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            values = [_number(p.get(key)) for p in parts]
            total = max(values) if key in LONGEST else sum(values)
            combined[key] = int(total) if isinstance(value, int) else total
    total_requests = sum(results.values())
    hits = results["HIT"] + results["STALE"] + results["REVALIDATED"]
    capacity = combined.get("cache_capacity_bytes") or 0
    assert isinstance(capacity, int | float)
    used = combined.get("cache_used_bytes") or 0
    assert isinstance(used, int | float)
    combined |= {
        "results": dict(results),
        "statuses": dict(statuses),
        "latency": Histogram.merge(p.get("latency") for p in parts),
        "process": combine_process_figures(
            figures for p in parts if isinstance(figures := p.get("process"), dict)
        ),
        "hit_ratio": hits / total_requests if total_requests else 0.0,
        "cache_fill": used / capacity if capacity else 0.0,
        "workers": len(parts),
        "worker_requests": [int(_number(p.get("requests"))) for p in parts],  # the balance
    }
    return combined
