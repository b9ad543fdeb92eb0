"""Tables whose columns are said with `--columns`, as libCacheSim's `cachesim -t` says them:
libCacheSim's csv and plain-text traces (read here as libcachesim's own readers read them) and
tables whose header names its columns otherwise than the logs the replay knows."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path
from typing import Any

import libcachesim as lcs
import pytest

from edge.sim.columns import Columns, ColumnsError, parse_columns
from edge.sim.logs import load_trace
from tests.support.servers import run_cli


def test_the_columns_are_said_as_libcachesim_says_them() -> None:
    said = "time-col=1,op-type-col=2,obj-id-col=3,obj-size-col=4,delimiter=,,obj-id-is-num=0"
    assert parse_columns(said) == Columns(obj=2, time=0, size=3, delimiter=",")
    spaced = "time-col=2, obj-id-col=5, obj-size-col=4, delimiter=,, has-header=true"
    assert parse_columns(spaced) == Columns(obj=4, time=1, size=3, header=True)
    assert parse_columns("obj-id-col=1") == Columns(obj=0)
    for tab in ("delimiter=\t", "delimiter=\\t", "delimiter=tab"):
        assert parse_columns(f"obj-id-col=2, {tab}, time-col=1").delimiter == "\t", tab
    assert parse_columns("delimiter=;,obj-id-col=1").delimiter == ";"
    for spaced in (
        "obj-id-col=2, delimiter= ",
        "delimiter= , obj-id-col=2",
        "delimiter=space,obj-id-col=2",
    ):
        assert parse_columns(spaced) == Columns(obj=1, delimiter=" "), spaced
    named = "time-col=When, obj-id-col=Request Path, obj-size-col=Bytes Sent, has-header=true"
    assert parse_columns(named) == Columns("Request Path", "When", "Bytes Sent", ",", True)
    wrong = {
        "time-col=1, obj-size-col=2": "need obj-id-col",
        "obj-id-col=1, colour=blue": "unknown key 'colour'",
        "obj-id-col=path": "need has-header=true",
        "obj-id-col=0": "numbered from 1",
        "obj-id-col=1, delimiter=ab": "not one character",
        "obj-id-col=1, has-header=maybe": "not true or false",
        "obj-id-col": "key=value",
        "obj-id-col=": "names no column",
    }
    for spec, said_wrong in wrong.items():
        with pytest.raises(ColumnsError, match=said_wrong):
            parse_columns(spec)


def _block_trace(path: Path, n: int = 4000) -> None:
    """A block trace as libCacheSim's sample (data/trace.csv): version, time, operation, size
    and block number under a header; a block asked for again at another size now and then."""
    rng = random.Random(7)
    rows = ["version,time,op,size,lbn\n"]
    for i in range(n):
        block = 40_000_000 + int(3000 * rng.random() ** 2)
        size = 512 * rng.choice((1, 1, 8, 8, 32)) if rng.random() < 0.9 else 4096
        rows.append(f"1,{33_898 + i // 5},2a,{size},{block}\n")
    path.write_text("".join(rows))


def _libcachesim_reads(path: Path, params: lcs.ReaderInitParam) -> list[tuple[int, int, int]]:
    reader = lcs.TraceReader(str(path), lcs.TraceType.CSV_TRACE, reader_init_params=params)
    return [(r.clock_time, r.obj_id, r.obj_size) for r in reader]


def _same_requests(ours: list[tuple[int, int, int]], theirs: list[tuple[int, int, int]]) -> None:
    """The same times and sizes in the same order, and the same object wherever one is."""
    assert [(t, s) for t, _, s in ours] == [(t, s) for t, _, s in theirs]
    pairs = {(a, b) for (_, a, _), (_, b, _) in zip(ours, theirs, strict=True)}
    assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})


def test_a_libcachesim_csv_trace_reads_as_libcachesim_reads_it(tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    _block_trace(trace)
    params = lcs.ReaderInitParam()
    params.time_field, params.obj_id_field, params.obj_size_field = 2, 5, 4
    params.has_header, params.delimiter = True, ","
    theirs = _libcachesim_reads(trace, params)
    assert len(theirs) == 4000
    for spec in (
        "time-col=2, obj-id-col=5, obj-size-col=4, delimiter=,, has-header=true",
        "time-col=time, obj-id-col=lbn, obj-size-col=size, has-header=true",
    ):
        read = load_trace([trace], "csv", columns=parse_columns(spec))
        assert (read.skipped, read.unreadable) == (0, 0)
        _same_requests([(r.timestamp, r.obj_id, r.size) for r in read.requests], theirs)
    # headerless, tab-separated, compressed: the same requests
    rows = trace.read_text().splitlines()[1:]
    tabbed = tmp_path / "trace.tsv.gz"
    tabbed.write_bytes(gzip.compress("".join(r.replace(",", "\t") + "\n" for r in rows).encode()))
    spec = "time-col=2, obj-id-col=5, obj-size-col=4, delimiter=\\t"
    read = load_trace([tabbed], "csv", columns=parse_columns(spec))
    _same_requests([(r.timestamp, r.obj_id, r.size) for r in read.requests], theirs)


def test_a_plain_text_trace_is_one_object_a_line(tmp_path: Path) -> None:
    """libCacheSim's txt traces: an object id a line, each object one byte."""
    trace = tmp_path / "trace.txt"
    ids = [str(int(500 * random.Random(3).random() ** 2) + i % 3) for i in range(1000)]
    trace.write_text("\n".join(ids) + "\n")
    theirs = [
        (r.obj_id, r.obj_size) for r in lcs.TraceReader(str(trace), lcs.TraceType.PLAIN_TXT_TRACE)
    ]
    read = load_trace([trace], "csv", columns=parse_columns("obj-id-col=1"))
    ours = [(r.obj_id, r.size) for r in read.requests]
    assert [s for _, s in ours] == [s for _, s in theirs] == [1] * 1000
    assert len({(a, b) for (a, _), (b, _) in zip(ours, theirs, strict=True)}) == len(set(ids))


