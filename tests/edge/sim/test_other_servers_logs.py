"""`mediacdn cache replay` on the logs other servers write: W3C extended logs (CloudFront's
standard logs, IIS's), Squid's native format (Apache Traffic Server's `squid` format),
HAProxy's HTTP log, and the JSON lines of Caddy, Traefik and Kong: the
same requests as the nginx log of tests/edge/sim/test_cache_replay.py, written as those servers
write them."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from edge.sim.log_lines import nginx_line
from edge.sim.logs import LoadedTrace, load_trace, resolve_format
from edge.sim.w3c_log import W3cLog
from httprules.playback_tokens import KeyRing, mint
from tests.edge.sim.test_cache_replay import NGINX, replay_cli, rows
from tests.support.servers import run_cli

COMBINED = re.compile(
    r'^(\S+) \S+ \S+ \[([^\]]+)\] "(\S+) (\S+) [^"]*" (\d+) (\d+) "[^"]*" "([^"]*)"$'
)
CLOUDFRONT_FIELDS = (
    "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status "
    "cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id "
    "x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher "
    "x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port "
    "time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len "
    "sc-range-start sc-range-end"
)
HEADERS = 310  # bytes of headers: in sc-bytes, not in sc-content-len


def logged_requests(log: str) -> list[tuple[datetime, str, str, str, int, str, str]]:
    """The combined-format lines of `log` as (time, ip, method, target, status, bytes, agent)."""
    out = []
    for line in log.splitlines():
        match = COMBINED.match(line)
        if match is not None:
            ip, at, method, target, status, sent, agent = match.groups()
            when = datetime.strptime(at, "%d/%b/%Y:%H:%M:%S %z")
            out.append((when, ip, method, target, int(status), sent, agent))
    return out


def cloudfront(log: str) -> str:
    """`log` as CloudFront writes its standard logs: tab-separated, the body's length in
    sc-content-len, every byte sent (headers too) in sc-bytes."""
    lines = ["#Version: 1.0", f"#Fields: {CLOUDFRONT_FIELDS}"]
    for when, ip, method, target, status, sent, agent in logged_requests(log):
        body = "-" if status == 304 else sent
        values = [
            when.strftime("%Y-%m-%d"), when.strftime("%H:%M:%S"), "CDG50-C1",
            str(int(sent) + HEADERS), ip, method, "d1.cloudfront.net", target, str(status), "-",
            agent.replace(" ", "%20"), "-", "-", "Miss", "req", "d1.cloudfront.net", "https",
            "120", "0.002", "-", "TLSv1.3", "TLS_AES_128_GCM_SHA256", "Miss", "HTTP/2.0", "-",
            "-", "50000", "0.001", "Miss", "video/iso.segment", body, "-", "-",
        ]  # fmt: skip
        lines.append("\t".join(values))
    return "\n".join(lines) + "\n"


def iis(log: str) -> str:
    """`log` as IIS writes it: space-separated, sc-bytes only, and its fields named again in
    another order halfway (as after a change of the site's logging)."""
    first = (
        "date time s-ip cs-method cs-uri-stem cs-uri-query s-port c-ip cs(User-Agent) "
        "sc-status sc-bytes"
    )
    second = "time date sc-bytes sc-status cs-uri-stem cs-method c-ip"
    lines = ["#Software: Microsoft Internet Information Services 10.0", "#Version: 1.0"]
    requests = logged_requests(log)
    for n, (when, ip, method, target, status, sent, agent) in enumerate(requests):
        day, clock = when.strftime("%Y-%m-%d"), when.strftime("%H:%M:%S")
        if n == 0:
            lines += [f"#Date: {day} {clock}", f"#Fields: {first}"]
        if n == len(requests) // 2:
            lines.append(f"#Fields: {second}")
        if n < len(requests) // 2:
            lines.append(
                f"{day} {clock} 10.1.1.1 {method} {target} - 443 {ip} {agent.replace(' ', '+')} "
                f"{status} {sent}"
            )
        else:
            lines.append(f"{clock} {day} {sent} {status} {target} {method} {ip}")
    return "\r\n".join(lines) + "\r\n"


def test_cloudfront_logs_hold_the_nginx_logs_requests(tmp_path: Path) -> None:
    reference = tmp_path / "access.log"
    reference.write_text(NGINX)
    log = tmp_path / "E2EXAMPLE.2026-11-29-12.abcd1234.gz"  # as CloudFront names and packs them
    log.write_bytes(gzip.compress(cloudfront(NGINX).encode()))
    assert resolve_format([log], "auto") == "nginx"
    expected = load_trace([reference], "nginx")
    trace = load_trace([log], "nginx")
    assert trace.requests == expected.requests  # sizes from sc-content-len, not sc-bytes
    assert trace.skipped == 2  # the POST and the 404 (directives are no lines to skip)
    out = replay_cli(str(log), "--capacity", "200B", "--policy", "lru")
    assert rows(out, "200B")["lru"][:2] == ["0.6667", "0.6667"]


def test_iis_logs_hold_the_nginx_logs_requests(tmp_path: Path) -> None:
    reference = tmp_path / "access.log"
    reference.write_text(NGINX)
    log = tmp_path / "u_ex261129.log"
    log.write_text(iis(NGINX))
    assert resolve_format([log], "auto") == "nginx"
    assert load_trace([log], "nginx").requests == load_trace([reference], "nginx").requests


def test_a_record_keys_its_target_with_its_query_and_without_a_viewers_token() -> None:
    log = W3cLog()
    log.directive("#Fields: date time cs-method cs-uri-stem cs-uri-query sc-status sc-bytes")
    assert log.started
    at = datetime.fromisoformat("2026-11-29T12:00:00+00:00").timestamp()
    line = "2026-11-29 12:00:00 GET /vod/a/360p/0.m4s v=2 200 500"
    assert log.record(line) == (at, "/vod/a/360p/0.m4s?v=2", 200, 500, 0)
    plain = log.record("2026-11-29 12:00:00 GET /vod/a/360p/0.m4s - 200 500")
    assert plain == (at, "/vod/a/360p/0.m4s", 200, 500, 0)
    assert log.record("2026-11-29 12:00:00 POST /api/videos - 201 17") is None
    assert log.record("2026-11-29 12:00:00 GET /cut") is None  # a line not written whole
    # CloudFront's 000: the viewer left before an answer (no status the replay counts)
    assert log.record("2026-11-29 12:00:00 GET /x - 000 0") == (at, "/x", 0, 0, 0)
    ring = KeyRing({"k1": b"0123456789abcdef-one"}, "k1")
    token = mint(ring, "/vod/a/", 1_900_000_000, "10.0.0.1")
    signed = f"2026-11-29 12:00:00 GET /~{token}/vod/a/360p/../360p/1.m4s - 200 500"
    assert log.record(signed) == (at, "/vod/a/360p/1.m4s", 200, 500, 0)


def test_fields_that_cannot_give_a_request_are_refused_clearly(tmp_path: Path) -> None:
    """IIS's default fields log no bytes: no object could be sized, so the replay says so
    rather than replaying nothing."""
    log = tmp_path / "u_ex261129.log"
    log.write_text(
        "#Version: 1.0\n"
        "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
        "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n"
        "2026-11-29 12:00:00 10.1.1.1 GET /a.m4s - 443 - 10.0.0.1 hls.js - 200 0 0 12\n"
    )
    done = run_cli("cache", "replay", "--quiet", str(log))
    assert done.returncode != 0
    assert "its #Fields name no sc-bytes or sc-content-len" in done.stderr
    assert str(log) in done.stderr


def squid(log: str) -> str:
    """`log` as Squid (or Traffic Server's `squid` format) writes it: the time in seconds with
    milliseconds first, the bytes sent with their headers, a 304's headers only, and the URL
    as the proxy saw it."""
    lines = []
    for when, ip, method, target, status, sent, _ in logged_requests(log):
        code = "TCP_REFRESH_UNMODIFIED" if status == 304 else "TCP_MISS"
        lines.append(
            f"{when.timestamp():.3f} {12:6d} {ip} {code}/{status:03d} {int(sent) + HEADERS} "
            f"{method} http://origin.example{target} - HIER_DIRECT/10.9.9.9 video/iso.segment"
        )
    lines.insert(2, "1795953600.500      0 10.0.0.9 ERR_CLIENT_ABORT/000 0 GET /left - NONE/- -")
    return "\n".join(lines) + "\n"


def haproxy(log: str) -> str:
    """`log` as HAProxy's HTTP log writes it through syslog: the bytes sent (headers too)
    before the quoted request, which ends the line."""
    lines = []
    for when, ip, method, target, status, sent, _ in logged_requests(log):
        accepted = when.strftime("%d/%b/%Y:%H:%M:%S.042")
        lines.append(
            f"{when.strftime('%b %d %H:%M:%S')} lb haproxy[812]: {ip}:50312 [{accepted}] "
            f"fe~ cache/pop1 0/0/1/3/4 {status} {int(sent) + HEADERS} - - ---- 3/3/0/0/0 0/0 "
            f'"{method} {target} HTTP/1.1"'
        )
    lines.insert(2, 'lb haproxy[812]: 10.0.0.9:1 [29/Nov/2026:12:00:01.000] fe fe/<NOSRV> '
                 '-1/-1/-1/-1/0 -1 0 - - CR-- 1/1/0/0/0 0/0 "<BADREQ>"')  # fmt: skip
    return "\n".join(lines) + "\n"


def same_requests(tmp_path: Path, log_text: str) -> LoadedTrace:
    """`log_text` (NGINX as another server writes it) replayed: told as a text log, it holds
    the nginx log's requests at the same times, for the same objects (each 100 bytes there)."""
    reference = tmp_path / "access.log"
    reference.write_text(NGINX)
    log = tmp_path / "other.log"
    log.write_text(log_text)
    assert resolve_format([log], "auto") == "nginx"
    expected = load_trace([reference], "nginx").requests
    assert {r.size for r in expected} == {100}
    trace = load_trace([log], "nginx")
    assert [(r.timestamp, r.obj_id) for r in trace.requests] == [
        (r.timestamp, r.obj_id) for r in expected
    ]
    return trace


@pytest.mark.parametrize("write", [squid, haproxy], ids=["squid", "haproxy"])
def test_squid_traffic_server_and_haproxy_logs_hold_the_nginx_logs_requests(
    tmp_path: Path, write: Callable[[str], str]
) -> None:
    """The bytes a Squid (or HAProxy) line counts are headers and body: each object is that
    much larger than in the nginx log (a 304 sizes nothing), and the requests are the same."""
    trace = same_requests(tmp_path, write(NGINX))
    # every object 100 bytes and headers (the 206 of 10 bytes is no smaller object, the 304
    # no size at all)
    assert {r.size for r in trace.requests} == {100 + HEADERS}
    assert trace.skipped == 3  # the POST, the 404 and the viewer who left (000, <BADREQ>)


def caddy(log: str) -> str:
    """`log` as Caddy's access log writes it: JSON lines, the time in seconds since the epoch,
    the request's method and URI in a nested object, the body's bytes in `size`."""
    lines = []
    for when, ip, method, target, status, sent, agent in logged_requests(log):
        request: dict[str, object] = {"remote_ip": ip, "proto": "HTTP/2.0", "method": method}
        request |= {"uri": target, "headers": {"User-Agent": [agent]}}
        lines.append(
            json.dumps(
                {
                    "level": "info",
                    "ts": when.timestamp() + 0.25,
                    "logger": "http.log.access",
                    "msg": "handled request",
                    "request": request,
                    "bytes_read": 0,
                    "duration": 0.0012,
                    "size": int(sent),
                    "status": status,
                }
            )
        )
    return "\n".join(lines) + "\n"


def traefik(log: str) -> str:
    """`log` as Traefik's JSON access log writes it: its own field names, times in UTC with
    nanoseconds."""
    lines = []
    for when, ip, method, target, status, sent, _ in logged_requests(log):
        fields: dict[str, object] = {"ClientHost": ip, "RequestMethod": method}
        fields["RequestPath"] = target
        fields |= {"DownstreamStatus": status, "DownstreamContentSize": int(sent)}
        fields |= {"StartUTC": when.strftime("%Y-%m-%dT%H:%M:%S.123456789Z"), "Duration": 9}
        lines.append(json.dumps(fields))
    return "\n".join(lines) + "\n"


def kong(log: str) -> str:
    """`log` as Kong's log plugins write it: the request and the response nested, the
    request's own size beside its method, the response's counting its headers, the time in
    milliseconds, and its proxy cache's word in a response header (a Refresh: fetched again)."""
    lines = []
    for i, (when, ip, method, target, status, sent, _) in enumerate(logged_requests(log)):
        request: dict[str, object] = {"method": method, "uri": target}
        request["url"] = f"http://cdn.example:8000{target}"
        request |= {"size": 97, "headers": {"host": "cdn.example", "user-agent": "hls.js"}}
        headers = {"content-length": sent, "x-cache-status": ("Hit", "Miss", "Refresh")[i % 3]}
        response = {"status": status, "size": int(sent) + HEADERS, "headers": headers}
        started = int(when.timestamp() * 1000) + 250
        lines.append(
            json.dumps(
                {"request": request, "response": response, "started_at": started}
                | {"client_ip": ip, "latencies": {"proxy": 3, "kong": 1, "request": 4}}
            )
        )
    return "\n".join(lines) + "\n"


def test_caddy_traefik_and_kong_logs_hold_the_nginx_logs_requests(tmp_path: Path) -> None:
    reference = tmp_path / "access.log"
    reference.write_text(NGINX)
    expected = load_trace([reference], "nginx").requests
    for name, write in (("caddy", caddy), ("traefik", traefik), ("kong", kong)):
        log = tmp_path / f"{name}.log"
        log.write_text(write(NGINX))
        assert resolve_format([log], "auto") == "nginx", name
        trace = load_trace([log], "nginx")
        assert trace.requests == expected, name
        assert trace.skipped == 2, name  # the POST and the 404
    # Kong's proxy cache said Hit on every third line: a Miss or a Refresh on the others
    replayed = [
        i for i, row in enumerate(logged_requests(NGINX)) if row[2] == "GET" and row[4] != 404
    ]
    logged = load_trace([tmp_path / "kong.log"], "nginx").logged
    assert logged.requests == len(replayed) == len(expected)
    assert logged.misses == sum(i % 3 != 0 for i in replayed) == len(replayed) - 1


def test_a_proxys_or_cdns_log_keys_each_site_apart(tmp_path: Path) -> None:
    """Squid's URLs and CloudFront's cs(Host) name the site: the same path on two sites is two
    objects (an absolute URL in an nginx log is still keyed by its path, as the POP keys it);
    the host's case and a default port do not make another object."""
    squid_log = tmp_path / "access.log"
    squid_log.write_text(
        "1795953600.000 5 10.0.0.1 TCP_MISS/200 1300 GET http://a.example/index.html - x -\n"
        "1795953601.000 5 10.0.0.1 TCP_MISS/200 2300 GET http://b.example/index.html - x -\n"
        "1795953602.000 5 10.0.0.1 TCP_HIT/200 1300 GET HTTP://A.example:80/index.html - x -\n"
    )
    trace = load_trace([squid_log], "nginx")
    assert [(r.obj_id, r.size) for r in trace.requests] == [(0, 1300), (1, 2300), (0, 1300)]
    cdn_log = tmp_path / "cloudfront.log"
    fields = "date time cs-method cs(Host) cs-uri-stem sc-status sc-bytes"
    cdn_log.write_text(
        f"#Version: 1.0\n#Fields: {fields}\n"
        "2026-11-29\t12:00:00\tGET\td1.cloudfront.net\t/a.m4s\t200\t100\n"
        "2026-11-29\t12:00:01\tGET\td2.cloudfront.net\t/a.m4s\t200\t200\n"
        "2026-11-29\t12:00:02\tGET\td1.cloudfront.net\t/a.m4s\t200\t100\n"
    )
    trace = load_trace([cdn_log], "nginx")
    assert [(r.obj_id, r.size) for r in trace.requests] == [(0, 100), (1, 200), (0, 100)]
    log = W3cLog()  # a whole URI in `cs-uri` names its site too
    log.directive("#Fields: date time cs-method cs-uri sc-status sc-bytes")
    at = datetime.fromisoformat("2026-11-29T12:00:00+00:00").timestamp()
    record = log.record("2026-11-29 12:00:00 GET https://A.example/x/../y.m4s?v=1 200 9")
    assert record == (at, "//a.example/y.m4s?v=1", 200, 9, 0)
    assert log.record("2026-11-29 12:00:00 GET /y.m4s 200 9") == (at, "/y.m4s", 200, 9, 0)


def test_a_virtual_host_first_keys_each_site_apart() -> None:
    """Apache's vhost_combined (and an nginx format with $host first) names the site before
    the client: the same path on two sites is two objects. The combined format's three fields
    before the time name no site, whatever the client looks like."""
    when = '[29/Nov/2026:12:00:00 +0000] "GET /a.m4s HTTP/1.1" 200 5 "-" "hls.js"'
    sites = {
        "www.Example.com:443 10.0.0.1 - -": "//www.example.com/a.m4s",
        "cdn.example 10.0.0.1 - -": "//cdn.example/a.m4s",
        "10.0.0.9:8080 10.0.0.1 - -": "//10.0.0.9:8080/a.m4s",
        "10.0.0.1 - -": "/a.m4s",
        "client.isp.example - frank": "/a.m4s",
        "2001:db8::1 - -": "/a.m4s",
        "10.0.0.1 10.0.0.2 - -": "/a.m4s",  # (a proxy's address before the client's)
    }
    for head, key in sites.items():
        assert nginx_line(f"{head} {when}") == (1795953600.0, key, 200, 5, 0), head
