"""The eviction policies on every family of traces we have, with the default policy's targets
marked: the synthetic HLS trace of bench/cache_policy.py (smaller), the request logs the
simulator exports for its busiest edge under several scenarios (ABR rules, popularity skew,
ladder; a live event and a flash crowd as shipped), traces that are not video at all (numbered
files asked for at random: a renumbered cache trace, or images in one directory, where a
policy that follows viewers must not see any; and two whose popularity moves: a catalog
replaced by a new one every 100 k requests, and a stream of new objects each fading as news
does), HLS viewing over four days with new releases taking the top of the ranking each day,
and the POPs' own access logs from `make demo` when they are there (data/cdn/).
Each is replayed with `mediacdn cache replay`'s code at 1% and 10% of its footprint, against
LRU, S3-FIFO, SIEVE and Belady (libcachesim).

Targets for the default policy, on each family: byte miss ≤ 0.85× LRU's at 10%, ≥ 50% of the
LRU→Belady gap closed at 10%, and never worse than S3-FIFO.

`--known-policies` also replays each family at 10% through libcachesim's own online policies
(ARC, LIRS, Cacheus, LHD, GDSF, LRB, GLCache, W-TinyLFU and more): how far the best-known
policies get on the same requests, to tell a weak policy from a hard trace. `--bounds` replays
each family through two oracles of popularity (edge/sim/bounds.py: one that knows every object's
number of requests ahead of time, and `popular` with its model learnt from the whole trace): how
far predicting popularity, however well, could get. `--edges N` adds each simulated family's
next busiest edges, logs of the same family that no policy was tuned on."""

from __future__ import annotations

import argparse
import bisect
import itertools
import math
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import libcachesim as lcs

from bench.common import machine
from edge.eviction.policy import DEFAULT_POLICY, POLICIES
from edge.sim.bounds import count_oracle, informed_popular
from edge.sim.cachereplay import (
    MIN_GAP,
    CapacityResult,
    default_jobs,
    parse_capacities,
    replay_all,
)
from edge.sim.logs import LoadedTrace, load_trace
from edge.sim.runner import export_traces, simulate
from edge.sim.scenario import Scenario, load_scenario
from edge.sim.trace import TraceRequest, write_oracle_general
from edge.sim.workload import HlsWorkload, generate, locate_object, object_id

SIMULATED: dict[str, dict[str, object]] = {
    "steady, MPC": {},
    "steady, hls.js-style ABR": {"rules": ["throughput"]},
    "steady, Zipf 1.2": {"zipf_alpha": 1.2},
    "steady, 3-rung ladder": {"ladder_kbps": [400, 1500, 4500]},
}
# libcachesim's online policies (every one its Python binding builds from a capacity alone)
KNOWN_POLICIES = (
    "ARC", "LIRS", "Cacheus", "LeCaR", "S3FIFO", "Sieve", "LFUDA", "TwoQ", "SLRU", "Hyperbolic",
    "GDSF", "LHD", "LRB", "GLCache", "ThreeLCache", "WTinyLFU", "ClockPro", "Size",
)  # fmt: skip
# shipped scenarios replayed as they are, whose traffic no value of the policy was chosen on
AS_SHIPPED = ("live", "flash-crowd")
DEMO_LOGS = Path(__file__).resolve().parent.parent / "data" / "cdn"


