"""A replay of more files than a process may open at once (a day of CloudFront logs is
thousands): merged in groups through temporary files, in the order one merge of all of them
would give."""

from __future__ import annotations

import heapq
import json
import random
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from edge.sim import merging
from edge.sim.logs import load_trace
from edge.sim.trace import TraceRequest, write_oracle_general


def _lists(n: int, seed: int) -> list[list[tuple[int, int]]]:
    """`n` lists of (time, label), each in time order, with many equal times across them."""
    rng = random.Random(seed)
    return [
        sorted((rng.randrange(50), i * 1000 + j) for j in range(rng.randrange(6))) for i in range(n)
    ]


def test_merging_in_groups_gives_one_merges_order(tmp_path: Path) -> None:
    spilled: list[Path] = []

    def spill(path: Path, items: Iterator[tuple[int, int]]) -> None:
        spilled.append(path)
        path.write_text(json.dumps(list(items)))

    def unspill(path: Path) -> Iterator[tuple[int, int]]:
        return iter([(time, label) for time, label in json.loads(path.read_text())])

    for seed in range(20):
        lists = _lists(40, seed)
        expected = list(heapq.merge(*lists, key=lambda item: item[0]))
        streams = [iter(items) for items in lists]
        got = list(merging.merged(streams, lambda item: item[0], spill, unspill, fan_in=3))
        assert got == expected
    assert spilled  # the groups did go through files
    assert not any(path.exists() for path in spilled)  # and those are gone


def _nginx_logs(directory: Path, files: int) -> list[Path]:
    """`files` access logs, each in time order, their times interleaved across files."""
    paths = []
    for i in range(files):
        path = directory / f"E2EXAMPLE.{i:05d}.log"
        lines = [
            f"10.0.0.{i % 250} - - [29/Nov/2026:12:{(i + 7 * j) % 60:02d}:00 +0000] "
            f'"GET /vod/a/360p/{(i * 3 + j) % 97}.m4s HTTP/1.1" 200 {1000 + j} "-" "x"'
            for j in range(3)
        ]
        path.write_text("\n".join(sorted(lines, key=lambda line: line.split("[")[1])) + "\n")
        paths.append(path)
    return paths


def _few_files_open() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))


def test_more_logs_than_a_process_may_open(tmp_path: Path) -> None:
    """400 logs replayed by a process that may open 256 files (it failed with EMFILE): the
    same requests as one merge of all of them."""
    paths = _nginx_logs(tmp_path, 400)
    replay = [sys.executable, "-m", "mediacdn", "cache", "replay", "--quiet", "--json"]
    done = subprocess.run(
        [*replay, "--policy", "lru", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_few_files_open,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["requests"] == 1200
    grouped = load_trace(paths, "nginx")
    flat_fan_in = merging.FAN_IN
    try:
        merging.FAN_IN = 10_000
        flat = load_trace(paths, "nginx")
    finally:
        merging.FAN_IN = flat_fan_in
    assert grouped.requests == flat.requests
    assert [r.timestamp for r in grouped.requests] == sorted(r.timestamp for r in grouped.requests)


def test_more_oracle_traces_than_a_process_may_open_at_once(tmp_path: Path) -> None:
    paths = []
    for i in range(300):
        path = tmp_path / f"part{i:04d}.oracleGeneral"
        write_oracle_general(
            path, [TraceRequest(i % 17 + 5 * j, i * 10 + j, 100 + j) for j in range(4)]
        )
        paths.append(path)
    grouped = load_trace(paths, "oracle")
    assert len(grouped.requests) == 1200
    times = [r.timestamp for r in grouped.requests]
    assert times == sorted(times)
    expected = sorted(
        (TraceRequest(i % 17 + 5 * j, i * 10 + j, 100 + j) for i in range(300) for j in range(4)),
        key=lambda r: r.timestamp,
    )  # (sorted is stable: equal times in the files' order, as one merge gives them)
    assert list(grouped.requests) == expected
