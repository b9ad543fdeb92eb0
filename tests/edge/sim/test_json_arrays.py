"""Logs exported as a JSON array of records (a log search's or a query's export, `jq -s`), on
one line or pretty-printed, read as the same records in JSON lines are: each record a line.
Before, such a file was refused ("cannot tell what it holds") or read as one unreadable line
per line of it."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from edge.sim import log_bytes
from edge.sim.log_bytes import LogError, is_json_array
from edge.sim.logs import guess_format, load_trace
from tests.support.servers import run_cli

RECORDS = [
    {
        "timestamp": f"2026-11-29T12:{i // 60 % 60:02}:{i % 60:02}Z",
        "method": "GET" if i % 50 else "POST",
        "path": f"/vod/v{i % 11}/{i * 7 % 60}.m4s",
        "status": 200,
        "bytes": 1000 + i * 7 % 60,
    }
    for i in range(3000)
]


def _requests(path: Path, fmt: str = "nginx") -> list[tuple[int, int, int]]:
    return [(r.timestamp, r.obj_id, r.size) for r in load_trace([path], fmt).requests]


def test_a_json_array_reads_as_its_json_lines(tmp_path: Path) -> None:
    lines = tmp_path / "records.jsonl"
    lines.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    expected = _requests(lines)
    assert len(expected) == 3000 - 60  # (the POSTs are no cache requests)
    half = len(RECORDS) // 2
    shapes = {
        "one-line.json": json.dumps(RECORDS).encode(),  # (a line over 64 KiB)
        "pretty.json": json.dumps(RECORDS, indent=2).encode(),
        "joined.json": (json.dumps(RECORDS[:half]) + "\n" + json.dumps(RECORDS[half:])).encode(),
        "packed.json.gz": gzip.compress(json.dumps(RECORDS, indent=1).encode()),
        "utf16.json": json.dumps(RECORDS).encode("utf-16"),
    }
    for name, data in shapes.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert guess_format(path) == "nginx", name
        assert _requests(path) == expected, name
    done = run_cli("cache", "replay", "--quiet", str(tmp_path / "pretty.json"), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["requests"], report["skipped"], report["unreadable"]) == (2940, 60, 0)


def test_a_pops_records_as_an_array_are_its_access_log(tmp_path: Path) -> None:
    record = {"t": 1795953600.0, "client": "10.0.0.1", "method": "GET", "path": "/a.m4s"}
    record |= {"status": 200, "bytes": 5, "object_bytes": 5, "cache": "MISS", "ms": 1.0}
    path = tmp_path / "pop.json"
    path.write_text(json.dumps([record, record | {"t": 1795953601.0, "cache": "HIT"}]))
    assert guess_format(path) == "edge"
    trace = load_trace([path], "edge")
    assert (len(trace.requests), trace.logged.requests) == (2, 2)


def test_a_cut_or_damaged_array_is_said(tmp_path: Path) -> None:
    whole = json.dumps(RECORDS[:100])
    cut = tmp_path / "cut.json"
    cut.write_text(whole[: whole.rindex("{") + 30])  # an export that stopped mid-record
    trace = load_trace([cut], "nginx")
    assert (len(trace.requests), trace.skipped, trace.unreadable) == (97, 3, 1)  # 2 POSTs
    damaged = tmp_path / "damaged.json"
    damaged.write_text(whole.replace('"status": 200', '"status": 2oo', 1))
    with pytest.raises(LogError, match="a JSON array whose record cannot be read"):
        load_trace([damaged], "nginx")
    done = run_cli("cache", "replay", "--quiet", str(damaged), "--format", "nginx")
    assert done.returncode == 1
    assert f"cache replay: {damaged}: a JSON array whose record cannot be read" in done.stderr
    huge = tmp_path / "huge.json"  # a record over 64 KiB: not held whole, refused
    huge.write_text(json.dumps([RECORDS[1] | {"agent": "x" * 200_000}, *RECORDS[:50]]))
    with pytest.raises(LogError, match="a JSON array whose record cannot be read"):
        load_trace([huge], "nginx")
    numbers = tmp_path / "numbers.json"
    numbers.write_text('[{"a": 1}, 2, 3]')
    with pytest.raises(LogError, match="a value that is no record"):
        load_trace([numbers], "nginx")


def test_text_logs_that_begin_with_a_bracket_are_lines() -> None:
    assert is_json_array(b'  [\n  {"path": "/a"}')
    assert is_json_array(b"[]")
    assert not is_json_array(b'[29/Nov/2026:12:00:00 +0000] 10.0.0.1 "GET /a HTTP/1.1" 200 5')
    assert not is_json_array(b'["a", "b"]')


@pytest.mark.parametrize("piece", [7, 64, 333, 4096])
def test_records_cut_where_a_read_ends_are_read_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piece: int
) -> None:
    """However the file's reads cut its records (in a number, a string, `true`, an escape,
    between a key and its value), each record is read whole."""
    records: list[dict[str, object]] = [
        {**r, "ts": 1795953600.25 + i, "ok": i % 2 == 0, "agent": 'caf\u00e9 "x"', "gone": None}
        for i, r in enumerate(RECORDS[:400])
    ]
    path = tmp_path / "records.json"
    path.write_text(json.dumps(records, indent=1 if piece % 2 else None))
    monkeypatch.setattr(log_bytes, "_PIECE", piece)
    read = list(log_bytes.lines(path, lambda n: None))
    assert [json.loads(record) for record in read] == records


@pytest.mark.parametrize("piece", [5, 64, 4096, 65536])
def test_azures_records_wrapper_reads_as_its_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piece: int
) -> None:
    """Azure Monitor's {"records": [...]} (an Event Hubs batch, a resource log archived before
    JSON lines), one or several one after another, compact or pretty, is read as its records,
    however the reads cut the wrapper."""
    lines = tmp_path / "records.jsonl"
    lines.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    expected = _requests(lines)
    third = len(RECORDS) // 3
    batches = [RECORDS[:third], RECORDS[third : 2 * third], RECORDS[2 * third :]]
    wrapped = tmp_path / "PT1H.json"
    wrapped.write_text(
        "".join(
            json.dumps({"records": b}, indent=2 if n % 2 else None) for n, b in enumerate(batches)
        )
    )
    monkeypatch.setattr(log_bytes, "_PIECE", piece)
    assert guess_format(wrapped) == "nginx"
    assert _requests(wrapped) == expected
    assert is_json_array(b'{ "records" :\n [ {"time": "x"}')
    assert not is_json_array(b'{"records": 5}')
