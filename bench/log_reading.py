"""How fast `mediacdn cache replay` reads request logs: the bench trace's requests written as
each kind of log an operator has (nginx's combined format, Apache's vhost_combined, a
CloudFront W3C log, Caddy's JSON, the Elastic Common Schema's nested JSON, nginx's lines as
Docker's json-file driver carries them, Caddy's records as a JSON array, CloudFront's fields as
a CSV table, the combined format in UTF-16, the anchor's own CSV read by --columns,
webcachesim's `time id size` told from its rows, libCacheSim's lcs records) and read into a
trace (CPU seconds, medians), against libcachesim (C) reading the same requests as a CSV trace
(time, path, size) through an LRU of one byte (which keeps nothing: reading is all it does),
the anchor. Not a target: the figures tell how long a day of logs takes to read.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import libcachesim as lcs

from bench.common import machine
from edge.sim.cachereplay import c_stderr_quiet
from edge.sim.columns import parse_columns
from edge.sim.logs import LoadedTrace, load_trace
from edge.sim.trace import TraceRequest
from edge.sim.workload import HlsWorkload, generate

START = 1_795_953_600  # 2026-11-29 12:00 UTC
Row = tuple[datetime, str, int]  # time, path, bytes


def _rows(requests: Iterable[TraceRequest]) -> list[Row]:
    return [
        (datetime.fromtimestamp(START + r.timestamp, UTC), f"/vod/{r.obj_id:x}.m4s", r.size)
        for r in requests
    ]


def combined(rows: list[Row]) -> str:
    return "".join(
        f'10.0.0.1 - - [{at:%d/%b/%Y:%H:%M:%S} +0000] "GET {path} HTTP/1.1" 200 {size} "-" '
        '"hls.js/1.5"\n'
        for at, path, size in rows
    )


def vhost_combined(rows: list[Row]) -> str:
    return "".join(f"cdn.example:443 {line}\n" for line in combined(rows).splitlines())


# CloudFront's fields of a request, as its W3C log names them and as Athena's table of them does
W3C_FIELDS = "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status"
W3C_FIELDS += " cs(User-Agent) cs-uri-query sc-content-len"
ATHENA_COLUMNS = "date,time,location,bytes,request_ip,method,host,uri,status,user_agent,"
ATHENA_COLUMNS += "query_string,sc_content_len"


def _cloudfront_values(rows: list[Row], separator: str) -> str:
    return "".join(
        separator.join(
            (f"{at:%Y-%m-%d}", f"{at:%H:%M:%S}", "CDG50-C1", str(size + 310), "10.0.0.1", "GET",
             "d1.cloudfront.net", path, "200", "hls.js/1.5", "-", str(size))
        ) + "\n"
        for at, path, size in rows
    )  # fmt: skip


def cloudfront(rows: list[Row]) -> str:
    return f"#Version: 1.0\n#Fields: {W3C_FIELDS}\n" + _cloudfront_values(rows, "\t")


def athena_csv(rows: list[Row]) -> str:
    """CloudFront's fields as Athena's table of them holds them, exported as CSV."""
    return f"{ATHENA_COLUMNS}\n" + _cloudfront_values(rows, ",")


def caddy(rows: list[Row]) -> str:
    return "".join(
        json.dumps(
            {
                "level": "info", "ts": at.timestamp(), "logger": "http.log.access",
                "request": {"method": "GET", "uri": path, "host": "cdn.example"},
                "status": 200, "size": size,
            }
        ) + "\n"
        for at, path, size in rows
    )  # fmt: skip


def elastic(rows: list[Row]) -> str:
    return "".join(
        json.dumps(
            {
                "@timestamp": at.isoformat(), "url": {"original": path},
                "http": {"request": {"method": "GET"}, "response": {"status_code": 200,
                                                                   "body": {"bytes": size}}},
            }
        ) + "\n"
        for at, path, size in rows
    )  # fmt: skip


def docker(rows: list[Row]) -> str:
    return "".join(
        json.dumps({"log": line + "\n", "stream": "stdout", "time": "2026-11-29T12:00:00Z"}) + "\n"
        for line in combined(rows).splitlines()
    )


def caddy_array(rows: list[Row]) -> str:
    """Caddy's records as one JSON array, as a log search exports them."""
    return "[" + ",\n".join(caddy(rows).splitlines()) + "]"


