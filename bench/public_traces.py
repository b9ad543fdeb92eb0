"""The eviction policies on public cache traces that nobody wrote for this project: block, web
and database traces that the cache literature and other caches' simulators replay. They are not
video, and most carry no sizes (each object counts as 4 KB, so byte and object miss ratios
agree): they say how the default policy does on traffic it was not built for.

Give the files as they are published (the format is told by the name):
  *.oracleGeneral.bin[.zst]  libCacheSim's binary traces (its repository's data/ holds
  *.lcs[.zst]                cloudPhysicsIO.oracleGeneral.bin; its newer datasets are lcs)
  *.trace.gz (lirs/)         LIRS traces: one block number a line (Caffeine's simulator
                             bundles multi2, sprite, 2_pools, loop and more)
  web*.trace.xz, orm-*.trace.xz  cache2k's traces: big-endian 32-bit ids
  scarab*.trace.xz           Scarab Research's traces: big-endian 64-bit ids
  request.trace.xz (adapt_size/)  AdaptSize's CDN request sample: "time id size" lines
Each is replayed at 1% and 10% of its footprint through every policy (`mediacdn cache
replay`'s code), printing byte miss ratios against LRU's, with Belady."""

from __future__ import annotations

import argparse
import gzip
import lzma
import struct
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine
from edge.eviction.policy import DEFAULT_POLICY, POLICIES
from edge.sim.cachereplay import default_jobs, parse_capacities, replay_all
from edge.sim.logs import LoadedTrace, load_trace
from edge.sim.trace import write_oracle_columns

UNSIZED = 4096  # bytes an object counts for in a trace without sizes


def read_ids(path: Path) -> tuple[list[int], list[int], list[int]] | None:
    """(times, ids, sizes) of a published trace in one of the formats above; None for
    libCacheSim's own (loaded as it is)."""
    name = path.name
    if ".oracleGeneral" in name or ".lcs" in name:
        return None
    times: list[int] = []
    ids: list[int] = []
    sizes: list[int] = []
    if name.startswith("request.trace"):
        with lzma.open(path, "rt") as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 3:
                    times.append(int(fields[0]))
                    ids.append(int(fields[1]) + 1)
                    sizes.append(max(int(fields[2]), 1))
        return times, ids, sizes
    if name.endswith(".trace.gz"):
        with gzip.open(path, "rt") as f:
            ids = [int(line) + 1 for line in f if line.strip().lstrip("-").isdigit()]
    elif name.startswith("scarab"):
        with lzma.open(path) as f:
            raw = f.read()
        ids = [(x & ((1 << 63) - 1)) or 1 for x in struct.unpack(f">{len(raw) // 8}q", raw)]
    elif name.endswith(".trace.xz"):
        with lzma.open(path) as f:
            raw = f.read()
        # unsigned: orm-* hold ids with the top bit set
        ids = [x + 1 for x in struct.unpack(f">{len(raw) // 4}I", raw)]
    else:
        raise SystemExit(f"{path}: not a trace format this script knows (see --help)")
    return [i // 100 for i in range(len(ids))], ids, [UNSIZED] * len(ids)


def load(path: Path, tmp: Path) -> LoadedTrace:
    columns = read_ids(path)
    if columns is None:
        return load_trace([path], "oracle")
    converted = tmp / f"{path.name}.oracleGeneral"
    write_oracle_columns(converted, *columns)
    return load_trace([converted], "oracle")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="+", type=Path, help="published trace files")
    parser.add_argument("--policy", default=",".join(POLICIES), help="policies (LRU always)")
    args = parser.parse_args()
    policies = [p for p in args.policy.split(",") if p and p != "lru"] + ["lru"]
    print(f"machine: {machine()}; default policy: {DEFAULT_POLICY}")
    with tempfile.TemporaryDirectory() as tmp:
        for path in args.files:
            trace = load(path, Path(tmp))
            capacities = parse_capacities("1%,10%", trace.footprint_bytes)
            objects = len(trace.object_sizes())
            print(f"\n{path.name}: {len(trace.requests)} requests, {objects} objects")
            for c in replay_all(trace, capacities, policies, jobs=default_jobs()):
                rows = {p.policy: p for p in c.policies}
                ours, s3 = rows[DEFAULT_POLICY], rows.get("s3fifo")
                cells = "  ".join(f"{p.policy} {p.vs_lru:.3f}x" for p in c.policies)
                mark = (
                    ""
                    if s3 is None or ours.byte_miss_ratio <= s3.byte_miss_ratio
                    else "  (worse than S3-FIFO)"
                )
                print(f"  {c.label:>4}: Belady {c.belady_byte_miss or 0:.4f}  {cells}{mark}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
