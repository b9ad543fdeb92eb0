"""`mediacdn cache replay`: how would each eviction policy have done on these requests? Every
policy replays the trace at each capacity (a share of the footprint or a size); the offline
optimum is libcachesim's Belady (the better of Belady and BeladySize) on the same requests."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import libcachesim as lcs

from edge.eviction.policy import POLICIES, make_policy
from edge.pop.serve import parse_size
from edge.sim.logs import LoadedTrace
from edge.sim.trace import ReplayResult, TraceClock, replay, write_oracle_general

_SHARE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


@dataclass(frozen=True, slots=True)
class PolicyResult:
    policy: str
    miss_ratio: float
    byte_miss_ratio: float
    vs_lru: float  # byte miss ratio ÷ LRU's
    gap_closed: float | None  # share of the LRU → Belady byte-miss gap closed


@dataclass(frozen=True, slots=True)
class CapacityResult:
    label: str
    capacity_bytes: int
    belady_byte_miss: float | None
    policies: tuple[PolicyResult, ...]


def parse_capacities(text: str, footprint_bytes: int) -> list[tuple[str, int]]:
    """`1%,10%,20GiB` → [(label, bytes)]: shares of the footprint or sizes."""
    out = []
    for part in (p for p in text.split(",") if p.strip()):
        share = _SHARE.match(part)
        size = int(footprint_bytes * float(share[1]) / 100) if share else parse_size(part)
        if size <= 0:
            raise ValueError(f"capacity {part.strip()!r} is no bytes at all")
        out.append((part.strip(), size))
    if not out:
        raise ValueError("no capacity given")
    return out


def parse_policies(text: str) -> list[str]:
    names = list(POLICIES) if text.strip() == "all" else [p.strip() for p in text.split(",")]
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        raise ValueError(f"unknown policy {unknown[0]!r} (one of {', '.join(POLICIES)}, all)")
    if "lru" not in names:
        names.append("lru")  # every other one is compared with it
    return names


def _belady(oracle: Path, capacity: int) -> float:
    def run(cls: type) -> float:
        reader = lcs.TraceReader(str(oracle), lcs.TraceType.ORACLE_GENERAL_TRACE)
        return float(cls(capacity).process_trace(reader)[1])

    return min(run(lcs.Belady), run(lcs.BeladySize))


def replay_all(
    trace: LoadedTrace, capacities: Sequence[tuple[str, int]], policies: Sequence[str]
) -> list[CapacityResult]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        oracle = Path(tmp) / "trace.oracleGeneral"
        write_oracle_general(oracle, trace.requests)
        for label, capacity in capacities:
            results: dict[str, ReplayResult] = {}
            for name in policies:
                clock = TraceClock()
                policy = make_policy(name, capacity, clock=clock, locate=trace.locate)
                results[name] = replay(policy, trace.requests, clock)
            belady = _belady(oracle, capacity)
            lru = results["lru"].byte_miss_ratio
            rows = tuple(
                PolicyResult(
                    name,
                    r.miss_ratio,
                    r.byte_miss_ratio,
                    r.byte_miss_ratio / lru if lru else 1.0,
                    (lru - r.byte_miss_ratio) / (lru - belady) if lru > belady else None,
                )
                for name, r in results.items()
            )
            out.append(CapacityResult(label, capacity, belady, rows))
    return out


def report(trace: LoadedTrace, results: Sequence[CapacityResult]) -> str:
    footprint = trace.footprint_bytes
    lines = [
        f"{len(trace.requests)} requests ({trace.skipped} lines skipped), "
        f"{len({r.obj_id for r in trace.requests})} objects, footprint {footprint / 1e9:.3f} GB"
    ]
    for c in results:
        belady = "n/a" if c.belady_byte_miss is None else f"{c.belady_byte_miss:.4f}"
        lines.append(
            f"\ncapacity {c.label} ({c.capacity_bytes / 1e9:.3f} GB): Belady byte miss {belady}"
        )
        lines.append(
            f"  {'policy':<9} {'miss':>7} {'byte miss':>10} {'vs LRU':>7} {'gap closed':>11}"
        )
        for p in c.policies:
            gap = "-" if p.gap_closed is None else f"{p.gap_closed:.1%}"
            lines.append(
                f"  {p.policy:<9} {p.miss_ratio:7.4f} {p.byte_miss_ratio:10.4f} "
                f"{p.vs_lru:6.3f}x {gap:>11}"
            )
    return "\n".join(lines)
