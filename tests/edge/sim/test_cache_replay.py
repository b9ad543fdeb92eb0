"""`mediacdn cache replay` on the three formats, with small files made here: libCacheSim's
oracleGeneral, an nginx access log, and the access log a real POP wrote."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import random
import re
import struct
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx
import libcachesim as lcs
import pytest
import zstandard

from edge.eviction.policy import POLICIES
from edge.sim import cachereplay
from edge.sim.log_bytes import LogError
from edge.sim.logs import LoggedOutcomes, load_trace, resolve_format
from edge.sim.trace import TraceRequest, write_oracle_general
from edge.sim.workload import HlsWorkload, generate
from httprules.playback_tokens import KeyRing, mint
from tests.support.asgi_server import serve_in_thread
from tests.support.edges import edge_process
from tests.support.scripted_origin import Route, ScriptedOrigin
from tests.support.servers import run_cli


def replay_cli(*args: str) -> str:
    done = run_cli("cache", "replay", "--quiet", *args, timeout_s=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def rows(output: str, capacity: str) -> dict[str, list[str]]:
    """The policy rows printed under one capacity."""
    block = output.split(f"capacity {capacity} ", 1)[1].split("\ncapacity ", 1)[0]
    lines = [line.split() for line in block.splitlines()[1:] if line.strip()]
    return {line[0]: line[1:] for line in lines if line[0] in POLICIES}


def test_oracle_traces_agree_with_libcachesim(tmp_path: Path) -> None:
    trace = tmp_path / "hls.oracleGeneral"
    write_oracle_general(trace, generate(HlsWorkload(sessions=300, videos=100, seed=3)))
    out = replay_cli(str(trace), "--format", "oracle", "--capacity", "5%,10MB")
    footprint = load_trace([trace], "oracle").footprint_bytes
    for label, capacity in (("5%", int(footprint * 0.05)), ("10MB", 10_000_000)):
        table = rows(out, label)
        assert set(table) == set(POLICIES)
        reader = lcs.TraceReader(str(trace), lcs.TraceType.ORACLE_GENERAL_TRACE)
        _, lru_byte_miss = lcs.LRU(capacity).process_trace(reader)
        assert float(table["lru"][1]) == pytest.approx(lru_byte_miss, abs=0.005)
        assert table["lru"][2] == "1.000x"
    assert "Belady byte miss 0." in out


NGINX = """\
10.0.0.1 - - [29/Nov/2026:12:00:00 +0000] "GET /vod/a/360p/0.m4s HTTP/1.1" 200 100 "-" "hls.js"
10.0.0.1 - - [29/Nov/2026:12:00:01 +0000] "GET /vod/a/360p/1.m4s HTTP/1.1" 200 100 "-" "hls.js"
10.0.0.2 - - [29/Nov/2026:12:00:02 +0000] "GET /vod/a/360p/0.m4s HTTP/1.1" 304 0 "-" "hls.js"
10.0.0.2 - - [29/Nov/2026:12:00:03 +0000] "POST /api/videos HTTP/1.1" 201 17 "-" "curl"
this line is not a log line
10.0.0.3 - - [29/Nov/2026:12:00:04 +0000] "GET /vod/a/360p/2.m4s HTTP/1.1" 200 100 "-" "hls.js"
10.0.0.3 - - [29/Nov/2026:12:00:05 +0000] "GET /vod/a/360p/0.m4s HTTP/1.1" 206 10 "-" "hls.js"
10.0.0.4 - - [29/Nov/2026:12:00:06 +0000] "GET /missing HTTP/1.1" 404 9 "-" "hls.js"
10.0.0.4 - - [29/Nov/2026:12:00:07 +0000] "GET /vod/a/360p/1.m4s HTTP/1.1" 200 100 "-" "hls.js"
"""


def few_objects_many_requests(path: Path, sizes_of: Callable[[int, int], int]) -> None:
    """3 000 requests for 50 objects in an oracleGeneral file; `sizes_of(i, obj)` sizes each."""
    rng = random.Random(1)
    picks = [rng.randrange(50) for _ in range(3000)]
    write_oracle_general(path, [TraceRequest(i, o, sizes_of(i, o)) for i, o in enumerate(picks)])


def test_requests_for_no_bytes_are_skipped_as_libcachesim_skips_them(tmp_path: Path) -> None:
    """A record of size 0 is no request a cache answers from a copy: were it stored, later
    requests for the object would be hits on a copy of no bytes."""
    trace = tmp_path / "zeros.oracleGeneral"
    few_objects_many_requests(trace, lambda i, o: 0 if i % 3 == 0 else 100 + 37 * o)
    loaded = load_trace([trace], "oracle")
    assert (len(loaded.requests), loaded.skipped) == (2000, 1000)
    out = replay_cli(str(trace), "--capacity", "5000B", "--policy", "lru")
    assert "2000 requests (1000 empty records skipped)" in out
    reader = lcs.TraceReader(str(trace), lcs.TraceType.ORACLE_GENERAL_TRACE)
    miss, byte_miss = lcs.LRU(5000).process_trace(reader)
    assert [float(v) for v in rows(out, "5000B")["lru"][:2]] == pytest.approx(
        [miss, byte_miss], abs=1e-4
    )


def test_belady_ends_where_libcachesims_beladysize_would_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libcachesim's BeladySize samples objects to evict and can loop for ever where the cache
    holds a few of them (this trace: 50 objects, a cache of about 4): the replay gives it up
    and reports Belady alone, saying so; at once, when BeladySize keeps saying that it finds
    nothing to evict, else when it has run far longer than a trace that long takes."""
    trace = tmp_path / "few.oracleGeneral"
    few_objects_many_requests(trace, lambda i, o: 1 + (o * 7919) % 5000)
    loaded = load_trace([trace], "oracle")
    started = time.monotonic()
    [result] = cachereplay.replay_all(loaded, [("8690B", 8690)], ["lru"])
    assert time.monotonic() - started < cachereplay.BELADY_SIZE_GRACE_S  # (the limit: 10.15 s)
    assert not result.belady_size
    monkeypatch.setattr(cachereplay, "_LOOPING_WARNINGS", 10**12)  # (it is not told so)
    monkeypatch.setattr(cachereplay, "BELADY_SIZE_GRACE_S", 2.0)
    started = time.monotonic()
    [result] = cachereplay.replay_all(loaded, [("8690B", 8690)], ["lru"])
    assert 2.0 <= time.monotonic() - started < 30
    assert not result.belady_size
    assert result.belady_byte_miss is not None
    assert result.belady_byte_miss < result.policies[0].byte_miss_ratio
    report = cachereplay.report(loaded, [result])
    assert "Belady without BeladySize" in report
    # where it ends, the lower of the two is taken, and the report says nothing of it
    [result] = cachereplay.replay_all(loaded, [("100%", loaded.footprint_bytes)], ["lru"])
    assert result.belady_size
    assert "BeladySize" not in cachereplay.report(loaded, [result])


