"""`mediacdn cache replay` on logs as delimited values under a header row: Athena's table of
CloudFront's logs exported as CSV, Google Cloud Storage's usage logs, and nginx's variables as
columns separated by tabs or semicolons. Each holds the requests of the nginx log of
tests/edge/sim/test_cache_replay.py."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.sim.csv_log import CsvLog
from edge.sim.log_values import hosted
from edge.sim.logs import LoggedOutcomes, load_trace, resolve_format
from tests.edge.sim.test_cache_replay import NGINX, replay_cli
from tests.edge.sim.test_other_servers_logs import HEADERS, logged_requests, same_requests

ATHENA_CLOUDFRONT = (
    "date", "time", "location", "bytes", "request_ip", "method", "host", "uri", "status",
    "referrer", "user_agent", "query_string", "cookie", "result_type", "request_id",
    "host_header", "request_protocol", "request_bytes", "time_taken", "xforwarded_for",
    "ssl_protocol", "ssl_cipher", "response_result_type", "http_version", "fle_status",
    "fle_encrypted_fields", "c_port", "time_to_first_byte", "x_edge_detailed_result_type",
    "sc_content_type", "sc_content_len", "sc_range_start", "sc_range_end",
)  # fmt: skip
CLOUD_STORAGE = (
    "time_micros", "c_ip", "c_ip_type", "c_ip_region", "cs_method", "cs_uri", "sc_status",
    "cs_bytes", "sc_bytes", "time_taken_micros", "cs_host", "cs_referer", "cs_user_agent",
    "s_request_id", "cs_operation", "cs_bucket", "cs_object",
)  # fmt: skip


def table(names: tuple[str, ...], rows: list[list[str]], **dialect: object) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", **dialect)  # type: ignore[arg-type]
    writer.writerow(names)
    writer.writerows(rows)
    return out.getvalue()


def athena_cloudfront(log: str) -> str:
    """CloudFront's logs as Athena's table of them holds them, exported as CSV: the date and
    the time of day apart, `bytes` every byte sent, `sc_content_len` the body's."""
    rows = []
    for n, (when, ip, method, target, status, sent, agent) in enumerate(logged_requests(log)):
        path, _, query = target.partition("?")
        values = {
            "date": when.strftime("%Y-%m-%d"), "time": when.strftime("%H:%M:%S"),
            "location": "CDG50-C1", "bytes": str(int(sent) + HEADERS), "request_ip": ip,
            "method": method, "host": "d1.cloudfront.net", "uri": path, "status": str(status),
            "user_agent": agent, "query_string": query or "-",
            "result_type": "Hit" if n % 2 else "Miss", "host_header": "media.example",
            "sc_content_len": "-" if status == 304 else sent,
        }  # fmt: skip
        rows.append([values.get(name, "-") for name in ATHENA_CLOUDFRONT])
    return table(ATHENA_CLOUDFRONT, rows)


def cloud_storage(log: str) -> str:
    """Google Cloud Storage's usage log: every value quoted, the time in microseconds."""
    rows = []
    for when, ip, method, target, status, sent, agent in logged_requests(log):
        values = {
            "time_micros": str(int(when.timestamp() * 1_000_000)), "c_ip": ip,
            "cs_method": method, "cs_uri": target, "sc_status": str(status), "sc_bytes": sent,
            "cs_host": "storage.googleapis.com", "cs_user_agent": agent,
        }  # fmt: skip
        rows.append([values.get(name, "") for name in CLOUD_STORAGE])
    return table(CLOUD_STORAGE, rows, quoting=csv.QUOTE_ALL)


def nginx_tabs(log: str) -> str:
    """nginx's variables as tab-separated columns (a log_format of them, with a header)."""
    names = ("time_iso8601", "remote_addr", "request_method", "request_uri", "status",
             "body_bytes_sent", "http_user_agent")  # fmt: skip
    rows = [
        [when.isoformat(), ip, method, target, str(status), sent, agent]
        for when, ip, method, target, status, sent, agent in logged_requests(log)
    ]
    return table(names, rows, delimiter="\t")


