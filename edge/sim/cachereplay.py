"""`mediacdn cache replay`: how would each eviction policy have done on these requests? Every
policy replays the trace at each capacity (a share of the footprint or a size); the offline
optimum is libcachesim's Belady (the better of Belady and BeladySize) on the same requests."""

from __future__ import annotations

import dataclasses
import functools
import gc
import json
import multiprocessing
import multiprocessing.pool
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import libcachesim as lcs

from edge.eviction.policy import POLICIES, make_policy
from edge.pop.serve import parse_size
from edge.sim.logs import LoadedTrace
from edge.sim.trace import UINT32_MAX, TraceClock, replay

_SHARE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_FRACTION = re.compile(r"^\s*(0?\.\d*[1-9]\d*)\s*$")  # 0.01, .5: above 0 and below 1
# below this LRU-Belady byte-miss difference the share of the gap closed is not shown (a
# tiny trace, or a cache that holds nearly everything: any difference is a large share of it)
MIN_GAP = 0.005


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
    too_large: int = 0  # objects larger than the cache: misses every time, for every policy
    belady_size: bool = True  # Belady is the lower of Belady and BeladySize (False: Belady's)


LARGEST_FOOTPRINT = 1 << 62  # to check a capacity's spelling before the footprint is known


def parse_capacities(text: str, footprint_bytes: int) -> list[tuple[str, int]]:
    """`1%,10%,20GiB` → [(label, bytes)]: shares of the footprint or sizes; a bare number
    between 0 and 1 is a share too, as libCacheSim's cachesim reads one (0.01: 1%). A
    capacity written twice is one."""
    out = []
    for part in dict.fromkeys(p.strip() for p in text.split(",") if p.strip()):
        share = _SHARE.match(part)
        if share is None and part.endswith("%"):  # meant as a share, written wrongly
            raise ValueError(f"--capacity: {part!r} is not a share (e.g. 1%, 12.5%)")
        fraction = _FRACTION.match(part)
        if share:
            size = int(footprint_bytes * float(share[1]) / 100)
        elif fraction:
            size = int(footprint_bytes * float(fraction[1]))
        else:
            size = parse_size(part, "--capacity")
        if size <= 0:  # (a share of a footprint too small to hold a byte of it says so)
            whole = size == 0 and bool(share or fraction) and footprint_bytes < LARGEST_FOOTPRINT
            of = f" of a footprint of {counted(footprint_bytes, 'byte')}" if whole else ""
            raise ValueError(f"capacity {part!r}{of} is no bytes at all")
        out.append((part, size))
    if not out:
        raise ValueError("no capacity given")
    return out


def parse_policies(text: str) -> list[str]:
    """The policies named in `text` (comma-separated, or "all"), case and dashes aside as
    libCacheSim's cachesim takes them (`LRU`, `S3-FIFO`, `S3FIFO`)."""
    if text.strip().lower() == "all":
        return list(POLICIES)
    canonical = {_bare(name): name for name in POLICIES}
    # (Belady is every capacity's bound, always replayed: naming it, as libCacheSim's users
    # do, asks for what is printed anyway)
    said = [p.strip() for p in text.split(",") if _bare(p.strip()) not in _BELADY]
    unknown = [n for n in said if _bare(n) not in canonical]
    if unknown:
        raise ValueError(
            f"unknown policy {unknown[0]!r} (one of {', '.join(POLICIES)}, all; Belady is "
            "always replayed)"
        )
    names = list(dict.fromkeys(canonical[_bare(n)] for n in said))
    if "lru" not in names:
        names.append("lru")  # every other one is compared with it
    return names


_BELADY = frozenset({"belady", "beladysize", "optimal", "opt"})