def test_nginx_logs(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(NGINX)
    trace = load_trace([log], "nginx")
    assert [(r.obj_id, r.size) for r in trace.requests] == [
        (0, 100),
        (1, 100),
        (0, 100),
        (2, 100),
        (0, 100),
        (1, 100),
    ]
    assert trace.skipped == 3
    out = replay_cli(str(log), "--format", "nginx", "--capacity", "200B", "--policy", "lru")
    # LRU with room for two: 0 miss, 1 miss, 0 hit, 2 miss (1 out), 0 hit, 1 miss (2 out).
    assert rows(out, "200B")["lru"][:2] == ["0.6667", "0.6667"]
    # a cache smaller than every object: the report says so, libcachesim's C warnings do not
    done = run_cli("cache", "replay", "--format", "nginx", "--capacity", "50B", str(log))
    assert done.returncode == 0, done.stderr
    assert "3 objects larger than the cache: no policy keeps them" in done.stdout
    assert "WARN" not in done.stderr
    assert "\x1b[" not in done.stderr + done.stdout


def test_the_figures_as_json(tmp_path: Path) -> None:
    """`--json` prints the table's figures as one document, for scripts and plots."""
    log = tmp_path / "access.log"
    log.write_text(NGINX)
    args = (str(log), "--capacity", "200B,90%", "--policy", "s3fifo")
    table = replay_cli(*args)
    doc = json.loads(replay_cli(*args, "--json"))
    assert (doc["requests"], doc["skipped"], doc["objects"]) == (6, 3, 3)
    assert doc["footprint_bytes"] == 300
    assert [c["label"] for c in doc["capacities"]] == ["200B", "90%"]
    for capacity in doc["capacities"]:
        printed = rows(table, capacity["label"])
        assert [p["policy"] for p in capacity["policies"]] == list(printed)
        for policy in capacity["policies"]:
            miss, byte_miss, vs_lru = printed[policy["policy"]][:3]
            assert f"{policy['miss_ratio']:.4f}" == miss
            assert f"{policy['byte_miss_ratio']:.4f}" == byte_miss
            assert f"{policy['vs_lru']:.3f}x" == vs_lru
        assert capacity["belady_byte_miss"] is not None


def test_a_target_in_absolute_form_is_keyed_by_its_path(tmp_path: Path) -> None:
    """A client that takes the cache for a proxy sends `GET http://host/path`, which nginx
    logs as sent; the POP keys it by its path, and so does the replay."""
    log = tmp_path / "access.log"
    targets = [
        "/v/a/0.m4s",
        "http://cdn.example/v/a/0.m4s",
        "HTTPS://cdn.example:8443/v/a/0.m4s",
        "http://cdn.example?x=1",
        "/?x=1",
        "http://cdn.example",
        "/",
    ]
    log.write_text(
        "".join(
            f'10.0.0.1 - - [29/Nov/2026:12:00:0{t} +0000] "GET {target} HTTP/1.1" 200 100 "-" "x"\n'
            for t, target in enumerate(targets)
        )
    )
    assert [r.obj_id for r in load_trace([log], "nginx").requests] == [0, 0, 0, 1, 1, 2, 2]


def test_viewers_tokens_in_nginx_paths_are_no_part_of_the_key(tmp_path: Path) -> None:
    """An nginx log in front of signed playback holds each viewer's token in the path: the
    object is the path without it, as the POP keys it; a `~` segment that is no token stays."""
    ring = KeyRing({"k1": b"0123456789abcdef-one"}, "k1")
    lines = []
    for t, ip in enumerate(["10.0.0.1", "10.0.0.2", "10.0.0.3"]):
        token = mint(ring, "/vod/a/", 1_900_000_000 + t, ip)
        for path in (f"/~{token}/vod/a/360p/0.m4s", f"/vod/~{token}/../a/360p/1.m4s"):
            lines.append(
                f'{ip} - - [29/Nov/2026:12:00:0{t} +0000] "GET {path} HTTP/1.1" 200 100 "-" "x"'
            )
        lines.append(
            f'{ip} - - [29/Nov/2026:12:00:0{t} +0000] "GET /~alice/{t}.m4s HTTP/1.1" 200 5 "-" "x"'
        )
    # dot segments resolved, as the POP resolves them before keying (a query keeps its own)
    for path in ("/vod/x/../a/360p/./0.m4s", "/vod/a/360p/0.m4s?s=/../1", "/vod/a/360p/0.m4s?s=1"):
        at = "[29/Nov/2026:12:00:09 +0000]"
        lines.append(f'10.0.0.9 - - {at} "GET {path} HTTP/1.1" 200 100 "-" "x"')
    log = tmp_path / "signed.log"
    log.write_text("\n".join(lines) + "\n")
    trace = load_trace([log], "nginx")
    assert [r.obj_id for r in trace.requests] == [0, 1, 2, 0, 1, 3, 0, 1, 4, 0, 5, 6]


def test_a_200_cut_short_in_an_nginx_log_is_no_smaller_object(tmp_path: Path) -> None:
    """nginx logs the bytes it sent: a player that abandons a segment leaves a 200 of fewer
    bytes, and the object keeps its whole size; a POP logs the object's size, the last holds."""
    line = '10.0.0.1 - - [29/Nov/2026:12:00:0{} +0000] "GET /v/a/0.m4s HTTP/1.1" {} {} "-" "hls.js"'
    log = tmp_path / "access.log"
    log.write_text(
        "\n".join(
            line.format(t, *answer)
            for t, answer in enumerate([(200, 100), (200, 40), (304, 0), (206, 10), (200, 120)])
        )
        + "\n"
    )
    trace = load_trace([log], "nginx")
    assert [r.size for r in trace.requests] == [100, 100, 100, 100, 120]
    # an object asked for in ranges only is at least the largest range sent of it
    ranges = tmp_path / "ranges.log"
    ranges.write_text(
        "\n".join(line.format(t, 206, sent) for t, sent in enumerate([10, 50, 30, 0])) + "\n"
    )
    assert [r.size for r in load_trace([ranges], "nginx").requests] == [10, 50, 50, 50]
    pop_log = tmp_path / "pop.log"
    pop_log.write_text(
        "".join(
            json.dumps(
                {
                    "t": t,
                    "method": "GET",
                    "path": "/v/a/0.m4s",
                    "status": 200,
                    "bytes": size,
                    "object_bytes": size,
                }
            )
            + "\n"
            for t, size in enumerate([100, 40])
        )
    )
    assert [r.size for r in load_trace([pop_log], "edge").requests] == [100, 40]


def test_a_line_without_an_end_is_read_through_in_bounded_memory(tmp_path: Path) -> None:
    """A log that expands to one huge line (no line ends, or a compressed bomb) is skipped as
    one line, read in pieces: the lines around it still count."""
    head, tail = NGINX.splitlines()[0], NGINX.splitlines()[-1]
    log = tmp_path / "huge.log.gz"
    with gzip.open(log, "wb") as f:
        f.write(head.encode() + b"\n")
        for _ in range(64):
            f.write(b"a" * (1 << 20))  # 64 MiB without a line end
        f.write(b"\n" + tail.encode() + b"\n")
    tracemalloc.start()
    try:
        trace = load_trace([log], "nginx")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [(r.obj_id, r.size) for r in trace.requests] == [(0, 100), (1, 100)]
    assert trace.skipped == 1
    assert peak < 4 << 20, peak


@pytest.mark.parametrize("fmt", ["nginx", "edge", "auto"])
def test_a_line_nested_past_the_parsers_depth_is_skipped(tmp_path: Path, fmt: str) -> None:
    """A line of brackets nested deeper than the JSON parser's stack is no record (it was a
    traceback): skipped like any other line that is none, the file still told and read."""
    deep = '{"request": ' + "[" * 30_000 + "]" * 30_000 + "}"
    record = {"t": 1.0, "method": "GET", "path": "/a", "status": 200, "bytes": 5}
    edge_lines = [json.dumps(record), deep, json.dumps(record | {"t": 2.0})]
    log = tmp_path / "deep.log"
    log.write_text("\n".join([deep, *NGINX.splitlines()] if fmt == "nginx" else edge_lines))
    trace = load_trace([log], resolve_format([log], fmt))
    assert len(trace.requests) == (6 if fmt == "nginx" else 2)
    assert trace.skipped == (4 if fmt == "nginx" else 1)
    done = run_cli("cache", "replay", "--quiet", "--format", fmt, str(log), "--capacity", "100%")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def test_nginx_logs_with_iso_8601_times(tmp_path: Path) -> None:
    local, iso = tmp_path / "local.log", tmp_path / "iso.log"
    local.write_text(NGINX)
    # $time_iso8601, in another zone: the same instants
    iso.write_text(
        re.sub(
            r"\[29/Nov/2026:12:00:(\d\d) \+0000\]",
            lambda m: f"[2026-11-29T13:00:{m[1]}+01:00]",
            NGINX,
        )
    )
    assert "T13:00:04+01:00" in iso.read_text()
    assert load_trace([iso], "nginx").requests == load_trace([local], "nginx").requests


@pytest.mark.parametrize(
    "layout",
    [
        pytest.param(r"cdn.example.com:443 \g<0>", id="virtual-host-first"),
        pytest.param(r"\g<ip> - - [\g<at>] \g<request> \g<tail>", id="common"),
        pytest.param(r"\g<ip> [\g<at>] \g<request> \g<tail> 0.012 HIT", id="fields-after"),
        pytest.param(r"\g<iso> \g<ip> \g<request> \g<tail> \g<rest>", id="iso-time-first"),
        pytest.param(r"\g<ip> \g<msec> \g<request> \g<tail>", id="msec"),
    ],
)
def test_text_logs_laid_out_otherwise_are_read_the_same(tmp_path: Path, layout: str) -> None:
    """Operators add fields to the combined format or leave some out: a line is read by its
    quoted request, the status and bytes after it, and the time before it."""
    line = re.compile(
        r'^(?P<ip>\S+) \S+ \S+ \[(?P<at>[^\]]+)\] (?P<request>"[^"]*") '
        r"(?P<tail>\d+ \d+) (?P<rest>.*)$"
    )

    def relaid(match: re.Match[str]) -> str:
        at = datetime.strptime(match["at"], "%d/%b/%Y:%H:%M:%S %z")
        times = {"iso": at.isoformat(), "msec": f"{at.timestamp():.3f}"}
        return match.expand(re.sub(r"\\g<(iso|msec)>", lambda m: times[m[1]], layout))

    log = tmp_path / "access.log"
    log.write_text("\n".join(line.sub(relaid, text) for text in NGINX.splitlines()) + "\n")
    assert log.read_text() != NGINX
    assert resolve_format([log], "auto") == "nginx"
    reference = tmp_path / "combined.log"
    reference.write_text(NGINX)
    assert load_trace([log], "nginx").requests == load_trace([reference], "nginx").requests


def _as_json_lines(log: str, style: str) -> str:
    """`log`'s combined-format lines as an nginx log_format of JSON lines would write them
    (escape=json: every value a string), in one of two common shapes; other lines as they are."""
    line = re.compile(
        r'^(\S+) \S+ \S+ \[([^\]]+)\] "(\S+) (\S+) ([^"]*)" (\d+) (\d+) "[^"]*" "([^"]*)"$'
    )
    out = []
    for text in log.splitlines():
        match = line.match(text)
        if match is None:
            out.append(text)
            continue
        ip, at, method, target, version, status, sent, agent = match.groups()
        if style == "request":
            fields = {
                "remote_addr": ip,
                "time_local": at,
                "request": f"{method} {target} {version}",
            }
            fields |= {"status": status, "body_bytes_sent": sent, "http_user_agent": agent}
        else:
            msec = datetime.strptime(at, "%d/%b/%Y:%H:%M:%S %z").timestamp()
            fields = {"msec": f"{msec:.3f}", "request_method": method, "request_uri": target}
            fields |= {
                "status": int(status),
                "bytes_sent": int(sent),
                "upstream_cache_status": "MISS",
            }
        out.append(json.dumps(fields))
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("style", ["request", "method-and-uri"])
def test_nginx_logs_in_json_lines(tmp_path: Path, style: str) -> None:
    """An nginx log_format of JSON lines (`escape=json`) holds the same requests as the
    combined format: the same trace, told from the file's start."""
    combined, lines = tmp_path / "combined.log", tmp_path / "json.log"
    combined.write_text(NGINX)
    lines.write_text(_as_json_lines(NGINX, style))
    assert lines.read_text().count("{") == NGINX.count("HTTP/1.1")
    assert load_trace([lines], "nginx").requests == load_trace([combined], "nginx").requests
    assert load_trace([lines], "nginx").skipped == load_trace([combined], "nginx").skipped
    told = replay_cli(str(combined), "--capacity", "200B", "--policy", "lru")
    out = replay_cli(str(lines), "--capacity", "200B", "--policy", "lru")
    logged = "the cache that logged them: miss 1.0000, byte miss 1.0000 (of the 6 requests"
    if style == "method-and-uri":  # ($upstream_cache_status logged: what nginx did, as well)
        assert logged in out
        out = "\n".join(line for line in out.splitlines() if logged not in line) + "\n"
    assert out == told
    # a POP's own log is still told apart
    pop_log = tmp_path / "pop.log"
    record = {"t": 1.0, "method": "GET", "path": "/a", "status": 200, "bytes": 5}
    pop_log.write_text(json.dumps(record) + "\n")
    assert resolve_format([pop_log], "auto") == "edge"
    assert resolve_format([lines], "auto") == "nginx"


COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "zstd": zstandard.ZstdCompressor().compress,
}