def nginx_semicolons(log: str) -> str:
    """$msec, $request, $status and $body_bytes_sent separated by semicolons."""
    rows = [
        [f"{when.timestamp():.3f}", f"{method} {target} HTTP/1.1", str(status), sent]
        for when, _, method, target, status, sent, _ in logged_requests(log)
    ]
    return table(("msec", "request", "status", "body_bytes_sent"), rows, delimiter=";")


def by_hand(log: str) -> str:
    """Columns named by a person, in capitals ("Time", "Method", "URL" ...)."""
    rows = [
        [when.strftime("%Y-%m-%d %H:%M:%S"), method, target, str(status), sent]
        for when, _, method, target, status, sent, _ in logged_requests(log)
    ]
    return table(("Time", "Method", "URL", "Status", "Bytes"), rows)


@pytest.mark.parametrize(
    ("write", "headers", "site"),
    [
        (athena_cloudfront, 0, "media.example"), (cloud_storage, 0, "storage.googleapis.com"),
        (nginx_tabs, 0, ""), (nginx_semicolons, 0, ""), (by_hand, 0, ""),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)  # fmt: skip
def test_logs_as_tables_hold_the_nginx_logs_requests(
    tmp_path: Path, write: Callable[[str], str], headers: int, site: str
) -> None:
    """The same requests as the nginx log, each object the size of its body; the POST and
    the 404 skipped, no line unreadable (the header is no request, and no unreadable line);
    a site named in a column is part of the key (CloudFront's Host header, not its own
    domain)."""
    text = write(NGINX)
    trace = same_requests(tmp_path, text)
    assert {r.size for r in trace.requests} == {100 + headers}
    assert (trace.skipped, trace.unreadable) == (2, 0)
    header, row = text.splitlines()[:2]
    reader = CsvLog()
    assert reader.header(header)
    record = reader.record(row)
    assert record is not None
    assert record[1] == (hosted(site, "/vod/a/360p/0.m4s") if site else "/vod/a/360p/0.m4s")


def test_what_cloudfront_did_is_read_from_its_table(tmp_path: Path) -> None:
    log = tmp_path / "cloudfront.csv"
    log.write_text(athena_cloudfront(NGINX))
    trace = load_trace([log], "nginx")
    # of the six requests replayed (rows 0, 1, 2, 4, 5, 7 of the eight), the odd rows were hits
    assert trace.logged == LoggedOutcomes(requests=6, misses=3, bytes=600, missed_bytes=300)


def test_a_header_again_is_passed_over_and_a_short_row_is_unreadable(tmp_path: Path) -> None:
    """Two exports joined end to end repeat the header; a row cut short fills no columns."""
    once = nginx_tabs(NGINX)
    header, *rows = once.splitlines()
    cut = rows[0].rsplit("\t", 2)[0]
    log = tmp_path / "joined.tsv"
    log.write_text("\n".join([header, *rows, header, *rows, cut]) + "\n")
    assert resolve_format([log], "auto") == "nginx"
    trace = load_trace([log], "nginx")
    assert len(trace.requests) == 12
    assert (trace.skipped, trace.unreadable) == (5, 1)
    assert trace.first_unreadable == f"{log}: {cut}"


def test_a_table_is_told_and_replayed_from_the_command_line(tmp_path: Path) -> None:
    """(Saved by a spreadsheet, with a byte order mark before its header.)"""
    log = tmp_path / "usage.csv"
    log.write_text(cloud_storage(NGINX), encoding="utf-8-sig")
    out = replay_cli(str(log), "--capacity", "1000B")
    assert out.startswith("6 requests (2 lines skipped), 3 objects"), out


def test_a_header_that_names_no_request_is_no_table(tmp_path: Path) -> None:
    """A CSV of something else (no method, target, status and time among its names) is not
    read as a log: the format cannot be told."""
    other = tmp_path / "sizes.csv"
    other.write_text("name,size,owner\na.mp4,100,me\n")
    with pytest.raises(ValueError, match="cannot tell what"):
        resolve_format([other], "auto")
