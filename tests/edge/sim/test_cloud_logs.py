"""`mediacdn cache replay` on the logs of load balancers, CDNs and a service proxy: Envoy's default
text format, Amazon S3's server access log, an Application Load Balancer's log, bunny.net's,
Alibaba Cloud's, Huawei Cloud's, Tencent Cloud's and UCloud's CDN logs, and the JSON lines of
Huawei Cloud's and Tencent Cloud's log services, Tencent Cloud EdgeOne, CacheFly, Envoy, Google
Cloud, Cloudflare (its URI whole, or its path and query apart), Akamai, Azure Front Door, Fastly,
Elastic Common Schema and OpenTelemetry, and log lines carried by Docker, Fluentd and Cloud
Logging. Each holds the requests of the nginx log of tests/edge/sim/test_cache_replay.py,
written as that service writes them."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from edge.sim.json_log import json_request
from edge.sim.log_lines import nginx_line
from edge.sim.log_values import HIT, MISS, outcome_of
from edge.sim.logs import load_trace
from tests.edge.sim.test_cache_replay import NGINX
from tests.edge.sim.test_other_servers_logs import (
    HEADERS,
    cloudfront,
    logged_requests,
    same_requests,
    squid,
)
from tests.edge.sim.test_other_servers_logs import caddy as caddy_json

Request = tuple[datetime, str, str, str, int, str, str]


def envoy(log: str) -> str:
    """Envoy's default format: flags ("-", or codes) between the status and the counts."""
    lines = []
    for n, (when, ip, method, target, status, sent, agent) in enumerate(logged_requests(log)):
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S.310Z")
        flags = "DC" if n == 1 else "-"  # a viewer who left, as nginx logs a 200 cut short
        lines.append(
            f'[{stamp}] "{method} {target} HTTP/1.1" {status} {flags} 0 {sent} 26 25 "{ip}" '
            f'"{agent}" "cc21d9b0-cf5c" "pop.example" "10.0.2.1:80"'
        )
    return "\n".join(lines) + "\n"


def s3(log: str) -> str:
    """S3's server access log: an error code after the status, then the bytes sent and the
    object's size ("-" where none)."""
    lines = []
    for when, ip, method, target, status, sent, agent in logged_requests(log):
        key = target.lstrip("/")
        operation = f"REST.{method}.OBJECT"
        size = "-" if status == 304 else "100"
        counts = f"- {sent if sent != '0' else '-'} {size} 70 10"
        lines.append(
            f"79a59df900b949e5 media [{when.strftime('%d/%b/%Y:%H:%M:%S %z')}] {ip} 79a59df9 "
            f'3E57427F3EXAMPLE {operation} {key} "{method} /media{target} HTTP/1.1" {status} '
            f'{counts} "-" "{agent}" - s9lzHY= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader '
            "media.s3.eu-west-1.amazonaws.com TLSv1.2 - -"
        )
    return "\n".join(lines) + "\n"


def alb(log: str) -> str:
    """An Application Load Balancer's log: its status and the bytes sent (headers too) before
    the quoted request, whose URL names the site."""
    lines = []
    for when, ip, method, target, status, sent, agent in logged_requests(log):
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S.186641Z")
        url = f"https://www.example.com:443{target}"
        lines.append(
            f"https {stamp} app/my-lb/50dc6c495c0c9188 {ip}:2817 10.0.0.1:80 0.086 0.048 "
            f'0.037 {status} {status} 0 {int(sent) + HEADERS} "{method} {url} HTTP/1.1" '
            f'"{agent}" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elb:tg "Root=1-5833" '
            f'"www.example.com" "-" 1 {stamp} "forward" "-" "-" "10.0.0.1:80" "{status}" "-" "-"'
        )
    return "\n".join(lines) + "\n"