def test_an_oracle_trace_cut_off_inside_a_record_is_refused_as_such(tmp_path: Path) -> None:
    """A trace whose last record was cut short (a download or copy that stopped) is refused
    with what is wrong, whether its format is told or looked for, and however long it is
    (the look at a file's start sees a long one's end only when it is read)."""
    for records in (30, 5000):  # under and over the 64 KiB looked at for the format
        whole = tmp_path / f"whole{records}.oracleGeneral"
        write_oracle_general(whole, [TraceRequest(i, i % 7 + 1, 100) for i in range(records)])
        cut = tmp_path / f"cut{records}.oracleGeneral"
        cut.write_bytes(whole.read_bytes()[:-10])
        for told in (["--format", "oracle"], []):
            done = run_cli("cache", "replay", "--quiet", *told, str(cut), timeout_s=60)
            assert done.returncode != 0
            assert f"{cut}: not an oracleGeneral file, or one cut off: it ends 14 bytes " in (
                done.stderr
            ), done.stderr
            assert "Traceback" not in done.stderr


@pytest.mark.parametrize("kind", sorted(COMPRESS))
def test_compressed_logs_read_as_plain_ones_and_cut_ones_are_refused(
    tmp_path: Path, kind: str
) -> None:
    plain = tmp_path / "access.log"
    plain.write_text(NGINX)
    packed = COMPRESS[kind](NGINX.encode())
    log = tmp_path / "rotated"  # told by its first bytes, not its name
    log.write_bytes(packed)
    read: list[int] = []
    trace = load_trace([log], "nginx", read.append)
    assert trace.requests == load_trace([plain], "nginx").requests
    assert sum(read) == len(packed)  # progress counts the file's own bytes
    cut = tmp_path / "cut"
    cut.write_bytes(packed[:-6])
    for told in (["--format", "nginx"], []):  # (its format told, or looked for in it)
        done = run_cli("cache", "replay", "--quiet", *told, str(cut), timeout_s=60)
        assert done.returncode != 0
        assert f"{cut}: damaged or cut-off compressed file" in done.stderr
        assert "Traceback" not in done.stderr


