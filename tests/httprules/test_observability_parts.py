"""The pure parts of what services record: Prometheus text, histograms added up across
workers, request ids, route templates and JSON log lines."""

from __future__ import annotations

import json
import logging

import pytest
from starlette.routing import Mount, Route

from httprules.asgi import Receive, Scope, Send
from httprules.logs import JsonLines
from httprules.observe import request_id, route_template, with_request_id
from httprules.prometheus import Family, Histogram, combine_process_figures, render


def test_render_writes_help_type_escaped_labels_and_numbers() -> None:
    family = Family("m_total", "counter", "Things.\nCounted.").add(3, path='a"b\\c\nd')
    text = render([family, Family("g", "gauge", "A level.").add(0.25)])
    assert text.splitlines() == [
        "# HELP m_total Things. Counted.",
        "# TYPE m_total counter",
        'm_total{path="a\\"b\\\\c\\nd"} 3',
        "# HELP g A level.",
        "# TYPE g gauge",
        "g 0.25",
    ]


def test_histogram_buckets_are_cumulative_and_workers_add_up() -> None:
    one, two = Histogram((0.1, 1.0)), Histogram((0.1, 1.0))
    for value in (0.05, 0.5, 5.0):
        one.observe(value, "/a")
    two.observe(0.1, "/a")  # on a bound: counted in that bucket (le is "less or equal")
    merged = Histogram.merge([one.snapshot(), two.snapshot(), "not a snapshot"])
    family = one.family("d_seconds", "Durations.", ("route",), merged)
    samples = {(suffix, labels): value for suffix, labels, value in family.samples}
    route = (("route", "/a"),)
    assert samples[("_bucket", (*route, ("le", "0.1")))] == 2
    assert samples[("_bucket", (*route, ("le", "1")))] == 3
    assert samples[("_bucket", (*route, ("le", "+Inf")))] == 4
    assert samples[("_count", route)] == 4
    assert samples[("_sum", route)] == pytest.approx(5.65)


def test_process_figures_add_up_but_for_the_earliest_start() -> None:
    parts = [
        {"cpu_seconds": 1.5, "start_time_seconds": 100.0},
        {"cpu_seconds": 2.0, "start_time_seconds": 90.0},
    ]
    assert combine_process_figures(parts) == {"cpu_seconds": 3.5, "start_time_seconds": 90.0}


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        pytest.param(b"abc-123_x.y:z", True, id="token"),
        pytest.param(b"a" * 64, True, id="64 characters"),
        pytest.param(b"a" * 65, False, id="too long"),
        pytest.param(b"has space", False, id="space"),
        pytest.param(b"", False, id="empty"),
        pytest.param(b"<script>", False, id="markup"),
    ],
)
def test_a_clients_request_id_is_kept_only_when_it_is_a_sane_token(sent: bytes, kept: bool) -> None:
    got = request_id([(b"X-Request-Id", sent)])
    assert (got == sent.decode()) is kept
    if not kept:
        assert len(got) == 16
    assert with_request_id([(b"x-request-id", b"old"), (b"a", b"b")], got) == [
        (b"a", b"b"),
        (b"x-request-id", got.encode()),
    ]


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    return None


def test_route_templates_bound_the_label_values() -> None:
    routes = [
        Mount("/vod", app=_app),
        Route("/api/videos/{video_id}", lambda request: None, methods=["GET"]),
    ]

    def scope(method: str, path: str) -> dict[str, object]:
        return {"type": "http", "method": method, "path": path, "root_path": ""}

    assert route_template(routes, scope("GET", "/api/videos/123")) == "/api/videos/{video_id}"
    assert route_template(routes, scope("POST", "/api/videos/123")) == "/api/videos/{video_id}"
    assert route_template(routes, scope("GET", "/vod/abc/master.m3u8")) == "/vod/*"
    assert route_template(routes, scope("GET", "/nowhere/" + "x" * 500)) == "unmatched"


def test_json_log_lines_carry_an_iso_time_and_an_access_records_fields() -> None:
    record = logging.LogRecord("mediacdn.access", logging.INFO, "", 0, "GET / 200", (), None)
    record.created = 0.0
    record.access = {"status": 200, "id": "abc"}
    line = json.loads(JsonLines().format(record))
    assert line == {
        "time": "1970-01-01T00:00:00.000Z",
        "level": "info",
        "logger": "mediacdn.access",
        "message": "GET / 200",
        "status": 200,
        "id": "abc",
    }