def _bare(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


@contextmanager
def c_stderr_quiet() -> Iterator[None]:
    """libcachesim's C code warns on stderr, in its own colours, of every object larger than
    the cache: the report says so itself (`CapacityResult.too_large`)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


# BeladySize, run in a child process: the trace file and the capacity in its arguments, its
# byte miss ratio on its stdout
_BELADY_SIZE = (
    "import sys, libcachesim as lcs; "
    "reader = lcs.TraceReader(sys.argv[1], lcs.TraceType.ORACLE_GENERAL_TRACE); "
    "print(lcs.BeladySize(int(sys.argv[2])).process_trace(reader)[1])"
)
# BeladySize is given up after this long a request (it takes about 6.5 µs on 3 M requests of
# 96 k objects, Belady 0.8), plus a grace for the child's start
BELADY_SIZE_PER_REQUEST_S = 50e-6
BELADY_SIZE_GRACE_S = 10.0
# and at once when it says, more often than it has requests, that it found nothing to evict:
# the warning its sampler gives on each turn of the loop it does not leave
_NOTHING_TO_EVICT = b"obj_to_evict is NULL"
_LOOPING_WARNINGS = 10_000  # at the least


def _belady(oracle: Path, capacity: int, requests: int) -> tuple[float, bool]:
    """The lower byte miss ratio of libcachesim's Belady (furthest next use) and BeladySize
    (furthest next use times size, among sampled objects), and whether BeladySize finished.
    BeladySize runs beside Belady, in a child process, and is given up when it runs far longer
    than it takes on a trace that long: its sampler can loop for ever (seen on small traces
    whose cache holds a few objects)."""
    with subprocess.Popen(
        [sys.executable, "-c", _BELADY_SIZE, str(oracle), str(capacity)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as child:
        started = time.monotonic()
        watcher = threading.Thread(
            target=_stop_if_looping, args=(child, max(_LOOPING_WARNINGS, requests)), daemon=True
        )
        watcher.start()
        try:
            reader = lcs.TraceReader(str(oracle), lcs.TraceType.ORACLE_GENERAL_TRACE)
            with c_stderr_quiet():
                belady = float(lcs.Belady(capacity).process_trace(reader)[1])
            limit = BELADY_SIZE_GRACE_S + BELADY_SIZE_PER_REQUEST_S * requests
            child.wait(timeout=max(limit - (time.monotonic() - started), 0.0))
            out = child.stdout.read() if child.stdout else b""
            sized = float(out) if child.returncode == 0 else None
        except (subprocess.TimeoutExpired, ValueError):
            sized = None
        finally:
            if child.poll() is None:
                child.kill()
            watcher.join()
    return (belady, False) if sized is None else (min(belady, sized), True)


def _stop_if_looping(child: subprocess.Popen[bytes], most: int) -> None:
    """Read BeladySize's warnings as it gives them (none is kept), and kill it when it has
    said more than `most` times that it found nothing to evict."""
    said = 0
    assert child.stderr is not None
    for line in child.stderr:
        said += line.count(_NOTHING_TO_EVICT)
        if said > most:
            child.kill()
            return


def _gap_closed(lru: float, ours: float, belady: float) -> float | None:
    """The share of the LRU→Belady byte-miss gap that `ours` closes; None where the gap is
    too narrow for a share of it to mean anything."""
    return (lru - ours) / (lru - belady) if lru - belady >= MIN_GAP else None


def size_text(n: float) -> str:
    """A byte count as people read one: 512 B, 10.0 MB, 1.23 GB."""
    if abs(n) < 1000:
        return f"{n:.0f} B"
    for unit in ("KB", "MB", "GB"):
        n /= 1000
        if abs(n) < 1000:
            return f"{n:.3g} {unit}"
    return f"{n / 1000:.3g} TB"


# The trace a worker replays: set before the workers are forked, so that each one reads the
# parent's copy of it (its columns are never written: their pages stay shared) and nothing of
# it is sent through a pipe.
_FORKED: LoadedTrace | None = None

Job = tuple[str, int, str]  # a capacity's label, its bytes, and a policy's name or BELADY
BELADY = ""


def _run(job: Job, oracle: Path) -> tuple[float, float, bool]:
    """One step of `replay_all`: a policy's miss and byte miss ratios, or Belady's byte miss
    ratio (twice) and whether BeladySize finished."""
    _, capacity, name = job
    trace = _FORKED
    assert trace is not None
    if name == BELADY:
        belady, sized = _belady(oracle, capacity, len(trace.requests))
        return belady, belady, sized
    clock = TraceClock()
    policy = make_policy(name, capacity, clock=clock, locate=trace.locator)
    result = replay(policy, trace.requests, clock)
    return result.miss_ratio, result.byte_miss_ratio, True


def _worker_start() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to stop them


def _pool(workers: int) -> multiprocessing.pool.Pool | None:
    """`workers` forked workers, or None where this system cannot make them (no shared memory
    for the pool's locks, as in some containers, or no fork): the replays run one after
    another there."""
    # the trace's objects out of the collector's sight: a collection in a worker would write
    # to each one it looks at, copying the parent's pages
    gc.freeze()
    try:
        forking = multiprocessing.get_context("fork")
        return forking.Pool(workers, initializer=_worker_start)
    except (OSError, ValueError, ImportError):
        return None


def default_jobs() -> int:
    """Replays run at once by default: one a core this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def replay_all(
    trace: LoadedTrace,
    capacities: Sequence[tuple[str, int]],
    policies: Sequence[str],
    progress: Callable[[str, int], object] = lambda step, done: None,
    jobs: int = 1,
) -> list[CapacityResult]:
    """Every policy, then Belady, at each capacity, `jobs` replays at a time (each in a forked
    worker of its own where there are several; the figures are the same). `progress` is told
    each step as it starts (its name, 0) and as it ends (its name, the requests replayed):
    `steps(...)` of them."""
    global _FORKED
    work = [
        (label, capacity, name) for label, capacity in capacities for name in (*policies, BELADY)
    ]
    done: dict[tuple[str, str], tuple[float, float, bool]] = {}

    def step(job: Job) -> str:
        return f"{job[2] or 'Belady'} at {job[0]}"

    with tempfile.TemporaryDirectory() as tmp:
        oracle = Path(tmp) / "trace.oracleGeneral"
        trace.requests.write_oracle(oracle)
        _FORKED = trace
        try:
            pool = _pool(min(jobs, len(work))) if jobs > 1 and len(work) > 1 else None
            if pool is None:
                for job in work:
                    progress(step(job), 0)
                    done[job[0], job[2]] = _run(job, oracle)
                    progress(step(job), len(trace.requests))
            else:
                with pool:
                    run = functools.partial(_run, oracle=oracle)
                    for job, figures in zip(work, pool.imap(run, work), strict=True):
                        done[job[0], job[2]] = figures
                        progress(step(job), len(trace.requests))
        finally:
            _FORKED = None
            gc.unfreeze()
    sizes = trace.object_sizes()
    out = []
    for label, capacity in capacities:
        belady, _, sized = done[label, BELADY]
        lru = done[label, "lru"][1]
        rows = tuple(
            PolicyResult(
                name, miss, byte_miss, byte_miss / lru if lru else 1.0,
                _gap_closed(lru, byte_miss, belady),
            )
            for name in policies
            for miss, byte_miss, _ in [done[label, name]]
        )  # fmt: skip
        too_large = sum(1 for size in sizes.values() if size > capacity)
        out.append(CapacityResult(label, capacity, belady, rows, too_large, sized))
    return out


def steps(capacities: Sequence[tuple[str, int]], policies: Sequence[str]) -> int:
    """How many replays `replay_all` makes (each of the whole trace)."""
    return len(capacities) * (len(policies) + 1)


def counted(n: int, noun: str) -> str:
    """'1 object', '3 objects'."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def report_json(trace: LoadedTrace, results: Sequence[CapacityResult]) -> dict[str, object]:
    """`report`'s figures as a JSON document (for scripts and plots): the trace, then per
    capacity Belady's byte miss ratio (None: not run) and each policy's row."""
    sizes = trace.object_sizes()
    return {
        "requests": len(trace.requests),
        "skipped": trace.skipped,
        "skipped_unit": trace.skipped_unit,
        "unreadable": trace.unreadable,
        "first_unreadable": trace.first_unreadable,
        "logged": dataclasses.asdict(trace.logged) if trace.logged.requests else None,
        "objects": len(sizes),
        "footprint_bytes": sum(sizes.values()),
        "capacities": [dataclasses.asdict(c) for c in results],
    }


def report(trace: LoadedTrace, results: Sequence[CapacityResult], *, as_json: bool = False) -> str:
    """The figures as a table to read, or (`as_json`) `report_json`'s document."""
    if as_json:
        return json.dumps(report_json(trace, results), indent=2)
    skipped = f"{counted(trace.skipped, trace.skipped_unit)} skipped"
    if trace.unreadable:
        skipped += f", {trace.unreadable} of them unreadable"
    sizes = trace.object_sizes()  # (a pass over every request: made once)
    lines = [
        f"{counted(len(trace.requests), 'request')} ({skipped}), "
        f"{counted(len(sizes), 'object')}, footprint {size_text(sum(sizes.values()))}"
    ]
    logged = trace.logged
    if logged.requests:
        lines.append(
            f"the cache that logged them: miss {logged.misses / logged.requests:.4f}, byte miss "
            f"{logged.missed_bytes / max(1, logged.bytes):.4f} (of the "
            f"{counted(logged.requests, 'request')} it logged a HIT, STALE, REVALIDATED, MISS or "
            "BYPASS for; its capacity is its own)"
        )
    huge = sum(size > UINT32_MAX for size in sizes.values())
    if huge:
        lines.append(
            f"{counted(huge, 'object')} of 4 GiB or more: Belady sees "
            f"{'it' if huge == 1 else 'them'} as 4 GiB - 1 (oracleGeneral's sizes are 32 bits)"
        )
    width = max(len("policy"), *(len(p.policy) for c in results for p in c.policies))
    for c in results:
        belady = "n/a" if c.belady_byte_miss is None else f"{c.belady_byte_miss:.4f}"
        lines.append(
            f"\ncapacity {c.label} ({size_text(c.capacity_bytes)}): Belady byte miss {belady}"
        )
        if not c.belady_size:
            lines.append(
                "  Belady without BeladySize: libcachesim's BeladySize ran over its time and "
                "was given up"
            )
        if c.too_large:
            lines.append(
                f"  {counted(c.too_large, 'object')} larger than the cache: no policy keeps "
                f"{'it' if c.too_large == 1 else 'them'}"
            )
        lines.append(
            f"  {'policy':<{width}} {'miss':>7} {'byte miss':>10} {'vs LRU':>7} {'gap closed':>11}"
        )
        for p in c.policies:
            gap = "-" if p.gap_closed is None else f"{p.gap_closed:.1%}"
            lines.append(
                f"  {p.policy:<{width}} {p.miss_ratio:7.4f} {p.byte_miss_ratio:10.4f} "
                f"{p.vs_lru:6.3f}x {gap:>11}"
            )
    if any(p.gap_closed is None for c in results for p in c.policies):
        lines.append(f"\n(gap closed: not shown where LRU is within {MIN_GAP} of Belady)")
    return "\n".join(lines)