def test_an_oracle_trace_in_zstd_frames_and_rotated_logs_in_time_order(tmp_path: Path) -> None:
    requests = list(generate(HlsWorkload(sessions=50, videos=20, seed=4)))
    whole, parts = tmp_path / "whole.oracleGeneral", tmp_path / "parts.oracleGeneral.zst"
    write_oracle_general(whole, requests)
    data = whole.read_bytes()
    cut = len(data) // 2 + 5  # frames that end inside a record
    skippable = struct.pack("<II", 0x184D2A50, 4) + b"pzst"  # as pzstd starts its files
    parts.write_bytes(
        skippable
        + b"".join(zstandard.ZstdCompressor().compress(p) for p in (data[:cut], data[cut:]))
    )
    assert load_trace([parts], "oracle").requests == load_trace([whole], "oracle").requests
    # logrotate's names on a command line come newest first: the requests still go in time order
    lines = NGINX.splitlines(keepends=True)
    older, newer = tmp_path / "access.log.1.gz", tmp_path / "access.log"
    older.write_bytes(gzip.compress("".join(lines[:5]).encode()))
    newer.write_text("".join(lines[5:]))
    one = tmp_path / "all.log"
    one.write_text(NGINX)
    in_order = [(r.timestamp, r.size) for r in load_trace([one], "nginx").requests]
    assert [(r.timestamp, r.size) for r in load_trace([newer, older], "nginx").requests] == in_order


