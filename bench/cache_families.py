"""The eviction policies on every family of traces we have, with the default policy's targets
marked: the synthetic HLS trace of bench/cache_policy.py (smaller), the request logs the
simulator exports for its busiest edge under several scenarios (ABR rules, popularity skew,
ladder; a live event and a flash crowd as shipped), a trace that is not video at all (numbered
files asked for at random: a renumbered cache trace, or images in one directory, where a
policy that follows viewers must not see any), and the POPs' own access logs from `make demo`
when they are there (data/cdn/).
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
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import libcachesim as lcs

from bench.common import machine
from edge.eviction.policy import DEFAULT_POLICY, POLICIES
from edge.sim.bounds import count_oracle, informed_popular
from edge.sim.cachereplay import MIN_GAP, CapacityResult, parse_capacities, replay_all
from edge.sim.logs import LoadedTrace, load_trace
from edge.sim.runner import export_traces, simulate
from edge.sim.scenario import Scenario, load_scenario
from edge.sim.trace import TraceRequest, write_oracle_general
from edge.sim.workload import HlsWorkload, generate

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
    sizes = [int(rng.lognormvariate(10.5, 1.2)) % 1_000_000 + 1_000 for _ in range(files)]
    picks = rng.choices(range(files), weights, k=requests)
    return [TraceRequest(i // 20, numbers[k], sizes[k]) for i, k in enumerate(picks)]


def busiest_edges(label: str, scenario: Scenario, tmp: Path, edges: int) -> dict[str, LoadedTrace]:
    """The logs of `scenario`'s `edges` busiest edges, simulated and exported into `tmp`."""
    paths = export_traces(simulate(scenario, log_requests=True), tmp)
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
    files = tmp / "numbered.oracleGeneral"
    write_oracle_general(files, numbered_files(500_000, 20_000))
    out["not video: numbered files at random (Zipf 0.9)"] = load_trace([files], "oracle")
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
            results = replay_all(trace, capacities, list(POLICIES))
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