def numbered_files(requests: int, files: int, seed: int = 1) -> list[TraceRequest]:
    """Zipf (alpha 0.9) requests for `files` numbered objects, the popular ones scattered over
    the numbers, 20 a second, sizes 1 KB to 1 MB: object numbers the simulator's would place
    as segment numbers of one video, which no viewer walks through."""
    rng = random.Random(seed)
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(files)]
    numbers = list(range(files))
    rng.shuffle(numbers)
    sizes = [_file_sizes(rng) for _ in range(files)]
    picks = rng.choices(range(files), weights, k=requests)
    return [TraceRequest(i // 20, numbers[k], sizes[k]) for i, k in enumerate(picks)]


def _file_sizes(rng: random.Random) -> int:
    return int(rng.lognormvariate(10.5, 1.2)) % 1_000_000 + 1_000


def _scattered(n: int) -> int:
    """A 63-bit id for object `n`, placed in no numbered sequence (a hash, as a CDN's are)."""
    return (n * 0x9E3779B97F4A7C15) & ((1 << 63) - 1) or 1


def catalog_turnover(requests: int, catalog: int, every: int, seed: int = 2) -> list[TraceRequest]:
    """Zipf (alpha 0.9) requests over `catalog` objects, the whole catalog replaced by a new
    one every `every` requests (what was popular is never asked for again), 20 a second."""
    rng = random.Random(seed)
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(catalog)]
    out: list[TraceRequest] = []
    sizes: dict[int, int] = {}
    for start in range(0, requests, every):
        ids = [_scattered(start * catalog // every + i) for i in range(catalog)]
        rng.shuffle(ids)
        for k in rng.choices(range(catalog), weights, k=min(every, requests - start)):
            obj = ids[k]
            size = sizes.setdefault(obj, _file_sizes(rng))
            out.append(TraceRequest(len(out) // 20, obj, size))
    return out


def fading_objects(requests: int, born_every: int, life: int, seed: int = 3) -> list[TraceRequest]:
    """A new object every `born_every` requests, each as popular as a Pareto (shape 1.2) draw
    and fading exponentially (its popularity 1/e of what it was after `life` requests): news,
    a feed, a release calendar. 20 requests a second."""
    rng = random.Random(seed)
    born: list[tuple[int, float, int]] = []  # (request it was born at, weight, id)
    out: list[TraceRequest] = []
    sizes: dict[int, int] = {}
    cumulative: list[float] = []
    for i in range(requests):
        if i % born_every == 0:
            born.append((i, rng.paretovariate(1.2), _scattered(i // born_every)))
        if i % 500 == 0:  # weights move slowly: recomputed every 500 requests
            born = [b for b in born if b[0] > i - 5 * life]  # (the rest as good as gone)
            cumulative = list(
                itertools.accumulate(w * math.exp((b - i) / life) for b, w, _ in born)
            )
        pick = min(bisect.bisect_left(cumulative, rng.random() * cumulative[-1]), len(born) - 1)
        obj = born[pick][2]
        size = sizes.setdefault(obj, _file_sizes(rng))
        out.append(TraceRequest(i // 20, obj, size))
    return out


def video_releases(days: int, sessions: int, new: int, seed: int = 4) -> list[TraceRequest]:
    """HLS viewing (bench/cache_policy.py's workload, 1 000 videos) over `days` days, `new`
    videos released each day at the top of the ranking, pushing the rest down."""
    ranked = list(range(1000))  # rank -> video
    out: list[TraceRequest] = []
    start = 0
    for day in range(days):
        if day:
            ranked = list(range(1000 + (day - 1) * new, 1000 + day * new)) + ranked[:-new]
        last = 0
        for req in generate(HlsWorkload(videos=1000, sessions=sessions, seed=seed + day)):
            located = locate_object(req.obj_id)
            assert located is not None
            (video, rung), segment = located
            obj = object_id(ranked[video], rung, segment)
            out.append(TraceRequest(start + req.timestamp, obj, req.size))
            last = req.timestamp
        start += last + 1
    return out


def busiest_edges(label: str, scenario: Scenario, tmp: Path, edges: int) -> dict[str, LoadedTrace]:
    """The logs of `scenario`'s `edges` busiest edges, simulated and exported into `tmp`."""
    outcome = simulate(scenario, log_requests=True)
    paths = [
        p for p in export_traces(outcome, tmp) if outcome.nodes[p.name.split(".")[0]].tier == "edge"
    ]
    busiest = sorted(paths, key=lambda p: p.stat().st_size, reverse=True)[:edges]
    return {
        f"simulated {label} ({path.name.split('.')[0]})": load_trace([path], "oracle")
        for path in busiest
    }


def families(tmp: Path, sample: float, edges: int = 1) -> dict[str, LoadedTrace]:
    """Each family's trace by name; of a simulated family, its `edges` busiest edges' logs."""
    out: dict[str, LoadedTrace] = {}
    synthetic = tmp / "synthetic.oracleGeneral"
    write_oracle_general(synthetic, generate(HlsWorkload(sessions=3000, seed=1)))
    out["synthetic HLS (3000 sessions)"] = load_trace([synthetic], "oracle")
    base = load_scenario("steady")
    for label, changes in SIMULATED.items():
        scenario = base.with_changes(
            {
                **changes,
                "sessions_per_s": base.sessions_per_s * sample,
                "capacity_scale": base.capacity_scale * sample,
            }
        )
        out |= busiest_edges(label, scenario, tmp / label.replace(" ", "_").replace(",", ""), edges)
    for name in AS_SHIPPED:
        out |= busiest_edges(name, load_scenario(name), tmp / name, edges)
    moving = {
        "numbered files at random (Zipf 0.9)": numbered_files(500_000, 20_000),
        "popularity that moves: the catalog replaced every 100 k requests": catalog_turnover(
            600_000, 20_000, 100_000
        ),
        "popularity that moves: new objects, each fading": fading_objects(600_000, 20, 20_000),
    }
    for label, requests in moving.items():
        path = tmp / f"{label.split(':')[0].replace(' ', '-')}.oracleGeneral"
        write_oracle_general(path, requests)
        out[f"not video: {label}"] = load_trace([path], "oracle")
    releases = tmp / "releases.oracleGeneral"
    write_oracle_general(releases, video_releases(4, 3000, 200))
    out["HLS with new releases (200 of 1 000 videos a day, 4 days)"] = load_trace(
        [releases], "oracle"
    )
    logs = sorted(DEMO_LOGS.glob("edge-*.access.log"))
    if logs:
        out[f"make demo POP logs ({len(logs)} POPs)"] = load_trace(logs, "edge")
    return out


def verdict(results: list[CapacityResult]) -> str:
    ten = results[-1]
    rows = {p.policy: p for p in ten.policies}
    ours, s3 = rows[DEFAULT_POLICY], rows["s3fifo"]
    gap = ours.gap_closed
    gap_check = (
        f"gap >= 50%: n/a (LRU within {MIN_GAP} of Belady: nothing to close)"
        if gap is None
        else f"gap >= 50%: {'met' if gap >= 0.5 else 'NOT met'} ({gap:.0%})"
    )
    checks = [
        f"<= 0.85x LRU: {'met' if ours.vs_lru <= 0.85 else 'NOT met'} ({ours.vs_lru:.3f}x)",
        gap_check,
        "not worse than S3-FIFO: "
        + ("met" if ours.byte_miss_ratio <= s3.byte_miss_ratio else "NOT met"),
    ]
    return "; ".join(checks)


def bounds(trace: LoadedTrace, results: list[CapacityResult]) -> str:
    """The count oracle and the informed `popular` at each capacity, against LRU."""
    cells = []
    for c in results:
        lru = next(p.byte_miss_ratio for p in c.policies if p.policy == "lru")
        oracle = count_oracle(trace.requests, c.capacity_bytes).byte_miss_ratio
        informed = informed_popular(trace.requests, c.capacity_bytes, trace.locate)
        cells.append(
            f"{c.label}: count oracle {oracle / lru:.3f}x, "
            f"informed popular {informed.byte_miss_ratio / lru:.3f}x"
        )
    return "; ".join(cells)


def known_policies(trace: LoadedTrace, capacity: int) -> list[tuple[str, float]]:
    """(name, byte miss ratio ÷ LRU's) of every libcachesim online policy, best first."""
    with tempfile.TemporaryDirectory() as tmp:
        oracle = Path(tmp) / "trace.oracleGeneral"
        trace.requests.write_oracle(oracle)

        def byte_miss(name: str) -> float:
            reader = lcs.TraceReader(str(oracle), lcs.TraceType.ORACLE_GENERAL_TRACE)
            return float(getattr(lcs, name)(capacity).process_trace(reader)[1])

        lru = byte_miss("LRU")
        return sorted(((n, byte_miss(n) / lru) for n in KNOWN_POLICIES), key=lambda x: x[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", type=float, default=0.5, help="share of steady's audience")
    parser.add_argument(
        "--known-policies",
        action="store_true",
        help="also replay each family at 10%% through libcachesim's online policies",
    )
    parser.add_argument(
        "--edges",
        type=int,
        default=1,
        help="replay each simulated family's N busiest edges (the targets are judged on the "
        "busiest; the others are logs the policy was not tuned on)",
    )
    parser.add_argument(
        "--bounds",
        action="store_true",
        help="also replay each family through two oracles of popularity (edge/sim/bounds.py): "
        "how far a policy that predicts popularity could get",
    )
    args = parser.parse_args()
    print(f"machine: {machine()}; default policy: {DEFAULT_POLICY}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, trace in families(Path(tmp), args.sample, args.edges).items():
            capacities = parse_capacities("1%,10%", trace.footprint_bytes)
            results = replay_all(trace, capacities, list(POLICIES), jobs=default_jobs())
            print(
                f"\n{name}: {len(trace.requests)} requests, "
                f"footprint {trace.footprint_bytes / 1e9:.2f} GB"
            )
            for c in results:
                cells = "  ".join(
                    f"{p.policy} {p.byte_miss_ratio:.4f} ({p.vs_lru:.3f}x)" for p in c.policies
                )
                print(f"  {c.label:>4}: Belady {c.belady_byte_miss or 0:.4f}  {cells}")
            print(f"  at 10%: {verdict(results)}")
            if args.bounds:
                print("  oracles (byte miss xLRU): " + bounds(trace, results))
            if args.known_policies:
                known = known_policies(trace, results[-1].capacity_bytes)
                print("  libcachesim at 10%: " + ", ".join(f"{n} {r:.3f}x" for n, r in known))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