def test_a_pops_own_access_log(tmp_path: Path) -> None:
    segment = Route(b"x" * 5000, headers={"cache-control": "max-age=60"}, etag='"s"')
    origin = ScriptedOrigin({f"/vod/a/360p/{n}.m4s": segment for n in range(3)})
    log = tmp_path / "edge-access.log"
    with (
        serve_in_thread(origin) as origin_url,
        edge_process(tmp_path, origin_url, "--access-log", str(log)) as url,
        httpx.Client(base_url=url, timeout=10) as http,
    ):
        for n in (0, 1, 0, 2):
            http.get(f"/vod/a/360p/{n}.m4s")
        http.get("/vod/a/360p/1.m4s", headers={"range": "bytes=0-99"})
        http.get("/vod/a/360p/2.m4s", headers={"if-none-match": '"s"'})
        http.head("/vod/a/360p/0.m4s")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["status"] for r in records] == [200, 200, 200, 200, 206, 304, 200]
    assert [r["cache"] for r in records[:4]] == ["MISS", "MISS", "HIT", "MISS"]
    assert records[4]["bytes"] == 100
    assert records[4]["object_bytes"] == 5000  # a range names the whole object
    assert records[5]["object_bytes"] == 0
    trace = load_trace([log], "edge")
    assert [r.size for r in trace.requests] == [5000] * 7
    out = replay_cli(str(log), "--capacity", "10000B")
    # LRU with room for two of 0 1 0 2 1 2 0: misses at 0, 1, 2, 1 (0 out), 0 (1 out).
    assert rows(out, "10000B")["lru"][0] == "0.7143"
    # what the POP itself did (room for all three): its three misses, of seven requests
    assert [r["cache"] for r in records] == ["MISS", "MISS", "HIT", "MISS", "HIT", "HIT", "HIT"]
    assert trace.logged == LoggedOutcomes(requests=7, misses=3, bytes=35000, missed_bytes=15000)
    assert "the cache that logged them: miss 0.4286, byte miss 0.4286 (of the 7 requests" in out


