"""Logs written in UTF-16, as Windows tools write text (PowerShell's `>` and `Out-File`, a
spreadsheet saved as "Unicode text"), with a byte order mark or without, are read as the same
log in UTF-8 would be; a UTF-8 byte order mark before a log's first line is none of it. Before,
a UTF-16 log was taken for a binary trace (its every other byte a NUL), and one of a length a
whole number of records was replayed as requests that were never made."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from edge.sim.log_bytes import utf16
from edge.sim.logs import guess_format, load_trace
from edge.sim.trace import TraceRequest, write_oracle_general
from tests.support.servers import run_cli

LINES = "".join(
    f'10.0.0.{i % 5} - - [29/Nov/2026:12:00:{i:02} +0000] "GET /vod/{name}/{i % 4}.m4s '
    f'HTTP/1.1" 200 {1000 + i % 4} "-" "hls.js"\r\n'
    for i, name in enumerate(["caf\u00e9", "\u6771\u4eac", "a%20b"] * 5)
)
NGINX = LINES + "\r\n" * 2  # (blank lines: in UTF-16 a whole number of 24-byte records)
W3C = (
    "#Version: 1.0\r\n#Fields: date time cs-method cs-uri-stem sc-status sc-bytes\r\n"
    "2026-11-29 12:00:00 GET /a.m4s 200 100\r\n2026-11-29 12:00:01 GET /b.m4s 200 200\r\n"
)
TABLE = "Time\tMethod\tPath\tStatus\tBytes\r\n2026-11-29T12:00:00Z\tGET\t/a.m4s\t200\t100\r\n"


def _replay(path: Path) -> dict[str, Any]:
    done = run_cli("cache", "replay", "--quiet", str(path), "--capacity", "5%,50%", "--json")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_a_utf16_log_replays_as_its_utf8_self(tmp_path: Path) -> None:
    plain = tmp_path / "access.log"
    plain.write_text(NGINX, encoding="utf-8", newline="")
    expected = _replay(plain)
    assert (expected["requests"], expected["objects"], expected["unreadable"]) == (15, 12, 0)
    assert len(NGINX.encode("utf-16")) % 24 == 0  # (whole records, if it were binary)
    for encoding in ("utf-16", "utf-16-le", "utf-16-be", "utf-8-sig"):
        written = tmp_path / f"{encoding}.log"
        written.write_bytes(NGINX.encode(encoding))
        assert guess_format(written) == "nginx", encoding
        assert _replay(written) == expected, encoding
    packed = tmp_path / "utf-16.log.gz"
    packed.write_bytes(gzip.compress(NGINX.encode("utf-16")))
    assert _replay(packed) == expected


def test_directives_and_headers_are_read_whatever_the_encoding(tmp_path: Path) -> None:
    for name, text, count in (("w3c", W3C, 2), ("table", TABLE, 1)):
        for encoding in ("utf-16", "utf-16-be", "utf-8-sig"):
            path = tmp_path / f"{name}.{encoding}.log"
            path.write_bytes(text.encode(encoding))
            assert guess_format(path) == "nginx", (name, encoding)
            trace = load_trace([path], "nginx")
            assert (len(trace.requests), trace.unreadable) == (count, 0), (name, encoding)


def test_binary_traces_are_not_taken_for_utf16(tmp_path: Path) -> None:
    """Records whose first bytes are a UTF-16 byte order mark (a time of 65279) or alternate
    with NULs (small numbers) are still records."""
    for first in (65279, 65534, 0x41):
        trace = tmp_path / f"{first}.oracleGeneral"
        write_oracle_general(trace, [TraceRequest(first + i, 0x42 + i % 3, 0x43) for i in range(9)])
        assert not utf16(trace.read_bytes()[:64])
        assert guess_format(trace) == "oracle"
        assert _replay(trace)["requests"] == 9
    assert utf16(NGINX.encode("utf-16-le")[:64]) == "utf-16-le"
    assert utf16(NGINX.encode("utf-16-be")[:64]) == "utf-16-be"
    assert utf16("\ufeff".encode("utf-16-le") + bytes(range(1, 63))) == ""
