"""`mediacdn cache replay` given a directory (every log under it) or standard input ("-": a
log piped in, compressed or not), and the tape that lets a piped log be read from its start
again once its format is told."""

from __future__ import annotations

import gzip
import io
import json
import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from edge.sim import log_sources
from edge.sim.log_sources import STDIN, SourceError, listed
from tests.edge.sim.test_cache_replay import NGINX, replay_cli
from tests.support.servers import run_cli

LATER = NGINX.replace("12:00:", "13:00:")  # the same requests an hour later


def _cli_with_input(data: bytes, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mediacdn", "cache", "replay", "--quiet", *args],
        input=data.decode("latin-1"),
        capture_output=True,
        text=True,
        encoding="latin-1",
        timeout=120,
    )


def test_a_directory_is_every_log_under_it(tmp_path: Path) -> None:
    """Its files, in its subdirectories too (a load balancer files its logs by date), hidden
    ones left out; a file that holds no request log (an error log, an empty one) is left out
    and named, where the format is told from the files."""
    logs = tmp_path / "logs"
    (logs / "2026" / "11" / "29").mkdir(parents=True)
    (logs / "access.log").write_text(NGINX)
    (logs / "2026" / "11" / "29" / "access.log.1.gz").write_bytes(gzip.compress(LATER.encode()))
    (logs / "error.log").write_text("2026/11/29 12:00:00 [error] 7#7: *1 open() failed\n")
    (logs / "empty.log").write_text("")
    (logs / ".state").mkdir()
    (logs / ".state" / "offsets").write_text("garbage that is no log\n")
    named = tmp_path / "named"
    named.mkdir()
    (named / "a.log").write_text(NGINX)
    (named / "b.log").write_text(LATER)
    args = ("--capacity", "200B", "--policy", "lru,s3fifo")
    expected = replay_cli(str(named / "a.log"), str(named / "b.log"), *args)
    done = run_cli("cache", "replay", "--quiet", str(logs), *args)
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected
    assert "left out 2 file(s)" in done.stderr
    assert "error.log" in done.stderr
    assert "empty.log" in done.stderr
    assert "offsets" not in done.stderr
    # told the format, every file counts (the error log's lines are lines skipped)
    told = replay_cli(str(logs), "--format", "nginx", *args)
    # (the error log's line and each log's line that is no log line are unreadable)
    assert told.splitlines()[0].startswith("12 requests (7 lines skipped, 3 of them unreadable)")
    empty = tmp_path / "nothing"
    empty.mkdir()
    done = run_cli("cache", "replay", "--quiet", str(empty))
    assert done.returncode != 0
    assert f"no files under {empty}" in done.stderr


def test_a_log_piped_in_replays_as_its_file_does(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(NGINX)
    args = ("--capacity", "200B", "--policy", "lru")
    expected = replay_cli(str(log), *args)
    for data in (NGINX.encode(), gzip.compress(NGINX.encode())):
        done = _cli_with_input(data, "-", *args)
        assert done.returncode == 0, done.stderr
        assert done.stdout == expected
    later = tmp_path / "later.log"
    later.write_text(LATER)
    both = _cli_with_input(NGINX.encode(), "-", str(later), *args)  # merged in time order
    assert both.returncode == 0, both.stderr
    assert both.stdout == replay_cli(str(log), str(later), *args)
    twice = _cli_with_input(NGINX.encode(), "-", "-")
    assert twice.returncode != 0
    assert "standard input (-) named twice" in twice.stderr
    nothing = _cli_with_input(b"not a log\n", "-")
    assert nothing.returncode != 0
    assert "cannot tell what standard input holds" in nothing.stderr


def test_standard_input_that_is_a_terminal_is_refused_at_once() -> None:
    """`-` with nothing piped in would wait on the keyboard for a log nobody types."""
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mediacdn", "cache", "replay", "--quiet", "-"],
            stdin=follower,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode != 0
    assert "standard input (-) is a terminal, not a log: pipe one in" in done.stderr


def test_a_log_read_from_a_pipe_is_read_whole(tmp_path: Path) -> None:
    """A named pipe, or the one a shell's process substitution gives (`<(zcat log.gz)`), can
    be read once: its first bytes, read to tell its format, were lost to the replay (a log of
    5 000 lines replayed as 4 297). It is read through a tape, as standard input is."""
    lines = "".join(
        f"10.0.0.1 - - [29/Nov/2026:12:{i // 60 % 60:02}:{i % 60:02} +0000] "
        f'"GET /vod/v/{i * 7919 % 300}.m4s HTTP/1.1" 200 {1000 + i % 7} "-" "hls.js"\n'
        for i in range(5000)
    )
    assert len(lines) > 2 * (1 << 16)  # past the 64 KiB a format is told from
    log = tmp_path / "access.log"
    log.write_text(lines)
    args = ("--quiet", "--capacity", "10%", "--policy", "lru", "--json")
    expected = json.loads(replay_cli(str(log), *args[1:]))
    assert expected["requests"] == 5000
    packed = tmp_path / "access.log.gz"
    packed.write_bytes(gzip.compress(lines.encode()))
    script = f'exec "$0" -m mediacdn cache replay <(zcat {packed}) {" ".join(args)}'
    substituted = subprocess.run(
        ["bash", "-c", script, sys.executable],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert substituted.returncode == 0, substituted.stderr
    assert json.loads(substituted.stdout) == expected
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(lines.encode(),))
    writer.start()
    named = run_cli("cache", "replay", str(fifo), *args)
    writer.join(timeout=60)
    assert named.returncode == 0, named.stderr
    assert json.loads(named.stdout) == expected


def _read(reader: io.RawIOBase, n: int) -> bytes:
    buffer = bytearray(n)
    got = reader.readinto(buffer)
    return bytes(buffer[:got])


def test_the_tape_reads_a_stream_again_from_its_start(monkeypatch: pytest.MonkeyPatch) -> None:
    data = bytes(range(256)) * 64
    tape = log_sources._Tape(io.BytesIO(data))
    first = tape.reader()
    assert _read(first, 100) == data[:100]
    second = tape.reader()  # from the start: the kept bytes, then on from the stream
    assert b"".join(iter(lambda: _read(second, 1000), b"")) == data
    monkeypatch.setattr(log_sources, "KEPT_MAX", 1000)
    tape = log_sources._Tape(io.BytesIO(data))
    reader = tape.reader()
    assert b"".join(iter(lambda: _read(reader, 700), b"")) == data
    again = tape.reader()
    assert _read(again, 700) == data[:700]  # kept
    with pytest.raises(SourceError, match="standard input can be read once"):
        _read(again, 700)  # gone: only the first KEPT_MAX bytes are kept


def test_listed_names_standard_input_once(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text(NGINX)
    files, found = listed([STDIN, tmp_path])
    assert (files, found) == ([STDIN, tmp_path / "a.log"], [tmp_path / "a.log"])
    with pytest.raises(SourceError):
        listed([STDIN, tmp_path, STDIN])
    # a file named and found in a directory named too is one log
    files, found = listed([tmp_path / "a.log", tmp_path, tmp_path / "." / "a.log"])
    assert (files, found) == ([tmp_path / "a.log"], [])
