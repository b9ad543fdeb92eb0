"""Direct-upload URLs and the API's CORS: a backend with the API key asks for a one-time
upload URL; a page on another origin uploads a file through it with tus-js-client in
Chromium, never holding the key; the URL then works for nothing else."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import sync_playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from origin.direct_uploads import GrantRefused, mint, signing_secret, verify
from sample_media.generate import SampleMedia
from tests.support.asgi_server import serve_in_thread
from tests.support.servers import OriginServer, origin_server

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OriginServer]:
    env = {"MEDIACDN_WORKERS": "0"}  # the uploads are what is tested, not their transcodes
    with origin_server(tmp_path_factory.mktemp("direct"), env) as server:
        yield server


def direct_url(origin: OriginServer, **body: int) -> dict[str, str]:
    answer = httpx.post(f"{origin.url}/api/direct-uploads", json=body, headers=origin.headers())
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


def page_site(origin_url: str) -> Starlette:
    """Another origin's page: it loads tus-js-client from the origin and uploads the bytes
    it is given through the URL it is given."""
    html = f"""<!doctype html><html><body>
<script src="{origin_url}/static/vendor/tus.min.js"></script>
<script>
window.send = (url, name, data) => new Promise((resolve, reject) => {{
  const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
  let videoId = null;
  const upload = new tus.Upload(new Blob([bytes]), {{
    endpoint: url,
    chunkSize: 512 * 1024,
    metadata: {{filename: name, title: "From another origin"}},
    onAfterResponse: (req, res) => {{ videoId = res.getHeader("X-Video-Id") || videoId; }},
    onError: (error) => reject(String(error)),
    onSuccess: () => resolve({{videoId, location: upload.url}}),
  }});
  upload.start();
}});
</script></body></html>"""

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(html)

    return Starlette(routes=[Route("/", index)])


def test_a_page_on_another_origin_uploads_through_a_one_time_url(
    origin: OriginServer, sample: SampleMedia
) -> None:
    grant = direct_url(origin, expires_in_s=600)
    assert grant["url"].startswith(f"{origin.url}/api/uploads/?token=")
    assert grant["expires_at"].endswith("Z")
    data = base64.b64encode(sample.video.read_bytes()).decode()
    with (
        serve_in_thread(page_site(origin.url)) as site,
        sync_playwright() as pw,
    ):
        assert site.rsplit(":", 1)[1] != origin.url.rsplit(":", 1)[1]  # another origin
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            page.goto(site)
            sent = page.evaluate(
                "([url, name, data]) => window.send(url, name, data)",
                [grant["url"], sample.video.name, data],
            )
        finally:
            browser.close()
    video_id = sent["videoId"]  # read from an exposed header, across origins
    assert video_id
    video = httpx.get(f"{origin.url}/api/videos/{video_id}").json()
    assert video["title"] == "From another origin"
    assert video["size_bytes"] == sample.video.stat().st_size

    # one time: the URL cannot make a second upload, nor touch any other
    again = httpx.post(grant["url"], headers={**TUS, "Upload-Length": "10"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "upload_url_used"
    other = httpx.post(
        f"{origin.url}/api/uploads/", headers={**TUS, "Upload-Length": "10", **origin.headers()}
    )
    assert other.status_code == 201
    token = grant["token"]
    foreign = httpx.head(f"{origin.url}{other.headers['location']}?token={token}", headers=TUS)
    assert foreign.status_code == 403


def test_an_upload_url_is_bounded_in_size_and_refused_when_forged(origin: OriginServer) -> None:
    grant = direct_url(origin, max_bytes=1000)
    big = httpx.post(grant["url"], headers={**TUS, "Upload-Length": "1001"})
    assert big.status_code == 413
    forged = grant["url"][:-3] + ("AAA" if not grant["url"].endswith("AAA") else "BBB")
    refused = httpx.post(forged, headers={**TUS, "Upload-Length": "10"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "invalid_upload_token"
    bearer = httpx.post(
        f"{origin.url}/api/uploads/",
        headers={**TUS, "Upload-Length": "10", "Authorization": f"Bearer {grant['token']}"},
    )
    assert bearer.status_code == 201  # the token works as a bearer credential too
    assert "token=" not in bearer.headers["location"]
    side = direct_url(origin)
    metadata = "role " + base64.b64encode(b"side").decode()
    refused = httpx.post(
        side["url"], headers={**TUS, "Upload-Length": "10", "Upload-Metadata": metadata}
    )
    assert refused.status_code == 422
    for body in ({"max_bytes": 0}, {"expires_in_s": 10}, {"scope": "all"}):
        wrong = httpx.post(f"{origin.url}/api/direct-uploads", json=body, headers=origin.headers())
        assert wrong.status_code == 422, body
    assert httpx.post(f"{origin.url}/api/direct-uploads", json={}).status_code == 401


def test_an_upload_url_stays_spent_after_its_upload_is_cancelled(origin: OriginServer) -> None:
    """Else its holder could cancel and start again (or finish, cancel, start again) and upload
    as many videos as the URL's lifetime allows."""
    grant = direct_url(origin)
    created = httpx.post(grant["url"], headers={**TUS, "Upload-Length": "10"})
    assert created.status_code == 201, created.text
    cancelled = httpx.delete(f"{origin.url}{created.headers['location']}", headers=TUS)
    assert cancelled.status_code == 204
    again = httpx.post(grant["url"], headers={**TUS, "Upload-Length": "10"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "upload_url_used"


def test_the_api_answers_preflights_for_tus_from_any_page(origin: OriginServer) -> None:
    asked = "authorization, tus-resumable, upload-length, upload-metadata, upload-offset"
    preflight = httpx.options(
        f"{origin.url}/api/uploads/",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": asked,
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert all(h.strip() in allowed for h in asked.split(","))
    assert "PATCH" in preflight.headers["access-control-allow-methods"]
    listed = httpx.get(f"{origin.url}/api/videos", headers={"Origin": "https://app.example"})
    assert listed.headers["access-control-allow-origin"] == "*"
    assert "x-video-id" in listed.headers["access-control-expose-headers"].lower()
    discovery = httpx.options(f"{origin.url}/api/uploads/")  # tus's own OPTIONS still works
    assert discovery.headers["tus-version"] == "1.0.0"


def test_grants_are_signed_expire_and_name_their_upload() -> None:
    secret = signing_secret("", ["key-a"])
    token, grant = mint(secret, "owner", 100, 60, now=1000.0)
    assert verify(secret, token, now=1059.0) == grant
    with pytest.raises(GrantRefused, match="expired"):
        verify(secret, token, now=1060.0)
    with pytest.raises(GrantRefused, match="not valid"):
        verify(signing_secret("", ["key-b"]), token, now=1000.0)  # other keys, other secret
    with pytest.raises(GrantRefused, match="not valid"):
        verify(secret, token.replace(".", ".x", 1), now=1000.0)
    assert signing_secret("configured", ["key-a"]) != secret


@pytest.mark.parametrize("slipped", ["!!!!", "\r\n\r\n", "    ", "%0d", "=="])
def test_a_grant_is_written_one_way_only(slipped: str) -> None:
    """Characters slipped into its signature are refused, not skipped by the decoder (the
    token goes back into a Location header: CR LF there made the origin drop the
    connection after it had created the upload)."""
    secret = signing_secret("", ["key-a"])
    token, _ = mint(secret, "owner", 100, 60, now=1000.0)
    with pytest.raises(GrantRefused, match="not valid"):
        verify(secret, token[:-4] + slipped + token[-4:], now=1000.0)