def bunny(log: str) -> str:
    """bunny.net's CDN log: pipe-separated, the time in milliseconds, every request a GET (the
    POST is left out, as bunny.net logs only what it serves), the bytes sent with headers."""
    lines = []
    for when, ip, method, target, status, sent, agent in logged_requests(log):
        if method != "GET":
            continue
        stamp = int(when.timestamp() * 1000) + 421
        lines.append(
            f"{_word(status)}|{status}|{stamp}|{int(sent) + HEADERS}|390|"
            f"{ip}|-|https://media.b-cdn.net{target}|WA|{agent}|322b688bd63fb63f|DE"
        )
    return "\n".join(lines) + "\n"


CHINA = timezone(timedelta(hours=8))


def _text_lines(log: str, line: Callable[[Request], str]) -> str:
    return "".join(line(request) + "\n" for request in logged_requests(log))


def _word(status: int | str, lower: bool = False) -> str:
    """What these logs' caches say of each request of the nginx log: its 304 a hit, the rest
    misses."""
    word = "HIT" if int(status) == 304 else "MISS"
    return word.lower() if lower else word


def _in_china(when: datetime, layout: str) -> str:
    return when.astimezone(CHINA).strftime(layout)


def alibaba(log: str) -> str:
    """Alibaba Cloud CDN's log: the request's size before the response's, its URL whole."""
    return _text_lines(
        log,
        lambda r: (
            f'[{_in_china(r[0], "%d/%b/%Y:%H:%M:%S +0800")}] {r[1]} - 1542 "-" '
            f'"{r[2]} http://media.example.com{r[3]}" {r[4]} 191 {r[5]} '
            f'{_word(r[4])} "{r[6]}" "video/mp4"'
        ),
    )


def huawei(log: str) -> str:
    """Huawei Cloud CDN's log: the method, host and path quoted apart."""
    return _text_lines(
        log,
        lambda r: (
            f'[{_in_china(r[0], "%d/%b/%Y:%H:%M:%S +0800")}] {r[1]} 1 "-" "HTTP/1.1" "{r[2]}" '
            f'"media.example.com" "{r[3]}" {r[4]} {r[5]} {_word(r[4])} '
            f'"{r[6]}" "-"'
        ),
    )


def tencent(log: str) -> str:
    """Tencent Cloud CDN's log: fields separated by spaces, its time yyyymmddHHMMSS in UTC+8."""
    return _text_lines(
        log,
        lambda r: (
            f"{_in_china(r[0], '%Y%m%d%H%M%S')} {r[1]} media.example.com {r[3]} {r[5]} 22 2 "
            f'{r[4]} - 5 "{r[6]}" "(null)" {r[2]} HTTP/1.1 {_word(r[4], lower=True)} 443'
        ),
    )


def ucloud(log: str) -> str:
    """UCloud's UCDN log: its cache's word and the status after the quoted request."""
    return _text_lines(
        log,
        lambda r: (
            f'[{r[0]:%Y-%m-%d %H:%M:%S}] {r[1]} "{r[2]} {r[3]} HTTP/1.1" TCP_MISS {r[4]} {r[5]} '
            f'81 media.example.com - - NONE/- 10.0.0.9 10.0.0.8 {r[4]} 0 0 "{r[6]}"'
        ),
    )


def huawei_json(log: str) -> str:
    """Huawei Cloud's CDN log in its log service: a path and its query apart, times in ms."""
    return _json_lines(
        log,
        lambda r: {
            "request_time": str(int(r[0].timestamp() * 1000)), "domain": "media.example.com",
            "method": r[2], "scheme": "https", "uri": r[3], "uri_param": "-", "client_ip": r[1],
            "request_size": "301", "response_time": "14", "response_size": r[5],
            "http_code": str(r[4]), "hit_info": "MISS", "user_agent": r[6],
        },
    )  # fmt: skip