def test_bad_input_is_refused_clearly(tmp_path: Path) -> None:
    odd = tmp_path / "odd.bin"
    odd.write_bytes(b"\x00" * 7)
    with pytest.raises(LogError, match="not an oracleGeneral"):
        load_trace([odd], "oracle")
    done = run_cli("cache", "replay", "--quiet", "--format", "oracle", str(odd), timeout_s=60)
    assert done.returncode != 0
    assert "not an oracleGeneral" in done.stderr
    assert "Traceback" not in done.stderr
    # an nginx log read as a POP's: the error says which format it looks like
    log = tmp_path / "access.log"
    log.write_text(NGINX)
    done = run_cli("cache", "replay", "--quiet", "--format", "edge", str(log), timeout_s=60)
    assert done.returncode != 0
    assert "read as --format edge (9 lines skipped" in done.stderr
    assert "it looks like --format nginx" in done.stderr
    # text told to be oracleGeneral records is refused, not read as numbers made of letters
    done = run_cli("cache", "replay", "--quiet", "--format", "oracle", str(log), timeout_s=60)
    assert done.returncode != 0
    assert "is text, not oracleGeneral records (--format nginx?)" in done.stderr
    # a wrong option is said before any file is read (a log of hours would be read first)
    for option, said in [
        (["--policy", "lur"], "unknown policy 'lur'"),
        (["--capacity", "10%,2OGB"], "--capacity: '2OGB' is not a size"),
        (["--capacity=-5%"], "--capacity: '-5%' is not a share"),
        (["--capacity", "0%"], "capacity '0%' is no bytes at all"),
    ]:
        done = run_cli("cache", "replay", "--quiet", *option, str(tmp_path / "none.log"))
        assert done.returncode != 0
        assert said in done.stderr, done.stderr
    # a file that is not there is named, as other tools name it
    done = run_cli("cache", "replay", "--quiet", str(tmp_path / "none.log"))
    assert done.returncode != 0
    assert done.stderr == f"cache replay: {tmp_path / 'none.log'}: no such file or directory\n"
    # a share of a footprint too small for a byte of it says how small the footprint is
    done = run_cli("cache", "replay", "--quiet", "--columns", "obj-id-col=1", str(log))
    assert done.returncode != 0
    assert "capacity '1%' of a footprint of 9 bytes is no bytes at all" in done.stderr


