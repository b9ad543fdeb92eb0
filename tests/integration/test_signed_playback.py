"""Signed playback end to end, with real processes: an origin and a POP sharing a key ring, a
signed video, tokens from the API, players (ffmpeg, plain HTTP) through the POP and direct."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from httprules.playback_tokens import KeyRing, mint
from sample_media.generate import SampleMedia
from tests.conftest import TEST_LADDER
from tests.support.asgi_server import serve_in_thread
from tests.support.edges import keyed_router, mediacdn_process, pop_key
from tests.support.live import push, stop_encoder
from tests.support.playback import upload_raw, wait_for_video
from tests.support.raw_http import raw_get
from tests.support.servers import OriginServer, free_port, origin_server, run_cli, wait_until

pytestmark = pytest.mark.slow

K1 = "first-secret-0123456789"
K2 = "second-secret-0123456789"
ONE_KEY = f'signing = "k1"\n[keys]\nk1 = "{K1}"\n'
ROTATED = f'signing = "k2"\n[keys]\nk1 = "{K1}"\nk2 = "{K2}"\n'
RETIRED = f'signing = "k2"\n[keys]\nk2 = "{K2}"\n'
RELOAD_S = 1.3  # key files are checked for changes once a second


@dataclass
class SignedCdn:
    origin: OriginServer
    pop: str
    keys: Path
    video_id: str
    api: httpx.Client
    router: str

    def token(self, **body: object) -> dict[str, object]:
        response = self.api.post(
            f"/api/videos/{self.video_id}/playback-tokens",
            json=body,
            headers=self.origin.headers(),
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def signed_path(self, token: object, rest: str = "master.m3u8") -> str:
        return f"/vod/{self.video_id}/~{token}/{rest}"


@pytest.fixture(scope="module")
def cdn(tmp_path_factory: pytest.TempPathFactory, sample: SampleMedia) -> Iterator[SignedCdn]:
    root = tmp_path_factory.mktemp("signed")
    keys = root / "playback-keys.toml"
    keys.write_text(ONE_KEY)
    origin_port = free_port()
    upstream = f"http://127.0.0.1:{origin_port}"
    pop_env = {"MEDIACDN_ADMIN_KEYS": "admin", "MEDIACDN_POP_KEY": pop_key("pop")}
    pop_args = ("--name", "pop", "--upstream", upstream, "--playback-keys", str(keys))
    with (
        serve_in_thread(keyed_router(["pop"]), lifespan="on") as router,
        mediacdn_process(
            "edge", root, pop_env, *pop_args, "--router", router, "--lat", "1", name="pop"
        ) as pop,
    ):
        env = {
            "MEDIACDN_LADDER": TEST_LADDER,
            "MEDIACDN_X264_PRESET": "ultrafast",
            "MEDIACDN_PLAYBACK_KEYS": str(keys),
            "MEDIACDN_EDGES": pop,  # purged when a video's access changes
            "MEDIACDN_EDGE_ADMIN_KEY": "admin",
            "MEDIACDN_LIVE_PORTS": str(free_port()),
            "MEDIACDN_LIVE_LADDER": "360:800",
        }
        with (
            origin_server(root / "origin", env, port=origin_port) as origin,
            httpx.Client(base_url=origin.url, timeout=30) as api,
        ):
            data = sample.video.read_bytes()
            video_id = upload_raw(api, origin.headers(), data, "?access=signed")
            assert wait_for_video(api, video_id)["status"] == "ready"
            wait_until(lambda: _routed(router), 20, "the POP in the router's rotation")
            yield SignedCdn(origin, pop, keys, video_id, api, router)


def _routed(router: str) -> bool:
    pops = httpx.get(router + "/pops", timeout=2).json()["pops"]
    return any(p["name"] == "pop" and p["healthy"] for p in pops)


def test_a_signed_video_needs_a_token_at_the_origin_and_the_pop(cdn: SignedCdn) -> None:
    shown = cdn.api.get(f"/api/videos/{cdn.video_id}").json()
    assert shown["access"] == "signed"
    minted = cdn.token(ttl_s=600)
    assert minted["hls"] == cdn.signed_path(minted["token"])
    expires_at = datetime.fromisoformat(str(minted["expires_at"])).timestamp()
    assert expires_at - time.time() == pytest.approx(600, abs=5)
    for base in (cdn.origin.url, cdn.pop):
        signed = httpx.get(base + str(minted["hls"]))
        assert signed.status_code == 200
        assert signed.text.startswith("#EXTM3U")
        for path in (f"/vod/{cdn.video_id}/master.m3u8", f"/vod/{cdn.video_id}/360p/0.m4s"):
            refused = httpx.get(base + path)  # also once the POP holds it
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "token_required"
            # a player on another page reads the refusal (to ask for a new token)
            assert refused.headers["access-control-allow-origin"] == "*"


def test_a_signed_live_stream_and_its_recording_need_a_token(cdn: SignedCdn, ffmpeg: str) -> None:
    headers = cdn.origin.headers()
    created = cdn.api.post("/api/live", json={"title": "paid", "access": "signed"}, headers=headers)
    assert created.status_code == 201, created.text
    stream = created.json()
    assert stream["access"] == "signed"
    stream_id = stream["id"]
    minted = cdn.api.post(f"/api/live/{stream_id}/playback-tokens", json={}, headers=headers)
    assert minted.status_code == 201, minted.text
    token = minted.json()["token"]
    assert minted.json()["hls"] == f"/live/{stream_id}/~{token}/master.m3u8"
    encoder = push(ffmpeg, stream["ingest_url"], 30)
    try:
        wait_until(
            lambda: cdn.api.get(f"/api/live/{stream_id}").json()["status"] == "live", 30, "on air"
        )
        video_token = cdn.token()["token"]  # the video's token does not grant the stream
        for base in (cdn.origin.url, cdn.pop):
            master = httpx.get(f"{base}/live/{stream_id}/~{token}/master.m3u8", timeout=30)
            assert master.status_code == 200, master.text
            media = httpx.get(f"{base}/live/{stream_id}/~{token}/360p/index.m3u8", timeout=30)
            assert media.status_code == 200
            assert "#EXT-X-PART:" in media.text
            for path, code in (
                (f"/live/{stream_id}/master.m3u8", "token_required"),
                (f"/live/{stream_id}/360p/index.m3u8", "token_required"),  # held by the POP now
                (f"/live/{stream_id}/360p/init.mp4", "token_required"),
                (f"/live/{stream_id}/~{video_token}/master.m3u8", "token_invalid"),
            ):
                refused = httpx.get(base + path, timeout=30)
                assert refused.status_code == 403, (base, path)
                assert refused.json()["error"]["code"] == code
    finally:
        ended = cdn.api.delete(f"/api/live/{stream_id}", headers=headers, timeout=90)
        stop_encoder(encoder)
    assert ended.status_code == 200
    recording = wait_for_video(cdn.api, stream_id)
    assert recording["status"] == "ready"
    assert recording["access"] == "signed"
    assert httpx.get(f"{cdn.origin.url}/vod/{stream_id}/master.m3u8").status_code == 403


def test_ffmpeg_plays_a_signed_url_through_the_pop(cdn: SignedCdn, ffmpeg: str) -> None:
    url = cdn.pop + str(cdn.token(ttl_s=300)["hls"])
    played = subprocess.run(
        [ffmpeg, "-v", "error", "-xerror", "-i", url, "-map", "0", "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert played.returncode == 0, played.stderr[-2000:]


def _bad_token(cdn: SignedCdn, case: str) -> str:
    ring = KeyRing.parse(cdn.keys.read_text())
    good = str(cdn.token(ttl_s=300)["token"])
    if case == "tampered":
        return good[:-3] + ("abc" if not good.endswith("abc") else "xyz")
    if case == "expired":
        return mint(ring, f"/vod/{cdn.video_id}/", int(time.time()) - 5)
    if case == "other video":
        return mint(ring, "/vod/someothervideo/", int(time.time()) + 300)
    if case == "other ip":
        return str(cdn.token(ttl_s=300, client_ip="10.20.30.40")["token"])
    if case == "unknown key":
        other = KeyRing({"k1": b"not-the-real-secret-at-all"}, "k1")
        return mint(other, f"/vod/{cdn.video_id}/", int(time.time()) + 300)
    raise AssertionError(case)


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("tampered", "token_invalid"),
        ("expired", "token_expired"),
        ("other video", "token_invalid"),
        ("other ip", "token_invalid"),
        ("unknown key", "token_invalid"),
    ],
)
def test_tokens_that_do_not_grant_the_video_get_403(cdn: SignedCdn, case: str, code: str) -> None:
    token = _bad_token(cdn, case)
    for base in (cdn.origin.url, cdn.pop):
        for rest in ("master.m3u8", "360p/index.m3u8", "360p/init.mp4", "360p/1.m4s"):
            refused = httpx.get(base + cdn.signed_path(token, rest))
            assert refused.status_code == 403, (base, rest)
            assert refused.headers["content-type"] == "application/json"
            assert refused.json()["error"]["code"] == code


@pytest.mark.parametrize("up", ["..", "%2e%2e", ".%2E"])
def test_a_token_for_one_video_never_climbs_to_another(cdn: SignedCdn, up: str) -> None:
    """A token grants its prefix; a path that climbs out of it after the token (`..`, or
    percent-encoded dots a server behind may decode) names another video, which it does not
    grant: the POP resolves the path before judging it, as the origin refuses such paths."""
    ring = KeyRing.parse(cdn.keys.read_text())
    token = mint(ring, "/vod/someothervideo/", int(time.time()) + 300)
    for base in (cdn.origin.url, cdn.pop):
        for rest in ("master.m3u8", "360p/index.m3u8", "360p/1.m4s"):
            target = f"/vod/someothervideo/~{token}/{up}/{cdn.video_id}/{rest}"
            refused = raw_get(base, target)
            assert refused.status in (400, 403, 404), (base, target, refused.status)
            assert b"#EXTM3U" not in refused.body


def test_a_token_bound_to_the_client_address_plays_from_that_address(cdn: SignedCdn) -> None:
    token = cdn.token(ttl_s=300, client_ip="127.0.0.1")["token"]
    for base in (cdn.origin.url, cdn.pop):
        assert httpx.get(base + cdn.signed_path(token, "360p/index.m3u8")).status_code == 200


def _upstream_requests(pop: str) -> int:
    return int(httpx.get(pop + "/stats").json()["upstream_requests"])


def _purge(cdn: SignedCdn, prefix: str) -> None:
    purged = httpx.post(
        cdn.pop + "/admin/purge",
        json={"prefixes": [f"/vod/{cdn.video_id}/{prefix}"]},
        headers={"Authorization": "Bearer admin"},
    )
    assert purged.status_code == 200


def test_viewers_with_different_tokens_share_one_upstream_fetch(cdn: SignedCdn) -> None:
    one = cdn.token(ttl_s=300)["token"]
    two = cdn.token(ttl_s=300, client_ip="127.0.0.1")["token"]
    assert one != two
    paths = ["240p/index.m3u8", "240p/init.mp4", "240p/0.m4s", "240p/1.m4s"]
    _purge(cdn, "240p/")
    before = _upstream_requests(cdn.pop)
    for path in paths:
        first = httpx.get(cdn.pop + cdn.signed_path(one, path))
        second = httpx.get(cdn.pop + cdn.signed_path(two, path))
        assert first.status_code == second.status_code == 200
        assert first.headers["x-cache"] == "MISS"
        assert second.headers["x-cache"] == "HIT"
        assert first.content == second.content
    assert _upstream_requests(cdn.pop) - before == len(paths)


def test_access_changes_with_patch(cdn: SignedCdn) -> None:
    path = f"/vod/{cdn.video_id}/240p/1.m4s"
    token = cdn.token(ttl_s=300)["token"]
    assert httpx.get(cdn.pop + cdn.signed_path(token, "240p/1.m4s")).status_code == 200
    headers = cdn.origin.headers()
    bad = cdn.api.patch(f"/api/videos/{cdn.video_id}", json={"access": "secret"}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_access"
    assert (
        cdn.api.patch(f"/api/videos/{cdn.video_id}", json={"access": "public"}).status_code == 401
    )
    try:
        made_public = cdn.api.patch(
            f"/api/videos/{cdn.video_id}", json={"access": "public"}, headers=headers
        )
        assert made_public.json()["access"] == "public"
        for base in (cdn.origin.url, cdn.pop):  # the POP's signed copy was purged
            assert httpx.get(base + path).status_code == 200
    finally:
        cdn.api.patch(f"/api/videos/{cdn.video_id}", json={"access": "signed"}, headers=headers)
    for base in (cdn.origin.url, cdn.pop):  # and its public copy too
        assert httpx.get(base + path).status_code == 403


def test_token_requests_that_are_refused(cdn: SignedCdn) -> None:
    url = f"/api/videos/{cdn.video_id}/playback-tokens"
    headers = cdn.origin.headers()
    assert cdn.api.post(url, json={"ttl_s": 60}).status_code == 401
    for body, code in (
        ({"ttl_s": 0}, "invalid_ttl"),
        ({"ttl_s": "60"}, "invalid_ttl"),
        ({"ttl_s": 10**9}, "invalid_ttl"),
        ({"client_ip": "not an address"}, "invalid_client_ip"),
    ):
        refused = cdn.api.post(url, json=body, headers=headers)
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == code
    missing = cdn.api.post("/api/videos/nosuchvideo/playback-tokens", json={}, headers=headers)
    assert missing.status_code == 404


def test_rotation_keeps_old_tokens_until_their_key_is_retired(cdn: SignedCdn) -> None:
    old = cdn.token(ttl_s=300)["token"]
    assert str(old).startswith("k1.")
    try:
        cdn.keys.write_text(ROTATED)
        time.sleep(RELOAD_S)
        new = cdn.token(ttl_s=300)["token"]
        assert str(new).startswith("k2.")
        for base in (cdn.origin.url, cdn.pop):
            for token in (old, new):
                assert httpx.get(base + cdn.signed_path(token, "360p/1.m4s")).status_code == 200
        cdn.keys.write_text(RETIRED)
        time.sleep(RELOAD_S)
        _purge(cdn, "")  # the next requests fill again, with a site token signed by k2
        for base in (cdn.origin.url, cdn.pop):
            retired = httpx.get(base + cdn.signed_path(old, "360p/1.m4s"))
            assert retired.status_code == 403
            assert retired.json()["error"]["code"] == "token_invalid"
            fresh = httpx.get(base + cdn.signed_path(new, "360p/0.m4s"))
            assert fresh.status_code == 200
    finally:
        cdn.keys.write_text(ONE_KEY)
        time.sleep(RELOAD_S)


def test_the_router_keeps_the_token(cdn: SignedCdn) -> None:
    hls = str(cdn.token(ttl_s=300)["hls"])
    geo = {"geo": "1,0"}
    redirected = httpx.get(f"{cdn.router}/r{hls}", params=geo)
    assert redirected.status_code == 302
    assert redirected.headers["location"] == cdn.pop + hls
    rewritten = httpx.get(f"{cdn.router}/cdn{hls}", params=geo)
    assert rewritten.status_code == 200
    uris = [line for line in rewritten.text.splitlines() if line and not line.startswith("#")]
    assert uris
    token_dir = hls.rsplit("/", 1)[0] + "/"
    assert all(uri.startswith(cdn.pop + token_dir) for uri in uris)
    assert httpx.get(uris[0]).status_code == 200
    steered = httpx.get(f"{cdn.router}/steered{hls}", params=geo)
    assert steered.status_code == 200
    uris = [line for line in steered.text.splitlines() if line and not line.startswith("#")]
    assert uris
    assert all(token_dir in uri for uri in uris)
    assert httpx.get(uris[0]).status_code == 200


def test_the_headless_player_plays_a_signed_url(cdn: SignedCdn, tmp_path: Path) -> None:
    hls = str(cdn.token(ttl_s=300)["hls"])
    for args in (
        [cdn.pop + hls],
        [cdn.origin.url + hls, "--router", cdn.router, "--geo", "1,0"],
    ):
        played = run_cli("play", *args, "--speed", "50")
        assert played.returncode == 0, played.stderr[-2000:]
        assert json.loads(played.stdout[played.stdout.index("{") :])["segments"] > 0
    refused = run_cli("play", f"{cdn.pop}/vod/{cdn.video_id}/master.m3u8")
    assert refused.returncode == 1
    assert "403" in refused.stderr