def tencent_json(log: str) -> str:
    """Tencent Cloud's CDN log in its log service: `request_time` there is a duration."""
    return _json_lines(
        log,
        lambda r: {
            "time": int(r[0].timestamp()), "client_ip": r[1], "host": "media.example.com",
            "method": r[2], "url": r[3], "param": "", "http_code": r[4], "rsp_size": int(r[5]),
            "request_time": 35, "hit": "miss", "ua": r[6], "file_size": 100,
        },
    )  # fmt: skip


def edgeone(log: str) -> str:
    """Tencent Cloud EdgeOne's site acceleration log (offline, or pushed in real time): the
    path and its query apart ("-": none), the bytes sent with their headers, its cache's word."""
    return _json_lines(
        log,
        lambda r: {
            "RequestID": "5e7f", "ClientIP": r[1], "ClientRegion": "FR",
            "RequestTime": r[0].strftime("%Y-%m-%dT%H:%M:%SZ"), "RequestStatus": 1,
            "RequestHost": "media.example.com", "RequestBytes": 310, "RequestMethod": r[2],
            "RequestUrl": r[3], "RequestUrlQueryString": "-", "RequestUA": r[6],
            "RequestRange": "-", "EdgeCacheStatus": _word(r[4], lower=True),
            "EdgeResponseStatusCode": r[4], "EdgeResponseBytes": int(r[5]) + HEADERS,
            "EdgeResponseTime": 12, "EdgeInternalTime": 3,
        },
    )  # fmt: skip


def cachefly(log: str) -> str:
    """CacheFly's shipped access log: a JSON array of records, its times with the POP's offset,
    the target whole and its path and query apart ("-": none), the bytes a string."""
    pacific = timezone(timedelta(hours=-7))
    records = [
        {
            "CacheStatus": True, "CacheXCF2": "H", "ClientIPV4": r[1],
            "ClientReqHTTPHost": "media.example.com", "ClientReqHTTPMethod": r[2],
            "ClientReqHTTPProtocol": "HTTP/2.0", "ClientReqPath": r[3].partition("?")[0],
            "ClientReqQuery": r[3].partition("?")[2] or "-", "ClientReqURI": r[3],
            "ClientUserAgent": r[6], "EdgeResponseBytes": r[5], "EdgeResponseStatus": r[4],
            "EdgeTimeMS": 0.09, "PopCacheStatus": False, "pop": "ewr1",
            "timestamp": r[0].astimezone(pacific).isoformat(),
        }
        for r in logged_requests(log)
    ]  # fmt: skip
    return json.dumps(records) + "\n"


def _json_lines(log: str, record: Callable[[Request], dict[str, object]]) -> str:
    return "".join(json.dumps(record(request)) + "\n" for request in logged_requests(log))


def envoy_json(log: str) -> str:
    return _json_lines(
        log,
        lambda r: {
            "start_time": r[0].strftime("%Y-%m-%dT%H:%M:%S.310Z"), "method": r[2],
            "path": r[3], "response_code": r[4], "response_flags": "-", "bytes_received": 0,
            "bytes_sent": int(r[5]), "authority": "pop.example",
        },
    )  # fmt: skip


def google_cloud(log: str) -> str:
    """A Cloud Logging entry: the request nested in `httpRequest`, its whole URL, its size
    with headers, as text."""
    return _json_lines(
        log,
        lambda r: {
            "httpRequest": {
                "requestMethod": r[2], "requestUrl": f"https://cdn.example{r[3]}",
                "status": r[4], "responseSize": str(int(r[5]) + HEADERS), "remoteIp": r[1],
                "cacheHit": True,
            },
            "timestamp": r[0].strftime("%Y-%m-%dT%H:%M:%S.123456Z"), "severity": "INFO",
        },
    )  # fmt: skip


def cloudflare(log: str) -> str:
    """Logpush: times in nanoseconds (`unixnano`), the body's bytes and all bytes sent."""
    return _json_lines(
        log,
        lambda r: {
            "ClientIP": r[1], "ClientRequestHost": "cdn.example", "ClientRequestMethod": r[2],
            "ClientRequestURI": r[3], "EdgeStartTimestamp": int(r[0].timestamp()) * 10**9,
            "EdgeResponseBytes": int(r[5]) + HEADERS, "EdgeResponseBodyBytes": int(r[5]),
            "EdgeResponseStatus": r[4], "RayID": "7d1e",
        },
    )  # fmt: skip


