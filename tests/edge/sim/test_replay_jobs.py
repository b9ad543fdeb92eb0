"""`mediacdn cache replay --jobs N`: the replays of each policy at each capacity run in
worker processes, with the same figures as one after another, and Ctrl-C stops them all."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge.sim.cachereplay import parse_capacities, replay_all
from edge.sim.logs import load_trace
from edge.sim.trace import RECORD, write_oracle_general
from edge.sim.workload import HlsWorkload, generate, locate_object
from tests.edge.sim.test_cache_replay import NGINX
from tests.support.servers import run_cli


def report(*args: str) -> dict[str, object]:
    done = run_cli("cache", "replay", "--quiet", "--json", *args, timeout_s=300)
    assert done.returncode == 0, done.stderr
    document: dict[str, object] = json.loads(done.stdout)
    return document


def test_replays_in_workers_give_the_figures_of_replays_one_after_another(tmp_path: Path) -> None:
    """On a trace of numbered objects and on a log whose paths the viewer-following policies
    place (their `locate` read in the workers)."""
    trace = tmp_path / "hls.oracleGeneral"
    write_oracle_general(trace, generate(HlsWorkload(sessions=150, videos=60, seed=5)))
    lines = []
    for n, request in enumerate(generate(HlsWorkload(sessions=150, videos=60, seed=6))):
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(1_795_953_600 + n // 10))
        placed = locate_object(request.obj_id)
        assert placed is not None
        (video, rendition), segment = placed
        path = f"/vod/v{video}/{rendition}/{segment}.m4s"
        lines.append(f'10.0.0.1 - - [{stamp}] "GET {path} HTTP/1.1" 200 {request.size} "-" "x"\n')
    log = tmp_path / "access.log"
    log.write_text("".join(lines) + NGINX)
    for source in (trace, log):
        alone = report(str(source), "--capacity", "2%,15%", "--jobs", "1")
        assert report(str(source), "--capacity", "2%,15%", "--jobs", "3") == alone
        assert report(str(source), "--capacity", "2%,15%") == alone  # (one a core)
        capacities = alone["capacities"]
        assert isinstance(capacities, list)
        assert len(capacities) == 2
        assert all(len(c["policies"]) > 5 for c in capacities)


def test_where_no_worker_can_be_made_the_replays_run_one_after_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A system without the shared memory a pool's locks need (some containers) refuses to
    make one: the figures come all the same, replayed in the process itself."""
    path = tmp_path / "hls.oracleGeneral"
    write_oracle_general(path, generate(HlsWorkload(sessions=100, videos=40, seed=7)))
    trace = load_trace([path], "oracle")
    capacities = parse_capacities("3%,20%", trace.footprint_bytes)
    alone = replay_all(trace, capacities, ["adaptive", "s3fifo", "lru"], jobs=1)
    assert replay_all(trace, capacities, ["adaptive", "s3fifo", "lru"], jobs=2) == alone

    def no_pool(method: str) -> object:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(multiprocessing, "get_context", no_pool)
    steps: list[str] = []
    again = replay_all(
        trace, capacities, ["adaptive", "s3fifo", "lru"], lambda step, n: steps.append(step), 2
    )
    assert again == alone
    assert len(steps) == 2 * 2 * 4  # each step started and ended, in this process


def test_a_number_of_jobs_that_is_none_is_refused(tmp_path: Path) -> None:
    for wrong in ("0", "-1", "two"):
        done = run_cli("cache", "replay", f"--jobs={wrong}", str(tmp_path), timeout_s=60)
        assert done.returncode == 2
        assert "is not a number of replays at once" in done.stderr
        assert "Traceback" not in done.stderr


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(n) for n in (task / "children").read_text().split()]
    return found


def test_ctrl_c_stops_the_workers_and_says_so_once(tmp_path: Path) -> None:
    """Ctrl-C reaches every process of the terminal's foreground group: the workers leave it
    to the command, which ends them, says "interrupted" once and exits 130."""
    trace = tmp_path / "long.oracleGeneral"
    trace.write_bytes(
        b"".join(
            RECORD.pack(n // 50, n * 7919 % 300_007, 1000 + n % 977, -1) for n in range(1_500_000)
        )
    )
    child = subprocess.Popen(
        [sys.executable, "-m", "mediacdn", "cache", "replay", "--jobs", "2", str(trace)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a group of its own, as a shell gives a command
    )
    try:
        deadline = time.monotonic() + 60
        while len(children(child.pid)) < 2:  # the workers replaying
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "no workers started"
            time.sleep(0.1)
        workers = children(child.pid)
        time.sleep(0.5)
        os.killpg(child.pid, signal.SIGINT)
        _, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    assert child.returncode == 130, err
    assert "Traceback" not in err
    assert err.count("interrupted") == 1
    assert err.rstrip().endswith("mediacdn cache replay: interrupted")
    gone = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < gone:
        time.sleep(0.1)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