def test_times_and_sizes_beyond_32_bits_are_replayed(tmp_path: Path) -> None:
    """oracleGeneral (which Belady reads) holds times and sizes in 32 bits: a log's time after
    2106 or before 1970 and an object of 5 GB are replayed all the same, and the report says
    how Belady saw the large one."""
    log = tmp_path / "odd.log"
    log.write_text(
        '1.1.1.1 - - [29/Nov/2206:12:00:00 +0000] "GET /a HTTP/1.1" 200 100\n'
        '1.1.1.1 - - [29/Nov/1906:12:00:01 +0000] "GET /big HTTP/1.1" 200 5000000000\n'
        '1.1.1.1 - - [29/Nov/2026:12:00:02 +0000] "GET /a HTTP/1.1" 200 100\n'
        '1.1.1.1 - - [29/Nov/2026:12:00:03 +0000] "GET /big HTTP/1.1" 200 5000000000\n'
    )
    done = run_cli("cache", "replay", "--quiet", "--capacity", "6GB", "--policy", "lru", str(log))
    assert done.returncode == 0, done.stderr
    assert "1 object of 4 GiB or more: Belady sees it as 4 GiB - 1" in done.stdout
    assert rows(done.stdout, "6GB")["lru"][:2] == ["0.5000", "0.5000"]


