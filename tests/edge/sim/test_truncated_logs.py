"""A log truncated under its writer: logrotate's `copytruncate` copies the log and empties it,
and a writer that keeps its own offset (opened without O_APPEND) writes its next line that far
into the emptied file, so the file begins with a run of NUL bytes as long as the log was. The
replay reads such a log as the lines after the NULs, told by its first request, where any NUL
once made it a binary trace ("not an oracleGeneral file"). A NUL in a line makes that line
unreadable, not the log binary."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from edge.sim.logs import guess_format, load_trace, resolve_format
from edge.sim.trace import TraceRequest, write_oracle_general
from tests.support.servers import run_cli


def _nginx_lines(hour: int, count: int) -> str:
    """`count` requests of one hour, nginx's combined format, each of 100 to 4000 bytes."""
    return "".join(
        f"10.0.{i % 7}.{i % 251} - - [29/Nov/2026:{hour:02}:{i // 60 % 60:02}:{i % 60:02} +0000] "
        f'"GET /vod/v{i % 13}/720p/{i % 97}.m4s HTTP/1.1" 200 {100 + i % 3900} "-" "hls.js"\n'
        for i in range(count)
    )


def _rotated_under_its_writer(log: Path, before: str, after: str) -> Path:
    """`before` written to `log` by a writer keeping its offset, the log rotated by copying
    and truncating it (as logrotate's copytruncate does), then `after` written by the same
    writer; returns the rotated copy."""
    rotated = log.with_name(log.name + ".1")
    with log.open("wb") as writer:  # (no O_APPEND: its writes land at its own offset)
        writer.write(before.encode())
        writer.flush()
        shutil.copyfile(log, rotated)
        os.truncate(log, 0)
        writer.write(after.encode())
    return rotated


def _replay(*args: str) -> dict[str, Any]:
    done = run_cli("cache", "replay", "--quiet", *args, "--capacity", "10%", "--json")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_a_log_truncated_under_its_writer_replays_as_its_lines(tmp_path: Path) -> None:
    before, after = _nginx_lines(11, 3000), _nginx_lines(12, 900)
    assert len(before) > 2 * (1 << 16)  # NULs past the 64 KiB a format is told from
    log = tmp_path / "access.log"
    rotated = _rotated_under_its_writer(log, before, after)
    data = log.read_bytes()
    assert data.startswith(b"\0" * len(before.encode()))
    assert data.endswith(after.encode())
    assert guess_format(log) == "nginx"
    assert len(load_trace([log], "nginx").requests) == 900
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "access.log.1").write_text(before)
    (plain / "access.log").write_text(after)
    expected = _replay(str(plain / "access.log"), str(plain / "access.log.1"))
    assert (expected["requests"], expected["unreadable"]) == (3900, 0)
    assert _replay(str(log), str(rotated)) == expected
    whole = list(load_trace([plain / "access.log", plain / "access.log.1"], "nginx").requests)
    assert list(load_trace([log, rotated], "nginx").requests) == whole
    # rotated once more, compressed: its NULs are inside the gzip
    packed = tmp_path / "access.log.2.gz"
    packed.write_bytes(gzip.compress(data))
    assert resolve_format([packed, rotated], "auto") == "nginx"
    assert list(load_trace([packed, rotated], "nginx").requests) == whole
    # piped in
    piped = subprocess.run(
        [sys.executable, "-m", "mediacdn", "cache", "replay", "-", "--policy", "lru", "--json"],
        input=data,
        capture_output=True,
        timeout=120,
    )
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["requests"] == 900
    # and told it holds binary records, it says it is text
    done = run_cli("cache", "replay", "--quiet", str(log), "--format", "oracle")
    assert done.returncode != 0
    assert "is text, not oracleGeneral records (--format nginx?)" in done.stderr


def test_every_text_format_is_told_after_nuls(tmp_path: Path) -> None:
    """The POP's JSON lines, W3C extended logs and tables under a header (the header, or the
    W3C directives, come after the NULs), each NUL run shorter and longer than a line may be."""
    record = {"t": 1795953600.0, "client": "10.0.0.1", "method": "GET", "path": "/a.m4s"}
    record |= {"status": 200, "bytes": 5, "object_bytes": 5, "cache": "MISS", "ms": 1.0}
    logs = {
        "edge": json.dumps(record) + "\n",
        "w3c": "#Version: 1.0\n#Fields: date time cs-method cs-uri-stem sc-status sc-bytes\n"
        "2026-11-29 12:00:00 GET /a.m4s 200 100\n",
        "table": "time,method,path,status,bytes\n2026-11-29T12:00:00Z,GET,/a.m4s,200,100\n",
    }
    for run in (3, 200_000):
        for name, text in logs.items():
            path = tmp_path / f"{name}-{run}.log"
            path.write_bytes(b"\0" * run + text.encode())
            fmt = "edge" if name == "edge" else "nginx"
            assert guess_format(path) == fmt, (name, run)
            trace = load_trace([path], fmt)
            assert (len(trace.requests), trace.unreadable) == (1, 0), (name, run)


def test_a_nul_in_a_line_makes_that_line_unreadable(tmp_path: Path) -> None:
    lines = _nginx_lines(12, 20).splitlines(keepends=True)
    lines[3] = lines[3].replace('" 200 ', '" 2\0\0 ')  # (its status damaged)
    log = tmp_path / "access.log"
    log.write_text("".join(lines))
    assert guess_format(log) == "nginx"
    doc = _replay(str(log))
    assert (doc["requests"], doc["unreadable"]) == (19, 1)


def test_binary_traces_that_begin_with_nuls_are_still_binary(tmp_path: Path) -> None:
    """oracleGeneral records of time 0 begin with NULs, and every record holds some."""
    trace = tmp_path / "trace.oracleGeneral"
    requests = [TraceRequest(0, 10 + i % 5, 1000) for i in range(40)]
    write_oracle_general(trace, requests)
    assert trace.read_bytes().startswith(b"\0\0\0\0")
    assert guess_format(trace) == "oracle"
    assert _replay(str(trace))["requests"] == 40
    nuls = tmp_path / "nothing.bin"
    nuls.write_bytes(b"\0" * 24 * 10)  # ten records of nothing: empty records, skipped
    assert guess_format(nuls) == "oracle"
