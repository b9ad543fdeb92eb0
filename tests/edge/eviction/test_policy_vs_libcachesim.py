"""Our eviction code replays a trace in libCacheSim's oracleGeneral format; its object and
byte miss ratios match the `libcachesim` package on the same file within ±0.005."""

from __future__ import annotations

import random
from pathlib import Path

import libcachesim as lcs
import pytest

from edge.eviction.policy import make_policy
from edge.sim.trace import TraceRequest, read_oracle_general, replay, write_oracle_general
from tests.support.libcachesim_policies import REFERENCE


def hls_like_trace(n_requests: int, seed: int = 7) -> list[TraceRequest]:
    """Zipf popularity over objects whose sizes look like segments of several renditions."""
    rng = random.Random(seed)
    n_objects = 3000
    sizes = [
        rng.choice((100_000, 350_000, 700_000, 1_400_000, 2_500_000)) + rng.randrange(50_000)
        for _ in range(n_objects)
    ]
    weights = [1 / (rank + 1) ** 0.9 for rank in range(n_objects)]
    ids = rng.choices(range(n_objects), weights=weights, k=n_requests)
    return [TraceRequest(t, obj + 1, sizes[obj]) for t, obj in enumerate(ids)]


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    requests = hls_like_trace(40_000)
    path = tmp_path_factory.mktemp("trace") / "hls.oracleGeneral"
    write_oracle_general(path, requests)
    footprint = sum({r.obj_id: r.size for r in requests}.values())
    return path, footprint


def test_trace_roundtrip(tmp_path: Path) -> None:
    requests = hls_like_trace(100)
    path = tmp_path / "t.bin"
    assert write_oracle_general(path, requests) == 100
    assert list(read_oracle_general(path)) == requests
    assert path.stat().st_size == 100 * 24


@pytest.mark.parametrize("policy", list(REFERENCE))
@pytest.mark.parametrize("fraction", [0.01, 0.05, 0.2])
def test_miss_ratios_match_libcachesim(
    trace: tuple[Path, int], policy: str, fraction: float
) -> None:
    path, footprint = trace
    capacity = int(footprint * fraction)
    ours = replay(make_policy(policy, capacity), read_oracle_general(path))  # pure policies
    reader = lcs.TraceReader(str(path), lcs.TraceType.ORACLE_GENERAL_TRACE)
    ref_miss, ref_byte_miss = REFERENCE[policy](capacity).process_trace(reader)
    assert ours.miss_ratio == pytest.approx(ref_miss, abs=0.005)
    assert ours.byte_miss_ratio == pytest.approx(ref_byte_miss, abs=0.005)
