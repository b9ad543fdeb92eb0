"""Public cache traces written as columns of text (webcachesim's and LRB's, IBM's object
store's, Twitter's, Wikimedia's) replay as they are, told from their first line: the same
requests as the same columns said with `--columns`, and as libcachesim's own reader reads
them."""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import libcachesim as lcs

from edge.sim.columns import BLANKS, Columns
from edge.sim.logs import load_trace, resolve_format
from edge.sim.trace_layouts import told_columns
from tests.support.servers import run_cli


def test_each_layout_is_told_from_its_first_line() -> None:
    webcachesim = Columns(obj=1, time=0, size=2, delimiter=BLANKS, unit=1.0)
    assert told_columns("1 1 120\n") == webcachesim
    assert told_columns("1549000000  8812  40961  3  0\n") == webcachesim  # with features
    assert told_columns("1\t8812\t40961\n") == webcachesim
    tragen = Columns(obj=1, time=0, size=2, delimiter=",", unit=1.0)
    assert told_columns("0,0,318\n") == told_columns("255,227,2\r\n") == tragen
    ibm = Columns(obj=2, time=0, size=3, delimiter=BLANKS, reads=1, unit=0.001)
    for line in (
        "1219008 REST.PUT.OBJECT 8d4fcda3d675bac9 1056\n",
        "1232488 REST.GET.OBJECT 3b2255c46e4e1d0b 56 0 55\n",
        "1234567 REST.DELETE.OBJECT 3b2255c46e4e1d0b\n",
    ):
        assert told_columns(line) == ibm, line
    upload = Columns(obj=1, time=0, size=3, delimiter="\t", unit=1.0)
    assert told_columns("0\t-7451447093549338219\tjpeg\t12345\t0.000123\n") == upload
    assert told_columns("17\t42\tpng\t99\t0\n") == upload
    text = Columns(obj=1, time=0, size=2, delimiter="\t", unit=1.0)
    assert told_columns("3\t918273645\t5120\t1.5e-05\n") == text
    header = "relative_unix\thashed_path_query\timage_type\tresponse_size\ttime_firstbyte\n"
    assert told_columns(header) == Columns(
        "hashed_path_query", "relative_unix", "response_size", "\t", True, unit=1.0
    )
    twitter = Columns(obj=1, time=0, size=3, delimiter=",", reads=5, unit=1.0, key_size=2)
    assert told_columns("0,q:q:1:8WTfjZU,14,292,1,get,0\n") == twitter
    assert told_columns("12,nz:u:eeW511W3dcH3de3d15ec,24,0,3,set,86400\n") == twitter
    for other in (
        "0,q:q:1:8WTfjZU,14,292,1,fetch,0\n",
        "0,q:q:1:8WTfjZU,14,big,1,get,0\n",
        '10.0.0.1 - - [29/Nov/2026:12:00:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "-"\n',
        "1 2\n",  # two columns: which is the object?
        "a b c\n",
        "1,2\n",
        "1,2,x\n",
        "1219008 PUT 8d4fcda3d675bac9 1056\n",
        "1219008 REST.GET.OBJECT 8d4f 10 0\n",  # a range needs both ends
        "0\t1\tjpeg\tbig\t0.1\n",
        "time\tid\tsize\n",
        "",
    ):
        assert told_columns(other) is None, other


def _webcachesim(path: Path, n: int = 3000, seed: int = 5) -> list[tuple[int, int, int]]:
    """A webcachesim trace (time id size, two feature columns), an object's size fixed."""
    rng = random.Random(seed)
    sizes = {obj: rng.randrange(100, 50_000) for obj in range(400)}
    rows = []
    for i in range(n):
        obj = int(400 * rng.random() ** 3)
        rows.append((1_000 + i // 4, obj, sizes[obj]))
    path.write_text("".join(f"{t} {o} {s} {o % 7} 1\n" for t, o, s in rows))
    return rows


def test_a_webcachesim_trace_reads_as_libcachesim_reads_it(tmp_path: Path) -> None:
    trace = tmp_path / "wiki.tr"
    rows = _webcachesim(trace)
    params = lcs.ReaderInitParam()
    params.time_field, params.obj_id_field, params.obj_size_field = 1, 2, 3
    params.has_header, params.delimiter = False, " "
    reader = lcs.TraceReader(str(trace), lcs.TraceType.CSV_TRACE, reader_init_params=params)
    theirs = [(r.clock_time, r.obj_id, r.obj_size) for r in reader]
    assert resolve_format([trace], "auto") == "csv"
    read = load_trace([trace], "csv")
    ours = [(r.timestamp, r.obj_id, r.size) for r in read.requests]
    assert (read.skipped, read.unreadable) == (0, 0)
    assert [(t, s) for t, _, s in ours] == [(t, s) for t, _, s in theirs]
    assert [(t, s) for t, _, s in ours] == [(t, s) for t, _, s in rows]
    pairs = {(a, b) for (_, a, _), (_, b, _) in zip(ours, theirs, strict=True)}
    assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})


def _replay(*args: str, stdin: bytes | None = None) -> dict[str, Any]:
    argv = ("cache", "replay", "--quiet", *args, "--capacity", "10%,40%", "--json")
    if stdin is None:
        done = run_cli(*argv)
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))
    piped = subprocess.run(
        [sys.executable, "-m", "mediacdn", *argv], input=stdin, capture_output=True, timeout=120
    )
    assert piped.returncode == 0, piped.stderr
    return dict(json.loads(piped.stdout))


