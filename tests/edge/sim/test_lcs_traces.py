"""`mediacdn cache replay` on libCacheSim's lcs traces (the format its newer public datasets
come in), written here by libcachesim itself from a small CSV trace and read back by
libcachesim for what each one holds."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import libcachesim as lcs
import pytest
import zstandard

from edge.sim.binary_trace import LCS_HEADER, LCS_MAGIC
from edge.sim.log_bytes import LogError
from edge.sim.logs import load_trace, resolve_format
from edge.sim.trace import RECORD, TraceRequest, write_oracle_general
from tests.support.servers import run_cli

RECORD_SIZES = {1: 24, 2: 28, 3: 36, 4: 40, 5: 44, 6: 52, 7: 68, 8: 100}


def lcs_trace(tmp_path: Path, version: int, n: int = 3000) -> Path:
    """An lcs trace of `version` holding `n` requests of a skewed set of objects of varied
    sizes (some asked for again after their size changed), written by libcachesim."""
    rng = random.Random(version)
    sizes = {obj: rng.randrange(1, 20_000) for obj in range(1, 2001)}
    csv = tmp_path / "trace.csv"
    lines = []
    for i in range(n):
        obj = int(2000 * rng.random() ** 3) + 1
        if rng.random() < 0.01:
            sizes[obj] = rng.randrange(1, 20_000)
        lines.append(f"{1_700_000_000 + i // 3},{obj},{sizes[obj]}\n")
    csv.write_text("".join(lines))
    params = lcs.ReaderInitParam()
    params.time_field, params.obj_id_field, params.obj_size_field = 1, 2, 3
    params.has_header, params.delimiter, params.obj_id_is_num = False, ",", True
    reader = lcs.TraceReader(str(csv), lcs.TraceType.CSV_TRACE, reader_init_params=params)
    out = tmp_path / f"trace.v{version}.lcs"
    lcs.Util.convert_to_lcs(reader._reader, str(out), lcs_ver=version)
    return out


def libcachesim_reads(path: Path) -> list[TraceRequest]:
    reader = lcs.TraceReader(str(path), lcs.TraceType.LCS_TRACE)
    return [TraceRequest(r.clock_time, r.obj_id, r.obj_size) for r in reader if r.obj_size > 0]


@pytest.mark.parametrize("version", sorted(RECORD_SIZES))
def test_each_lcs_version_reads_as_libcachesim_reads_it(tmp_path: Path, version: int) -> None:
    path = lcs_trace(tmp_path, version)
    data = path.read_bytes()
    assert data.startswith(LCS_MAGIC)
    assert (len(data) - LCS_HEADER) % RECORD_SIZES[version] == 0
    assert resolve_format([path], "auto") == "oracle"
    expected = libcachesim_reads(path)
    assert len(expected) > 2900
    assert list(load_trace([path], "oracle").requests) == expected
    packed = tmp_path / "trace.lcs.zst"  # as the public datasets are stored
    packed.write_bytes(zstandard.ZstdCompressor().compress(data))
    assert resolve_format([packed], "auto") == "oracle"
    assert list(load_trace([packed], "oracle").requests) == expected


def test_an_lcs_trace_replays_as_the_same_requests_in_oracle_general(tmp_path: Path) -> None:
    """The whole report of an lcs file, from the command line, is that of the same requests
    written as an oracleGeneral file."""
    path = lcs_trace(tmp_path, 3)
    oracle = tmp_path / "same.oracleGeneral"
    write_oracle_general(oracle, libcachesim_reads(path))
    reports = []
    for trace in (path, oracle):
        done = run_cli(
            "cache",
            "replay",
            "--quiet",
            "--json",
            "--capacity",
            "2%,20%",
            str(trace),
            timeout_s=300,
        )
        assert done.returncode == 0, done.stderr
        reports.append(json.loads(done.stdout))
    assert reports[0] == reports[1]
    assert reports[0]["requests"] > 2900


def test_damaged_lcs_traces_are_refused_saying_what_is_wrong(tmp_path: Path) -> None:
    data = lcs_trace(tmp_path, 2).read_bytes()
    version_9 = data[:8] + (9).to_bytes(8, "little") + data[16:]
    no_end_mark = data[: LCS_HEADER - 8] + bytes(8) + data[LCS_HEADER:]
    cases = {
        "cut off inside its 8 KiB header (5000 bytes)": data[:5000],
        "ends 10 bytes into a 28-byte record": data[: LCS_HEADER + 28 * 5 + 10],
        "of version 9: versions 1 to 8 are read": version_9,
        "whose header is damaged": no_end_mark,
    }
    for i, (says, content) in enumerate(cases.items()):
        path = tmp_path / f"damaged{i}.lcs"
        path.write_bytes(content)
        with pytest.raises(LogError, match=re.escape(says)):
            load_trace([path], "oracle")
        for told in (["--format", "oracle"], []):
            done = run_cli("cache", "replay", "--quiet", *told, str(path), timeout_s=60)
            assert done.returncode != 0
            assert f"{path}: " in done.stderr, done.stderr
            assert says in done.stderr, done.stderr
            assert "Traceback" not in done.stderr
    # a long trace cut inside a record is found when its end is read
    long_cut = tmp_path / "long_cut.lcs"
    long_cut.write_bytes(data[:-3])
    assert len(data) > 1 << 16
    with pytest.raises(LogError, match="ends 25 bytes into a 28-byte record"):
        load_trace([long_cut], resolve_format([long_cut], "auto"))


def test_bytes_that_are_no_records_are_not_replayed_as_requests(tmp_path: Path) -> None:
    """Any file of a whole number of 24-byte records would read as oracleGeneral records; the
    records' next-access fields tell a trace from other bytes: libCacheSim's own records (its
    version 1 lcs records are oracleGeneral's) are a trace, random bytes and text are not."""
    written = lcs_trace(tmp_path, 1).read_bytes()[LCS_HEADER:]
    trace = tmp_path / "libcachesim.oracleGeneral"
    trace.write_bytes(written)
    assert resolve_format([trace], "auto") == "oracle"
    assert list(load_trace([trace], "oracle").requests) == [
        TraceRequest(at, obj, size) for at, obj, size, _ in RECORD.iter_unpack(written) if size
    ]
    rng = random.Random(5)
    noise = tmp_path / "noise.bin"
    noise.write_bytes(rng.randbytes(24 * 400))
    text = tmp_path / "notes.bin"  # text with a NUL, told by no format's lines
    text.write_bytes(b"\0" * 24 + b"these are notes, not requests\n" * 4 * 24)
    for path in (noise, text):
        with pytest.raises(LogError, match=r"read as 24-byte records, .* give a next access"):
            resolve_format([path], "auto")
        done = run_cli("cache", "replay", "--quiet", str(path))
        assert done.returncode == 1
        assert "not an oracleGeneral file" in done.stderr
