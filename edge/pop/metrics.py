"""Edge counters, the JSON stats the router uses, and Prometheus text."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

WINDOW_S = 10


@dataclass
class EdgeMetrics:
    clock: Callable[[], float] = time.monotonic
    results: Counter[str] = field(default_factory=Counter)  # X-Cache value → count
    bytes_from_cache: int = 0
    bytes_from_upstream: int = 0
    bytes_sent: int = 0
    collapsed: int = 0
    spilled: int = 0  # requests sent to a neighbour while overloaded
    stalled: int = 0  # responses cut because the client took nothing for a while
    upstream_requests: int = 0
    upstream_errors: int = 0
    upstream_latency_s_sum: float = 0.0
    in_flight: int = 0
    # One [second, requests, bytes] bucket per second, the last WINDOW_S of them.
    _buckets: deque[list[int]] = field(default_factory=deque)

    def served(self, result: str, body_bytes: int) -> None:
        self.results[result] += 1
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
            "hit_ratio": hits / total if total else 0.0,
            "requests_per_s": rps,
            "bytes_per_s": bps,
            "in_flight": self.in_flight,
            "collapsed": self.collapsed,
            "spilled": self.spilled,
            "stalled": self.stalled,
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
        lines = ["# TYPE mediacdn_edge_responses_total counter"]
        results = stats["results"]
        assert isinstance(results, dict)
        for result, count in sorted(results.items()):
            lines.append(f'mediacdn_edge_responses_total{{cache="{result}"}} {count}')
        counters = {
            "mediacdn_edge_bytes_from_cache_total": stats["bytes_from_cache"],
            "mediacdn_edge_bytes_from_upstream_total": stats["bytes_from_upstream"],
            "mediacdn_edge_collapsed_requests_total": stats["collapsed"],
            "mediacdn_edge_spilled_requests_total": stats["spilled"],
            "mediacdn_edge_stalled_responses_total": stats["stalled"],
            "mediacdn_edge_upstream_requests_total": stats["upstream_requests"],
            "mediacdn_edge_upstream_errors_total": stats["upstream_errors"],
            "mediacdn_edge_upstream_latency_seconds_sum": stats["upstream_latency_s_sum"],
            "mediacdn_edge_evictions_total": stats["evictions"],
        }
        gauges = {
            "mediacdn_edge_in_flight": stats["in_flight"],
            "mediacdn_edge_cache_used_bytes": stats["cache_used_bytes"],
            "mediacdn_edge_cache_objects": stats["cache_objects"],
        }
        if "disk_used_bytes" in stats:
            counters["mediacdn_edge_disk_evictions_total"] = stats["disk_evictions"]
            gauges["mediacdn_edge_disk_used_bytes"] = stats["disk_used_bytes"]
            gauges["mediacdn_edge_disk_objects"] = stats["disk_objects"]
        for name, value in counters.items():
            lines += [f"# TYPE {name} counter", f"{name} {value}"]
        for name, value in gauges.items():
            lines += [f"# TYPE {name} gauge", f"{name} {value}"]
        return "\n".join(lines) + "\n"


LONGEST = frozenset({"disk_rebuild_s"})  # combined by the longest, not the sum


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def combine_stats(parts: list[dict[str, object]]) -> dict[str, object]:
    """The figures of a POP's workers as one POP's: counts and sizes add up; ratios are
    worked out again from the sums."""
    combined: dict[str, object] = dict(parts[0])
    results: Counter[str] = Counter()
    for part in parts:
        part_results = part.get("results")
        if isinstance(part_results, dict):
            results.update(part_results)
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
        "hit_ratio": hits / total_requests if total_requests else 0.0,
        "cache_fill": used / capacity if capacity else 0.0,
        "workers": len(parts),
        "worker_requests": [int(_number(p.get("requests"))) for p in parts],  # the balance
    }
    return combined
