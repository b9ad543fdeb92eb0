"""Coverage zones: a client that sends no location is placed by its address (longest prefix
wins), in the router's lookups and redirects."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from edge.router.app import create_router_app
from edge.router.coverage import CoverageZoneError, CoverageZones
from tests.support.asgi_server import serve_in_thread
from tests.support.edges import keyed_router, post_beat

ZONES = {
    "coverageZones": {
        "loopback-wide": {
            "network": ["127.0.0.0/8"],
            "coordinates": {"latitude": 40.7, "longitude": -74.0},
        },
        "loopback-one": {
            "network": ["127.0.0.1/32"],
            "network6": ["::1/128"],
            "coordinates": {"latitude": 48.85, "longitude": 2.30},
        },
        "docs": {
            "network6": ["2001:db8::/32"],
            "coordinates": {"latitude": 35.7, "longitude": 139.7},
        },
    }
}


def test_longest_prefix_wins_for_v4_and_v6() -> None:
    zones = CoverageZones.parse(ZONES)
    assert zones.locate("127.0.0.1") == (48.85, 2.30)
    assert zones.locate("127.9.9.9") == (40.7, -74.0)
    assert zones.locate("::1") == (48.85, 2.30)
    assert zones.locate("2001:db8::7") == (35.7, 139.7)
    assert zones.locate("192.0.2.1") is None
    assert zones.locate("not-an-ip") is None


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {
            "coverageZones": {
                "z": {"network": ["10.0.0.0/33"], "coordinates": {"latitude": 1, "longitude": 1}}
            }
        },
        {"coverageZones": {"z": {"network": ["10.0.0.0/8"]}}},
        {
            "coverageZones": {
                "z": {"network": ["10.0.0.0/8"], "coordinates": {"latitude": 91, "longitude": 1}}
            }
        },
    ],
)
def test_bad_zone_files_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(CoverageZoneError):
        CoverageZones.parse(bad)


def test_the_router_places_a_silent_client_by_its_address(tmp_path: Path) -> None:
    path = tmp_path / "czf.json"
    path.write_text(json.dumps(ZONES))
    app = keyed_router(["paris", "new-york"], zones=CoverageZones.load(path), probe_interval_s=None)
    with serve_in_thread(app, lifespan="on") as url, httpx.Client(base_url=url, timeout=5) as http:
        for name, lat, lon in (("paris", 48.86, 2.35), ("new-york", 40.71, -74.01)):
            beat = {"name": name, "url": f"http://{name}.invalid", "lat": lat, "lon": lon}
            assert post_beat(http, beat).status_code == 200
        assert http.get("/route", params={"path": "/vod/a/master.m3u8"}).json()["pop"] == "paris"
        redirect = http.get("/r/vod/a/master.m3u8")
        assert redirect.status_code == 302
        assert redirect.headers["location"] == "http://paris.invalid/vod/a/master.m3u8"
        # an explicit location still wins over the zone
        answer = http.get("/route", params={"geo": "40.7,-74.0"}).json()
        assert answer["pop"] == "new-york"
    no_zone = create_router_app(probe_interval_s=None)
    with serve_in_thread(no_zone, lifespan="on") as url:
        refused = httpx.get(url + "/route", timeout=5)
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "missing_location"
