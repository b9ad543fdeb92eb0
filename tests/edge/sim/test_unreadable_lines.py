"""Lines a replay cannot read are told apart from requests it does not count (other methods,
statuses): the report says how many, and when they are many, the replay says so on stderr
with the first of them, as a log misread would otherwise give figures of the lines it could
read without a word."""

from __future__ import annotations

import json
from pathlib import Path

from edge.sim.logs import load_trace
from tests.edge.sim.test_cache_replay import NGINX
from tests.support.servers import run_cli

# a TLS hello sent to a plain port, as nginx logs it (its bytes escaped)
GARBAGE = '10.0.0.9 - - [29/Nov/2026:12:00:09 +0000] "\\x16\\x03\\x01\\x02\\x00" 400 157 "-" "-"\n'


def test_lines_that_hold_no_request_are_counted_apart(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(NGINX + "\n")  # (a blank line is no line to read)
    trace = load_trace([log], "nginx")
    # the POST and the 404 are requests; a blank line is no line
    assert (trace.skipped, trace.unreadable) == (3, 1)
    assert trace.first_unreadable == f"{log}: this line is not a log line"
    w3c = tmp_path / "cloudfront.log"
    w3c.write_text(
        "#Version: 1.0\n#Fields: date time cs-method cs-uri-stem sc-status sc-bytes\n"
        "2026-11-29 12:00:00 GET /a.m4s 200 100\n"
        "2026-11-29 12:00:01 POST /api 201 7\n"
        "2026-11-29 12:00:02 GET\n"  # cut short
    )
    trace = load_trace([w3c], "nginx")
    assert (len(trace.requests), trace.skipped, trace.unreadable) == (1, 2, 1)
    edge = tmp_path / "edge-access.log"
    record = {"t": 1795953600.0, "client": "10.0.0.1", "method": "POST", "path": "/a"}
    record |= {"status": 200, "bytes": 5, "object_bytes": 5, "cache": "MISS", "ms": 1.0}
    edge.write_text(json.dumps(record) + "\n" + GARBAGE)
    trace = load_trace([edge], "edge")
    assert (trace.skipped, trace.unreadable) == (2, 1)


def test_many_unreadable_lines_are_said_with_the_first(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(NGINX.replace("this line is not a log line\n", "") + GARBAGE * 2)
    done = run_cli("cache", "replay", "--quiet", str(log), "--capacity", "200B", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert (doc["skipped"], doc["unreadable"]) == (4, 2)
    assert "2 of 10 lines (20%) hold no request the replay can read" in done.stderr
    assert '"\\x16\\x03\\x01\\x02\\x00" 400 157' in done.stderr
    few = tmp_path / "few.log"
    few.write_text(NGINX.replace("this line is not a log line\n", "") * 3 + GARBAGE)
    done = run_cli("cache", "replay", "--quiet", str(few), "--capacity", "200B")
    assert done.returncode == 0, done.stderr
    assert "(7 lines skipped, 1 of them unreadable)" in done.stdout
    assert "hold no request" not in done.stderr  # 1 of 25: below the 5% said