FORMATS: dict[str, Callable[[list[Row]], str]] = {
    "nginx combined": combined,
    "Apache vhost_combined": vhost_combined,
    "CloudFront (W3C)": cloudfront,
    "Caddy JSON": caddy,
    "Caddy JSON as one array": caddy_array,
    "Elastic Common Schema": elastic,
    "Docker json-file (nginx)": docker,
    "Athena's CloudFront table (CSV)": athena_csv,
}


def _cpu(run: Callable[[], object]) -> float:
    started = time.process_time()
    run()
    return time.process_time() - started


def _read(
    name: str, read: Callable[[], LoadedTrace], n: int, base: float, args: argparse.Namespace
) -> None:
    """Time `read` (the median of --repeat runs) and print it against the anchor's `base`."""
    took = statistics.median(_cpu(read) for _ in range(args.repeat))
    got = len(read().requests)
    assert got == n, (name, got)
    print(
        f"{name:32} {took:6.2f} s  {n / took / 1e3:7.0f} k lines/s  "
        f"{base / took:5.3f}x the anchor's speed"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=2_000, help="of the bench workload")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = _rows(generate(HlsWorkload(sessions=args.sessions, seed=1)))
    print(f"machine: {machine()}")
    print(f"{len(rows)} requests of the bench trace ({args.sessions} sessions)")
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "trace.csv"
        csv.write_text("".join(f"{at.timestamp():.0f},{p},{s}\n" for at, p, s in rows))
        params = lcs.ReaderInitParam()
        params.delimiter, params.has_header, params.obj_id_is_num = ",", False, False
        params.time_field, params.obj_id_field, params.obj_size_field = 1, 2, 3

        def anchor() -> object:
            with c_stderr_quiet():  # (its notes, and a warning per object larger than the cache)
                reader = lcs.TraceReader(
                    str(csv), lcs.TraceType.CSV_TRACE, reader_init_params=params
                )
                return lcs.LRU(1).process_trace(reader)

        base = statistics.median(_cpu(anchor) for _ in range(args.repeat))
        rate = len(rows) / base / 1e3
        print(f"{'libcachesim CSV + LRU (anchor)':32} {base:6.2f} s  {rate:7.0f} k lines/s")
        for name, write in FORMATS.items():
            log = Path(tmp) / "access.log"
            log.write_text(write(rows))
            _read(name, functools.partial(load_trace, [log], "nginx"), len(rows), base, args)
        utf16 = Path(tmp) / "utf16.log"  # as PowerShell's > leaves it
        utf16.write_bytes(combined(rows).encode("utf-16"))
        read = functools.partial(load_trace, [utf16], "nginx")
        _read("nginx combined in UTF-16", read, len(rows), base, args)
        columns = parse_columns("time-col=1, obj-id-col=2, obj-size-col=3")
        read = functools.partial(load_trace, [csv], "csv", columns=columns)
        _read("the anchor's CSV, --columns", read, len(rows), base, args)
        webcachesim = Path(tmp) / "trace.tr"  # time id size, as webcachesim and LRB write them
        webcachesim.write_text(
            "".join(f"{at.timestamp():.0f} {int(p[5:-4], 16)} {s}\n" for at, p, s in rows)
        )
        read = functools.partial(load_trace, [webcachesim], "csv")  # (its columns told)
        _read("webcachesim's time id size", read, len(rows), base, args)
        binary = Path(tmp) / "trace.lcs"  # the same requests as libCacheSim's lcs v2 records
        with c_stderr_quiet():
            reader = lcs.TraceReader(str(csv), lcs.TraceType.CSV_TRACE, reader_init_params=params)
            lcs.Util.convert_to_lcs(reader._reader, str(binary), lcs_ver=2)
        read = functools.partial(load_trace, [binary], "oracle")
        _read("libCacheSim lcs v2 (binary)", read, len(rows), base, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