def test_a_told_trace_replays_as_its_columns_said(tmp_path: Path) -> None:
    """Told from its first line, compressed, from standard input, or said with --columns:
    one report."""
    trace = tmp_path / "wiki.tr"
    _webcachesim(trace)
    said = _replay(str(trace), "--columns", "time-col=1, obj-id-col=2, obj-size-col=3, delimiter= ")
    assert said["requests"] == 3000
    packed = tmp_path / "wiki.tr.gz"
    packed.write_bytes(gzip.compress(trace.read_bytes()))
    assert _replay(str(trace)) == said
    assert _replay(str(packed)) == said
    assert _replay("-", stdin=trace.read_bytes()) == said
    assert _replay(str(trace), "--format", "csv") == said
    tragen = tmp_path / "gen_sequence.txt"  # the same columns separated by commas
    tragen.write_text(
        "".join(",".join(line.split()[:3]) + "\n" for line in trace.read_text().splitlines())
    )
    assert _replay(str(tragen)) == said


def test_only_an_object_stores_reads_are_requests(tmp_path: Path) -> None:
    """IBM's object store traces: GETs (whole or a range) and HEADs are requests, of the size
    the row gives (a row without one: the object's known size); writes, deletes and copies
    are passed over, not misread; the time is in milliseconds."""
    trace = tmp_path / "IBMObjectStoreTrace000Part0"
    rng = random.Random(9)
    lines, expected = [], []
    at = 1_219_008
    for _ in range(2000):
        at += rng.randrange(0, 40)
        obj = int(150 * rng.random() ** 2)
        name, size = f"{obj * 7919:016x}", 300 + 13 * obj
        op = rng.choice(("GET", "GET", "GET", "HEAD", "PUT", "DELETE", "COPY"))
        if op == "DELETE":
            lines.append(f"{at} REST.DELETE.OBJECT {name}\n")
        elif op == "GET" and rng.random() < 0.3:
            lines.append(f"{at} REST.GET.OBJECT {name} {size} 0 {size // 3}\n")
        else:
            lines.append(f"{at} REST.{op}.OBJECT {name} {size}\n")
        if op in ("GET", "HEAD"):
            expected.append((at // 1000, name, size))
    lines.append(f"{at + 5} REST.GET.OBJECT {expected[-1][1]}\n")  # (no size: the known one)
    expected.append(((at + 5) // 1000, expected[-1][1], expected[-1][2]))
    trace.write_text("".join(lines))
    read = load_trace([trace], resolve_format([trace], "auto"))
    assert (read.skipped, read.unreadable) == (2001 - len(expected), 0)
    names: dict[str, int] = {}
    assert [(r.timestamp, r.obj_id, r.size) for r in read.requests] == [
        (t, names.setdefault(name, len(names)), size) for t, name, size in expected
    ]


def test_wikimedia_traces_read_with_their_header_or_without(tmp_path: Path) -> None:
    rng = random.Random(4)
    hashes = [rng.randrange(-(2**63), 2**63) for _ in range(300)]
    upload_rows, text_rows = [], []
    for i in range(2500):
        obj = int(300 * rng.random() ** 2)
        kind, size = ("jpeg", "png", "webm")[obj % 3], 1000 + 97 * obj
        upload_rows.append(f"{i // 3}\t{hashes[obj]}\t{kind}\t{size}\t{rng.random() / 50:.6f}\n")
        text_rows.append(f"{i // 3}\t{hashes[obj]}\t{size}\t{rng.random() / 50:.6f}\n")
    header = "relative_unix\thashed_path_query\timage_type\tresponse_size\ttime_firstbyte\n"
    bare, headed = tmp_path / "cache-u-00", tmp_path / "cache-u-00.tsv"
    bare.write_text("".join(upload_rows))
    headed.write_text(header + "".join(upload_rows))
    text = tmp_path / "cache-t-00"
    text.write_text("".join(text_rows))
    columns = "time-col=1, obj-id-col=2, obj-size-col=4, delimiter=tab"
    said = _replay(str(bare), "--columns", columns)
    assert said["requests"] == 2500
    assert _replay(str(bare)) == said
    assert _replay(str(headed)) == said
    assert _replay(str(text)) == said


def test_a_key_value_caches_gets_are_its_requests(tmp_path: Path) -> None:
    """Twitter's cache traces: a get is a request of the key and the value; a get of an empty
    value (a key not found) and the writes are passed over, as libCacheSim passes them."""
    trace = tmp_path / "cluster52.0"
    rng = random.Random(12)
    lines, expected = [], []
    for i in range(3000):
        obj = int(200 * rng.random() ** 2)
        key, key_size, value_size = f"nz:u:{obj:08x}", 13, 40 + 17 * obj
        op = rng.choice(("get", "get", "gets", "set", "add", "delete", "incr"))
        if op.startswith("get") and rng.random() < 0.1:
            value_size = 0  # a key not found
        ttl = 0 if op.startswith("get") else 3600
        lines.append(f"{i // 10},{key},{key_size},{value_size},{obj % 5},{op},{ttl}\n")
        if op.startswith("get") and value_size:
            expected.append((i // 10, key, key_size + value_size))
    trace.write_text("".join(lines))
    assert told_columns(lines[0]) is not None
    read = load_trace([trace], resolve_format([trace], "auto"))
    assert (read.skipped, read.unreadable) == (3000 - len(expected), 0)
    names: dict[str, int] = {}
    assert [(r.timestamp, r.obj_id, r.size) for r in read.requests] == [
        (t, names.setdefault(name, len(names)), size) for t, name, size in expected
    ]