def cloudflare_parts(log: str) -> str:
    """Logpush with the path and its query as fields of their own, the time as RFC 3339."""
    return _json_lines(
        log,
        lambda r: {
            "ClientRequestHost": "cdn.example", "ClientRequestMethod": r[2],
            "ClientRequestPath": r[3], "ClientRequestQuery": "",
            "EdgeStartTimestamp": r[0].strftime("%Y-%m-%dT%H:%M:%SZ"),
            "EdgeResponseBodyBytes": int(r[5]), "EdgeResponseStatus": r[4],
        },
    )  # fmt: skip


def akamai(log: str) -> str:
    """DataStream 2: every value a string, the path without its leading slash, the query apart."""
    return _json_lines(
        log,
        lambda r: {
            "version": 2, "reqTimeSec": f"{r[0].timestamp():.3f}", "reqMethod": r[2],
            "reqHost": "cdn.example", "reqPath": r[3].lstrip("/"), "queryStr": "-",
            "statusCode": str(r[4]), "bytes": r[5], "totalBytes": str(int(r[5]) + HEADERS),
        },
    )  # fmt: skip


def azure(log: str) -> str:
    """Front Door: the request in `properties`, its whole URL with its port."""
    return _json_lines(
        log,
        lambda r: {
            "time": r[0].strftime("%Y-%m-%dT%H:%M:%S.0000000Z"), "category": "FrontDoorAccessLog",
            "properties": {
                "httpMethod": r[2], "requestUri": f"https://cdn.example:443{r[3]}",
                "hostName": "cdn.example", "httpStatusCode": str(r[4]), "responseBytes": r[5],
            },
        },
    )  # fmt: skip


def fastly(log: str) -> str:
    return _json_lines(
        log,
        lambda r: {
            "timestamp": r[0].strftime("%Y-%m-%dT%H:%M:%S+0000"), "client_ip": r[1],
            "host": "cdn.example", "url": r[3], "request_method": r[2],
            "response_status": r[4], "response_body_size": int(r[5]),
        },
    )  # fmt: skip


def elastic(log: str) -> str:
    """Elastic Common Schema, as Filebeat's nginx module or Logstash ship it: nested objects."""
    return _json_lines(
        log,
        lambda r: {
            "@timestamp": r[0].strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "source": {"address": r[1]}, "host": {"name": "pop-7"},
            "url": {"original": r[3], "domain": "cdn.example"},
            "http": {
                "request": {"method": r[2]},
                "response": {"status_code": r[4], "body": {"bytes": int(r[5])}},
            },
            "user_agent": {"original": r[6]},
        },
    )  # fmt: skip


def opentelemetry(log: str) -> str:
    """OpenTelemetry's semantic conventions as flat attributes with dotted names."""
    return _json_lines(
        log,
        lambda r: {
            "timestamp": f"{r[0].timestamp() * 1e9:.0f}", "http.request.method": r[2],
            "url.path": r[3], "server.address": "cdn.example", "http.response.status_code": r[4],
            "http.response.body.size": int(r[5]),
        },
    )  # fmt: skip


def docker(log: str) -> str:
    """Docker's json-file driver: each line nginx wrote to its standard output in `log`."""
    return "".join(
        json.dumps({"log": line + "\n", "stream": "stdout", "time": "2026-11-29T12:00:09Z"}) + "\n"
        for line in log.splitlines()
    )


def fluentd_caddy(log: str) -> str:
    """Fluentd's record of Caddy's JSON lines: a JSON line carried in `log`."""
    return "".join(
        json.dumps({"log": line, "container_name": "caddy"}) + "\n"
        for line in caddy_json(log).splitlines()
    )