def test_a_table_is_read_as_lines_whose_first_looks_like_a_json_array(tmp_path: Path) -> None:
    """Told the columns, a file is a table: one whose first object id begins "[{" (keys
    written as JSON) is not taken for a JSON array of records."""
    trace = tmp_path / "keys.txt"
    keys = [f'[{{"user":{i % 7}}},{{"at":{i}}}]' for i in range(50)]
    trace.write_text("\n".join(keys) + "\n")
    read = load_trace([trace], "csv", columns=parse_columns("obj-id-col=1"))
    assert len(read.requests) == 50
    assert not read.skipped
    assert len({r.obj_id for r in read.requests}) == 7


def _replay(*args: str) -> dict[str, Any]:
    done = run_cli("cache", "replay", "--quiet", *args, "--capacity", "20%,50%", "--json")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_a_table_named_otherwise_replays_as_the_same_log(tmp_path: Path) -> None:
    """A spreadsheet's table ("When", "Request Path", "Bytes Sent") is the same report as the
    same requests in nginx's log; a row that gives no request is counted unreadable."""
    rng = random.Random(11)
    sizes = {v: rng.randrange(1000, 90_000) for v in range(60)}
    picks = [int(60 * rng.random() ** 2) for _ in range(800)]
    nginx = tmp_path / "access.log"
    nginx.write_text(
        "".join(
            f"10.0.0.1 - - [29/Nov/2026:12:{i // 60 % 60:02}:{i % 60:02} +0000] "
            f'"GET /vod/v/{v}.m4s HTTP/1.1" 200 {sizes[v]} "-" "hls.js"\n'
            for i, v in enumerate(picks)
        )
    )
    table = tmp_path / "export.tsv"
    table.write_text(
        "Client\tWhen\tRequest Path\tBytes Sent\n"
        + "".join(
            f"10.0.0.1\t2026-11-29T12:{i // 60 % 60:02}:{i % 60:02}Z\t/vod/v/{v}.m4s\t{sizes[v]}\n"
            for i, v in enumerate(picks)
        )
        + "10.0.0.1\t2026-11-29T13:00:00Z\t/vod/v/1.m4s\tlots\n"
    )
    expected = _replay(str(nginx))
    spec = "time-col=When, obj-id-col=request path, obj-size-col=Bytes Sent, has-header=true"
    got = _replay(str(table), "--columns", spec + ", delimiter=tab")
    assert (got.pop("unreadable"), expected.pop("unreadable")) == (1, 0)
    assert (got.pop("skipped"), expected.pop("skipped")) == (1, 0)
    assert got.pop("first_unreadable").endswith("/vod/v/1.m4s\tlots")
    expected.pop("first_unreadable")
    assert got == expected


def test_what_is_wrong_with_the_columns_is_said(tmp_path: Path) -> None:
    table = tmp_path / "export.csv"
    table.write_text("Path,Bytes\n/a,10\n/b,20\n")
    cases = {
        ("--format", "csv"): (
            "export.csv is no trace whose columns can be told (webcachesim's, IBM's object "
            "store's, Twitter's, Wikimedia's; its first line: 'Path,Bytes'): say them with "
            "--columns"
        ),
        ("--columns", "obj-id-col=1", "--format", "nginx"): "not with --format nginx",
        ("--columns", "obj-id-col=Path, obj-size-col=Size, has-header=true"): (
            "no column named 'Size' in the header (Path, Bytes)"
        ),
        ("--columns", "obj-id-col=1, size=2"): "unknown key 'size'",
    }
    for args, said in cases.items():
        done = run_cli("cache", "replay", "--quiet", str(table), *args)
        assert done.returncode == 1, (args, done.stderr)
        assert said in done.stderr, (args, done.stderr)
    # told nothing, the replay shows the header whose names --columns can say
    done = run_cli("cache", "replay", "--quiet", str(table))
    assert done.returncode == 1
    assert "; its first line: 'Path,Bytes'): give --format" in done.stderr
    assert "--columns to say where a table's values are" in done.stderr
    ok = _replay(str(table), "--columns", "obj-id-col=Path, obj-size-col=Bytes, has-header=true")
    assert (ok["requests"], ok["footprint_bytes"]) == (2, 30)


def test_timeless_traces_follow_one_another_in_the_order_named(tmp_path: Path) -> None:
    first, second = tmp_path / "part1.txt", tmp_path / "part2.txt"
    first.write_text("a\nb\na\n")
    second.write_text("c\na\n")
    columns = parse_columns("obj-id-col=1")
    read = load_trace([first, second], "csv", columns=columns)
    assert [r.obj_id for r in read.requests] == [0, 1, 0, 2, 0]
    read = load_trace([second, first], "csv", columns=columns)
    assert [r.obj_id for r in read.requests] == [0, 1, 1, 2, 1]
