"""Content steering and absolute playlists (pure): the router's rewriting of playlists, table
by table, checked back with the m3u8 library."""

from __future__ import annotations

import json

import m3u8
import pytest

from edge.router.steering import absolute_uris, steered_master, steering_manifest

MASTER = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="eng",DEFAULT=YES,URI="audio-eng/index.m3u8"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="eng",URI="subs-eng/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,AUDIO="aud",SUBTITLES="subs"
360p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2800000,RESOLUTION=1280x720,AUDIO="aud",SUBTITLES="subs"
720p/index.m3u8
"""
MEDIA = """#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-MAP:URI="init.mp4"
#EXTINF:4.0,
0.m4s
#EXTINF:4.0,
../other/1.m4s
#EXT-X-ENDLIST
"""
PATHWAYS = [
    ("paris", "http://paris.example/vod/v1/master.m3u8"),
    ("london", "http://london.example/vod/v1/master.m3u8"),
]


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        pytest.param(
            "http://pop/vod/v1/360p/index.m3u8",
            [
                "http://pop/vod/v1/360p/init.mp4",
                "http://pop/vod/v1/360p/0.m4s",
                "http://pop/vod/v1/other/1.m4s",
            ],
            id="relative",
        ),
        pytest.param(
            "https://pop:8443/x/index.m3u8",
            [
                "https://pop:8443/x/init.mp4",
                "https://pop:8443/x/0.m4s",
                "https://pop:8443/other/1.m4s",
            ],
            id="https-port",
        ),
    ],
)
def test_absolute_uris(base: str, expected: list[str]) -> None:
    playlist = m3u8.loads(absolute_uris(MEDIA, base))
    assert [playlist.segment_map[0].uri, *(s.uri for s in playlist.segments)] == expected


def test_steered_master_lists_every_variant_once_per_pathway() -> None:
    text = steered_master(MASTER, PATHWAYS, "http://router/steering?geo=1,2")
    assert (
        '#EXT-X-CONTENT-STEERING:SERVER-URI="http://router/steering?geo=1,2",PATHWAY-ID="paris"'
        in text
    )
    playlist = m3u8.loads(text)
    uris = [p.uri for p in playlist.playlists]
    assert uris == [
        "http://paris.example/vod/v1/360p/index.m3u8",
        "http://paris.example/vod/v1/720p/index.m3u8",
        "http://london.example/vod/v1/360p/index.m3u8",
        "http://london.example/vod/v1/720p/index.m3u8",
    ]
    lines = text.splitlines()
    infs = [line for line in lines if line.startswith("#EXT-X-STREAM-INF")]
    assert [line.rsplit("PATHWAY-ID=", 1)[1] for line in infs] == ['"paris"'] * 2 + ['"london"'] * 2
    assert all('AUDIO="aud@paris"' in line for line in infs[:2])
    assert all('AUDIO="aud@london"' in line for line in infs[2:])
    groups = sorted(m.group_id for m in playlist.media)
    assert groups == ["aud@london", "aud@paris", "subs@london", "subs@paris"]
    media_uris = {m.group_id: m.uri for m in playlist.media}
    assert media_uris["aud@london"] == "http://london.example/vod/v1/audio-eng/index.m3u8"


@pytest.mark.parametrize(
    ("text", "pathways", "message"),
    [
        pytest.param(MASTER, [], "at least one pathway", id="no-pathway"),
        pytest.param(MEDIA, PATHWAYS, "not a master playlist", id="media-playlist"),
        pytest.param(
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n",
            PATHWAYS,
            "without a URI",
            id="variant-without-uri",
        ),
    ],
)
def test_steered_master_refuses(text: str, pathways: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        steered_master(text, pathways, "http://router/steering")


@pytest.mark.parametrize(
    ("priority", "ttl_s", "reload_uri", "expected"),
    [
        pytest.param(
            ["a", "b"],
            5,
            None,
            {"VERSION": 1, "TTL": 5, "PATHWAY-PRIORITY": ["a", "b"]},
            id="plain",
        ),
        pytest.param(
            ["a"],
            10,
            "http://r/s",
            {"VERSION": 1, "TTL": 10, "PATHWAY-PRIORITY": ["a"], "RELOAD-URI": "http://r/s"},
            id="reload-uri",
        ),
    ],
)
def test_steering_manifest(
    priority: list[str], ttl_s: int, reload_uri: str | None, expected: dict[str, object]
) -> None:
    """RFC 8216bis §7.2.1: VERSION, TTL, PATHWAY-PRIORITY and an optional RELOAD-URI."""
    assert json.loads(steering_manifest(priority, ttl_s, reload_uri)) == expected