def test_the_format_is_told_from_each_file(tmp_path: Path) -> None:
    """Without --format each file's start tells what it holds: the same report as with the
    format given; a file that looks like none, or files of different formats, are refused."""
    log = tmp_path / "access.log.gz"
    log.write_bytes(gzip.compress(NGINX.encode()))
    trace = tmp_path / "hls.oracleGeneral.zst"
    data = tmp_path / "plain.oracleGeneral"
    write_oracle_general(data, generate(HlsWorkload(sessions=30, videos=10, seed=5)))
    trace.write_bytes(zstandard.ZstdCompressor().compress(data.read_bytes()))
    for path, fmt in ((log, "nginx"), (trace, "oracle")):
        told = replay_cli(str(path), "--format", fmt, "--capacity", "300B,5%", "--policy", "lru")
        assert replay_cli(str(path), "--capacity", "300B,5%", "--policy", "lru") == told
    empty, junk = tmp_path / "empty.log", tmp_path / "junk.log"
    empty.write_bytes(b"")
    junk.write_text("not a request\n" * 3000)  # 42 KiB of lines, none a request
    for path in (empty, junk):
        done = run_cli("cache", "replay", "--quiet", str(path), timeout_s=60)
        assert done.returncode != 0
        assert f"cannot tell what {path} holds" in done.stderr
        assert "give --format oracle, nginx or edge" in done.stderr
    # a log that starts with lines that are no request is told by the first that is one
    late = tmp_path / "late.log"
    late.write_text("not a request\n" * 300 + NGINX)
    assert resolve_format([late], "auto") == "nginx"
    # an empty file among others (a POP that served nothing, a fresh rotation) says nothing
    nginx = ["--capacity", "300B", "--policy", "lru"]
    told = replay_cli(str(log), "--format", "nginx", *nginx)
    assert replay_cli(str(empty), str(log), *nginx) == told
    done = run_cli("cache", "replay", "--quiet", str(log), str(trace), timeout_s=60)
    assert done.returncode != 0
    assert f"different formats (nginx: {log}; oracle: {trace})" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_loaded_trace_takes_few_bytes_a_request(tmp_path: Path) -> None:
    """An operator's log may hold hundreds of millions of requests: a loaded trace keeps each
    in 24 bytes (as objects it took about 140), and writing it out for Belady adds 8."""
    requests = [TraceRequest(i // 100, i % 1000, 1000 + i % 7) for i in range(200_000)]
    path = tmp_path / "many.oracleGeneral"
    write_oracle_general(path, requests)
    del requests
    tracemalloc.start()
    try:
        trace = load_trace([path], "oracle")
        held = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        trace.requests.write_oracle(tmp_path / "again.oracleGeneral")
        writing = tracemalloc.get_traced_memory()[1] - held
    finally:
        tracemalloc.stop()
    assert len(trace.requests) == 200_000
    assert held / 200_000 < 32, held  # 24 a request (objects are placed by their numbers)
    assert writing / 200_000 < 16, writing
    assert (tmp_path / "again.oracleGeneral").read_bytes() == path.read_bytes()
    assert trace.requests[5] == TraceRequest(0, 5, 1005)
    assert trace.requests[-1] == TraceRequest(1999, 999, 1000 + 199_999 % 7)


def test_a_report_piped_to_a_reader_that_stops_early_ends_quietly(tmp_path: Path) -> None:
    """`mediacdn cache replay ... | head`: the reader goes away before the report is written;
    the command ends with 0 and no traceback."""
    log = tmp_path / "access.log"
    log.write_text(NGINX)
    reader, writer = os.pipe()
    os.close(reader)  # gone before anything is written
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mediacdn", "cache", "replay", "--quiet", str(log)],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(writer)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def test_capacities_are_shares_sizes_or_fractions_as_libcachesim_writes_them() -> None:
    """`cachesim`'s capacities carry over: 0.01 of the working set is 1% of the footprint,
    `1mb` and `8gb` are sizes; a number of 1 or more is bytes; one written twice is one."""
    got = cachereplay.parse_capacities("0.01, .5, 0.999, 1%, 1mb, 8gb, 1.0, 300, 1% ", 10_000)
    assert got == [
        ("0.01", 100),
        (".5", 5_000),
        ("0.999", 9_990),
        ("1%", 100),
        ("1mb", 1_000_000),
        ("8gb", 8_000_000_000),
        ("1.0", 1),
        ("300", 300),
    ]
    for wrong in ("0.0", "0", "00.5", "-0.5"):
        with pytest.raises(ValueError, match=r"no bytes at all|not a size"):
            cachereplay.parse_capacities(wrong, 10_000)


def test_policies_are_named_as_libcachesim_names_them() -> None:
    """Case and dashes aside (`LRU`, `S3-FIFO`, `S3FIFO`), each once, LRU always."""
    parse = cachereplay.parse_policies
    assert parse("S3FIFO, Sieve, s3-fifo, guided_arc") == ["s3fifo", "sieve", "guided-arc", "lru"]
    assert parse("LRU") == ["lru"]
    assert parse("ALL") == list(POLICIES)
    # Belady is always replayed: naming it (as libCacheSim's users do) asks for nothing more
    assert parse("LRU,Belady,BeladySize,S3-FIFO") == ["lru", "s3fifo"]
    assert parse("belady") == ["lru"]
    with pytest.raises(ValueError, match=r"unknown policy 'lfu'.*Belady is always replayed"):
        parse("lru,lfu")