def google_cloud_text(log: str) -> str:
    """Cloud Logging's entry of a text line: in `textPayload`."""
    return "".join(
        json.dumps({"textPayload": line, "timestamp": "2026-11-29T12:00:09Z"}) + "\n"
        for line in log.splitlines()
    )


@pytest.mark.parametrize(
    ("write", "headers"),
    [
        (envoy, 0), (s3, 0), (alb, HEADERS), (bunny, HEADERS), (envoy_json, 0),
        (google_cloud, HEADERS),
        (cloudflare, 0), (akamai, 0), (azure, 0), (fastly, 0), (elastic, 0), (opentelemetry, 0),
        (docker, 0), (fluentd_caddy, 0), (google_cloud_text, 0), (alibaba, 0), (huawei, 0),
        (tencent, 0), (ucloud, 0), (huawei_json, 0), (tencent_json, 0), (edgeone, HEADERS),
        (cloudflare_parts, 0), (cachefly, 0),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)  # fmt: skip
def test_load_balancers_and_cdns_logs_hold_the_nginx_logs_requests(
    tmp_path: Path, write: Callable[[str], str], headers: int
) -> None:
    """The same requests as the nginx log, each object the size its bytes say (with headers
    where the service counts them; a 304 no size at all); the POST and the 404 skipped, and
    where a runtime carries every line the server wrote, the one that is no request."""
    trace = same_requests(tmp_path, write(NGINX))
    assert {r.size for r in trace.requests} == {100 + headers}
    carried_whole = write in (docker, google_cloud_text)  # (the line that is no log line too)
    assert trace.skipped == (3 if carried_whole else 1 if write is bunny else 2)


def test_a_site_named_in_a_json_line_is_part_of_its_key() -> None:
    """A host field or a whole URL names the site: the same path on two sites is two objects
    (case and a default port aside); a request line's absolute target does not (the POP keys
    it by its path)."""
    at = datetime.fromisoformat("2026-11-29T12:00:00+00:00")
    common = {"timestamp": at.isoformat(), "status": 200, "bytes_sent": 9}
    lines = [
        {"host": "A.example", "method": "GET", "uri": "/x.m4s"},
        {"RequestHost": "b.example", "RequestMethod": "GET", "RequestPath": "/x.m4s"},
        {"requestMethod": "GET", "requestUrl": "https://a.example:443/x.m4s"},
        {"requestMethod": "GET", "requestUri": "http://a.example:8080/x.m4s"},
        {"request": "GET http://c.example/x.m4s HTTP/1.1"},
    ]
    keys = [json_request(json.dumps(common | line)) for line in lines]
    assert [key[2] if key else None for key in keys] == [
        "//a.example/x.m4s", "//b.example/x.m4s", "//a.example/x.m4s",
        "//a.example:8080/x.m4s", "/x.m4s",
    ]  # fmt: skip


def test_a_query_logged_apart_from_its_path_is_part_of_its_key() -> None:
    """EdgeOne's and Cloudflare's query fields, with or without their "?"; "-" and "" none."""
    common = {"RequestTime": "2026-11-29T12:00:00Z", "EdgeResponseStatusCode": 200}
    edgeone = common | {"RequestMethod": "GET", "RequestUrl": "/x.m4s", "EdgeResponseBytes": 9}
    cloudflare = {
        "EdgeStartTimestamp": 1795953600,
        "ClientRequestMethod": "GET",
        "EdgeResponseStatus": 200,
        "ClientRequestPath": "/x.m4s",
        "EdgeResponseBytes": 9,
    }
    lines = [
        edgeone | {"RequestUrlQueryString": "v=2"}, edgeone | {"RequestUrlQueryString": "-"},
        cloudflare | {"ClientRequestQuery": "?v=2"}, cloudflare | {"ClientRequestQuery": "v=2"},
        cloudflare | {"ClientRequestQuery": ""},
    ]  # fmt: skip
    keys = [json_request(json.dumps(line)) for line in lines]
    assert [key[2] if key else None for key in keys] == [
        "/x.m4s?v=2", "/x.m4s", "/x.m4s?v=2", "/x.m4s?v=2", "/x.m4s",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("stamp", "seconds"),
    [
        ("1795953600", 1795953600.0), ("1795953600.250", 1795953600.25),
        ("1795953600250", 1795953600.25), ("1795953600250000", 1795953600.25),
        ("1795953600250000000", 1795953600.25), ("2026-11-29T12:00:00.25Z", 1795953600.25),
        ("29/Nov/2026:12:00:00 +0000", 1795953600.0),
    ],
)  # fmt: skip
def test_a_json_time_in_any_unit_since_the_epoch_or_as_a_date(stamp: str, seconds: float) -> None:
    line = json.dumps({"time": stamp, "method": "GET", "path": "/a", "status": 200, "bytes": 1})
    request = json_request(line)
    assert request is not None
    assert request[1] == pytest.approx(seconds)


def test_counts_after_a_status_are_read_only_where_they_are_envoys_or_s3s() -> None:
    """A combined line whose bytes are "-" sent nothing; Envoy's and S3's "-" is a flag or an
    error code, with the counts after it; a word where the bytes go is no line of either."""
    head = '10.0.0.1 - - [29/Nov/2026:12:00:00 +0000] "GET /a HTTP/1.1" 200'
    assert nginx_line(f'{head} - "-" "hls.js"') == (1795953600.0, "/a", 200, 0, 0)
    assert nginx_line(f'{head} - 0 512 3 2 "-"') == (1795953600.0, "/a", 200, 512, 0)
    assert nginx_line(f"{head} UF,URX 0 512 3 -") == (1795953600.0, "/a", 200, 512, 0)
    assert nginx_line(f'{head} - 512 - 3 - "-"') == (1795953600.0, "/a", 200, 512, 0)
    assert nginx_line(f"{head} - 300 1500") == (1795953600.0, "/a", 200, 0, 0)  # (Apache %b %I %O)
    assert nginx_line(f'{head} none "-"') is None


@pytest.mark.parametrize(
    ("word", "outcome"),
    [
        ("HIT", HIT), ("STALE", HIT), ("UPDATING", HIT), ("REVALIDATED", HIT), ("MISS", MISS),
        ("EXPIRED", MISS), ("BYPASS", MISS), ("TCP_MEM_HIT", HIT), ("TCP_REFRESH_UNMODIFIED", HIT),
        ("TCP_REFRESH_MODIFIED", MISS), ("TCP_CLIENT_REFRESH_MISS", MISS), ("RefreshHit", HIT),
        ("Miss", MISS), ("Error", 0), ("LimitExceeded", 0), ("dynamic", MISS),
        ("REMOTE_HIT", HIT), ("CONFIG_NOCACHE", MISS), ("HIT-STALE", HIT), ("PASS", MISS),
        ("1", HIT), ("0", MISS), ("true", HIT), ("false", MISS), ("ERR_CLIENT_ABORT", 0),
        ("TCP_TUNNEL", 0), ("none", 0), ("", 0), ("Refresh", MISS), ("TCP_REFRESH_FAIL_OLD", 0),
        # chains: the word of the cache nearest the viewer
        ("Miss from child, Hit from parent", MISS), ("Hit from child", HIT),
        ("fetch, miss, miss", MISS), ("miss, hit", HIT),
        ("Shield; hit, Edge; fwd=uri-miss", MISS), ("WHITEBOX; fwd=miss; stored", MISS),
        ("Edge; hit; ttl=30", HIT), ("Edge; fwd=stale; fwd-status=304", HIT),
        ("Edge; fwd=stale; fwd-status=200", MISS), ("Edge; detail=x", 0),
    ],
)  # fmt: skip
def test_what_a_cache_logged_it_did_is_read_in_each_ones_words(word: str, outcome: int) -> None:
    assert outcome_of(word) == outcome


def _after_each(log: str, field: str, lower: bool = False) -> str:
    """`log` with a cache's word after each line: the 304's a HIT, the rest MISS."""
    out = []
    for line in log.splitlines():
        status = 304 if '" 304 ' in line else 0  # (a line that is no log line: a MISS)
        out.append(line + field.format(word=_word(status, lower)))
    return "\n".join(out) + "\n"


def test_what_the_cache_that_wrote_a_log_did_is_counted(tmp_path: Path) -> None:
    """Where a log says what its cache did (Squid's result code, CloudFront's
    x-edge-result-type, bunny.net's status, a JSON log's cache status, Google Cloud's
    cacheHit), the replay counts it beside its policies' figures; a combined log says nothing."""
    cases = {
        "squid": (squid(NGINX), 6, 5),  # the 304 a TCP_REFRESH_UNMODIFIED, the rest TCP_MISS
        "cloudfront": (cloudfront(NGINX), 6, 6),  # every one a Miss
        "bunny": (bunny(NGINX), 6, 5),  # the 304 a HIT
        "alibaba": (alibaba(NGINX), 6, 5),  # (and so in each of these CDNs' words)
        "huawei": (huawei(NGINX), 6, 5),
        "tencent": (tencent(NGINX), 6, 5),
        "ucloud": (ucloud(NGINX), 6, 6),  # every one a TCP_MISS
        "huawei_json": (huawei_json(NGINX), 6, 6),
        "tencent_json": (tencent_json(NGINX), 6, 6),
        "edgeone": (edgeone(NGINX), 6, 5),  # the 304 a hit
        "cachefly": (cachefly(NGINX), 0, 0),  # (its cache fields' words are not documented)
        "combined": (NGINX, 0, 0),
        # nginx's $upstream_cache_status after the combined format, bare, quoted, as name=value
        # and among other fields; Varnish's hitmiss; a user agent that holds the word says none
        "upstream_cache_status": (_after_each(NGINX, " {word}"), 6, 5),
        "quoted": (_after_each(NGINX, ' "{word}" "-"'), 6, 5),
        "named": (_after_each(NGINX, " rt=0.004 cache={word} ua=-"), 6, 5),
        "varnish": (_after_each(NGINX, " {word} 0.001", lower=True), 6, 5),
        "agent": (NGINX.replace('"hls.js', '"HIT hls.js'), 0, 0),
    }
    for name, (text, requests, misses) in cases.items():
        log = tmp_path / f"{name}.log"
        log.write_text(text)
        logged = load_trace([log], "nginx").logged
        assert (logged.requests, logged.misses) == (requests, misses), name
    gcp = tmp_path / "gcp.log"

    def entry(second: int, hit: bool | None, cache_status: str = "") -> str:
        request: dict[str, object] = {"requestMethod": "GET"}
        request |= {"requestUrl": "https://cdn.example/a.m4s"}
        request |= {"status": 200, "responseSize": "300"}
        request |= {} if hit is None else {"cacheHit": hit}
        record = {"timestamp": f"2026-11-29T12:00:0{second}Z", "httpRequest": request}
        record |= {"jsonPayload": {"cacheStatus": cache_status}} if cache_status else {}
        return json.dumps(record) + "\n"

    gcp.write_text(entry(0, False) + entry(1, True) + entry(2, True))
    logged = load_trace([gcp], "nginx").logged
    assert (logged.requests, logged.misses, logged.bytes, logged.missed_bytes) == (3, 1, 900, 300)
    # Media CDN: its caches' words in `jsonPayload`, the one nearest the viewer last
    media_cdn = tmp_path / "media-cdn.log"
    words = ["fetch, miss, miss", "hit", "miss, hit", "fetch, miss"]
    media_cdn.write_text("".join(entry(second, None, word) for second, word in enumerate(words)))
    logged = load_trace([media_cdn], "nginx").logged
    assert (logged.requests, logged.misses) == (4, 2)
