"""Every process as an operator watches it: an origin, a two-worker POP and a router, each a
real `mediacdn` process. Their /metrics pass `promtool check metrics`, the shipped Grafana
dashboard queries only metrics they expose, access records carry one request id from the
POP to the origin, JSON log lines parse, and readiness follows the upstream."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.edges import edge_process, pop_key, router_process, write_pop_keys
from tests.support.servers import free_port, origin_server, run_cli, stop_process, wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "mediacdn.json"
ASSET = "/static/vendor/land-110m.json"  # cacheable for an hour
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def promtool_problems(exposition: str) -> str:
    """What `promtool check metrics` says of `exposition` (empty when it passes)."""
    done = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=exposition, capture_output=True, text=True, timeout=30
    )
    said = (done.stdout + done.stderr).strip()
    return said if done.returncode != 0 or said else ""


def exposed_names(exposition: str) -> set[str]:
    return {line.split()[2] for line in exposition.splitlines() if line.startswith("# TYPE ")}


def dashboard_metrics() -> set[str]:
    """The metric names the dashboard's queries use (histogram series by family name)."""
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    names = {n for e in exprs for n in re.findall(r"\b((?:mediacdn|process)_[a-z_]+)", e)}
    return {re.sub(r"_(bucket|sum|count)$", "", n) for n in names}


def json_lines(path: Path) -> list[dict[str, object]]:
    lines = [ln for ln in path.read_text().splitlines() if ln.startswith("{")]
    return [json.loads(ln) for ln in lines]


def test_metrics_logs_request_ids_and_readiness_of_origin_pop_and_router(tmp_path: Path) -> None:
    assert Path(PROMTOOL).exists(), "make test installs Debian's prometheus (promtool)"
    keys = write_pop_keys(tmp_path / "pop-keys.toml", ["watched"])
    (tmp_path / "watched.key").write_text(pop_key("watched"))
    access = tmp_path / "pop-access.log"
    origin_env = {"MEDIACDN_LOG_FORMAT": "json", "MEDIACDN_WORKERS": "0"}
    with (
        origin_server(tmp_path / "origin", origin_env) as origin,
        router_process(tmp_path, "--pop-keys", str(keys), "--allow-enrollment") as router,
        edge_process(
            tmp_path,
            origin.url,
            *("--workers", "2", "--cache-dir", str(tmp_path / "cache")),
            *("--access-log", str(access), "--log-format", "json"),
            *("--router", router, "--pop-key-file", str(tmp_path / "watched.key")),
            name="watched",
        ) as pop,
    ):
        wait_until(lambda: httpx.get(router + "/readyz").status_code == 200, 30, "router ready")
        asked = [f"req-{i}" for i in range(6)]
        for rid in asked:  # through the POP (a miss, then hits), answered by either worker
            got = httpx.get(pop + ASSET, headers={"x-request-id": rid})
            assert got.status_code == 200
            assert got.headers["x-request-id"] == rid
        minted = httpx.get(pop + ASSET, headers={"x-request-id": "not a/token;" * 9})
        assert re.fullmatch(r"[0-9a-f]{16}", minted.headers["x-request-id"])
        assert httpx.get(router + "/route", params={"lat": 0, "lon": 0}).status_code == 200
        assert httpx.get(router + "/r/vod/x/master.m3u8?lat=0&lon=0").status_code == 302
        assert httpx.get(pop + "/readyz").json()["upstream"] == "ok"

        expositions = {
            name: httpx.get(url + "/metrics")
            for name, url in (("origin", origin.url), ("pop", pop), ("router", router))
        }
        for name, response in expositions.items():
            assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
            assert promtool_problems(response.text) == "", name
            assert "process_resident_memory_bytes" in response.text, name
        pop_text = expositions["pop"].text
        assert 'mediacdn_edge_responses_total{cache="HIT",status="200"}' in pop_text
        assert 'mediacdn_edge_request_duration_seconds_bucket{le="+Inf"}' in pop_text
        assert 'mediacdn_router_decisions_total{pop="watched"} 2' in expositions["router"].text
        origin_text = expositions["origin"].text
        assert 'route="/static/vendor/{name}",method="GET",status="200"' in origin_text
        exposed = set().union(*(exposed_names(r.text) for r in expositions.values()))
        assert dashboard_metrics() <= exposed, dashboard_metrics() - exposed

        # the POP's records name it and carry each client's id; the fill reached the origin
        # with the id of the request that caused it
        records = json_lines(access)
        assert {r["id"] for r in records} >= set(asked)
        assert {r["pop"] for r in records} == {"watched"}
        assert {r["cache"] for r in records} >= {"MISS", "HIT"}
        origin_log = json_lines(origin.data_dir / "serve.log")
        assert all(isinstance(r["time"], str) and r["time"].endswith("Z") for r in origin_log)
        filled = [r for r in origin_log if r.get("route") == "/static/vendor/{name}"]
        assert [(r["id"], r["service"]) for r in filled] == [("req-0", "origin")]

        stop_process(origin.proc)  # the upstream gone: the POP is alive but not ready
        assert httpx.get(pop + "/healthz").status_code == 200
        readiness = httpx.get(pop + "/readyz", timeout=10)
        assert readiness.status_code == 503
        assert readiness.json()["upstream"] == "unavailable"
    router_log = (tmp_path / "router.log").read_text()
    assert "/route" in router_log  # the router's access log, in text


@pytest.mark.parametrize("where", ["missing-dir/access.log", "."])
@pytest.mark.parametrize(
    "server",
    [
        ["serve"],
        ["edge", "--name", "pop", "--admin-key", "a", "--upstream", "http://127.0.0.1:9"],
        ["router"],
    ],
    ids=["origin", "pop", "router"],
)
def test_an_access_log_that_cannot_be_written_stops_the_server_at_start(
    tmp_path: Path, server: list[str], where: str
) -> None:
    """A mistyped --access-log says so as the server starts: each worker failed on opening it,
    and the POP's workers were respawned until their manager gave up, a traceback each."""
    log = tmp_path / where
    args = [*server, "--port", str(free_port()), "--access-log", str(log)]
    done = run_cli(*args, "--data-dir", str(tmp_path / "data"), timeout_s=60)
    assert done.returncode != 0
    assert f"--access-log: cannot write to {log}" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
