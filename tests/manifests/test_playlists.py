"""HLS rendering (RFC 8216), checked by parsing it back with the independent m3u8 library."""

from __future__ import annotations

import m3u8
import pytest

from manifests.errors import ManifestError
from manifests.model import (
    ByteRange,
    MasterPlaylist,
    MediaPlaylist,
    MediaTrack,
    Segment,
    Variant,
)
from manifests.parse import parse_master_playlist, parse_media_playlist
from manifests.render import (
    format_duration,
    quote,
    render_master_playlist,
    render_media_playlist,
    target_duration_s,
)


def media(durations: list[float]) -> MediaPlaylist:
    return MediaPlaylist(
        segments=tuple(Segment(f"{i}.m4s", d) for i, d in enumerate(durations)),
        init_uri="init.mp4",
    )


@pytest.mark.parametrize(
    ("durations", "target"),
    [
        pytest.param([4.0, 4.0, 1.0], 4, id="exact"),
        pytest.param([4.010667, 3.989333], 4, id="rounds-down"),
        pytest.param([4.5, 2.0], 5, id="half-rounds-up"),
        pytest.param([0.2], 1, id="never-zero"),
    ],
)
def test_target_duration_rounds_each_extinf(durations: list[float], target: int) -> None:
    assert target_duration_s(durations) == target


def test_media_playlist_parses_back_with_m3u8() -> None:
    text = render_media_playlist(media([4.0, 4.010667, 1.5]))
    parsed = m3u8.loads(text)
    assert parsed.is_endlist
    assert parsed.playlist_type == "vod"
    assert parsed.target_duration == 4
    assert parsed.version == 7
    assert parsed.segment_map[0].uri == "init.mp4"
    assert [s.duration for s in parsed.segments] == [4.0, 4.010667, 1.5]
    assert [s.uri for s in parsed.segments] == ["0.m4s", "1.m4s", "2.m4s"]


def test_media_playlist_roundtrips_through_our_parser() -> None:
    playlist = media([4.0, 3.5])
    assert parse_media_playlist(render_media_playlist(playlist)) == playlist


def variant_720p(subtitles: str | None) -> Variant:
    return Variant(
        "720p/index.m3u8",
        3_000_000,
        2_900_000,
        "avc1.64001f,mp4a.40.2",
        (1280, 720),
        30.0,
        "audio",
        subtitles,
    )


def test_master_playlist_parses_back_with_m3u8() -> None:
    master = MasterPlaylist(
        variants=(
            variant_720p("subs"),
            Variant(
                "360p/index.m3u8",
                900_000,
                850_000,
                "avc1.64001e,mp4a.40.2",
                (640, 360),
                29.97,
                "audio",
                "subs",
            ),
        ),
        media=(
            MediaTrack(
                "AUDIO",
                "audio",
                "English",
                "audio-eng/index.m3u8",
                "eng",
                default=True,
                channels="2",
            ),
            MediaTrack("AUDIO", "audio", "Español", "audio-spa/index.m3u8", "spa"),
            MediaTrack("SUBTITLES", "subs", "English", "subs-eng/index.m3u8", "eng"),
        ),
    )
    parsed = m3u8.loads(render_master_playlist(master))
    assert parsed.is_variant
    assert parsed.is_independent_segments
    first = parsed.playlists[0].stream_info
    assert first.bandwidth == 3_000_000
    assert first.average_bandwidth == 2_900_000
    assert first.resolution == (1280, 720)
    assert first.codecs == "avc1.64001f,mp4a.40.2"
    assert first.frame_rate == 30.0
    assert first.audio == "audio"
    assert first.subtitles == "subs"
    languages = [(m.type, m.language, m.default) for m in parsed.media]
    assert languages == [
        ("AUDIO", "eng", "YES"),
        ("AUDIO", "spa", "NO"),
        ("SUBTITLES", "eng", "NO"),
    ]
    assert parsed.media[1].name == "Español"


def test_default_track_is_always_autoselect() -> None:
    track = MediaTrack("AUDIO", "a", "English", "x.m3u8", "eng", default=True, autoselect=False)
    text = render_master_playlist(MasterPlaylist(variants=(), media=(track,)))
    assert "DEFAULT=YES,AUTOSELECT=YES" in text


@pytest.mark.parametrize("value", ['a"b', "a\nb", "a\rb"])
def test_quoted_strings_refuse_quotes_and_newlines(value: str) -> None:
    with pytest.raises(ValueError, match="cannot quote"):
        quote(value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(4.0, "4.0"), (4.010667, "4.010667"), (1.5, "1.5"), (0.1234567, "0.123457")],
)
def test_durations_are_exact_decimals(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param("0.m4s\n", "#EXTM3U", id="no-header"),
        pytest.param("#EXTM3U\n0.m4s\n", "without a preceding EXTINF", id="uri-without-extinf"),
        pytest.param("#EXTM3U\n#EXTINF:abc,\n0.m4s\n", "not a number", id="bad-duration"),
        pytest.param("#EXTM3U\n#EXT-X-MAP:BYTERANGE=1\n", "without URI", id="map-no-uri"),
        pytest.param(
            "#EXTM3U\n#EXTINF:2,\n#EXT-X-BYTERANGE:100\na.ts\n", "offset to follow", id="no-offset"
        ),
        pytest.param(
            "#EXTM3U\n#EXTINF:2,\n#EXT-X-BYTERANGE:100@0\na.ts\n#EXTINF:2,\n"
            "#EXT-X-BYTERANGE:100\nb.ts\n",
            "offset to follow",
            id="no-offset-another-file",
        ),
        pytest.param("#EXTM3U\n#EXT-X-BYTERANGE:1e3@0\n", "<length>", id="bad-byterange"),
        pytest.param("#EXTM3U\n#EXT-X-BYTERANGE:0@0\n", "<length>", id="empty-byterange"),
        pytest.param('#EXTM3U\n#EXT-X-MAP:URI="i",BYTERANGE="7"\n', "BYTERANGE", id="map-range"),
        pytest.param("#EXTM3U\n#EXT-X-PART:DURATION=0.5\n", "without URI", id="part-no-uri"),
        pytest.param('#EXTM3U\n#EXT-X-PART:URI="p"\n', "number of seconds", id="part-no-time"),
        pytest.param(
            '#EXTM3U\n#EXT-X-PART:DURATION=-1,URI="p"\n', "number of seconds", id="part-minus"
        ),
        pytest.param(
            '#EXTM3U\n#EXT-X-PART:DURATION=1,URI="p",BYTERANGE="9"\n', "BYTERANGE", id="part-range"
        ),
        pytest.param("#EXTM3U\n#EXT-X-PART-INF:PART-TARGET=nan\n", "seconds", id="part-target"),
        pytest.param(
            "#EXTM3U\n#EXT-X-SERVER-CONTROL:PART-HOLD-BACK=inf\n", "seconds", id="hold-back"
        ),
    ],
)
def test_parser_reports_the_bad_line(text: str, reason: str) -> None:
    with pytest.raises(ManifestError, match=reason):
        parse_media_playlist(text)


def test_byte_ranges_parse_and_render_back() -> None:
    """ffmpeg's `single_file` output: every segment and the init segment a range of one file;
    a range without an offset follows the previous range of the same file."""
    text = (
        '#EXTM3U\n#EXT-X-MAP:URI="all, in one.mp4",BYTERANGE="806@0"\n'
        "#EXTINF:2,\n#EXT-X-BYTERANGE:1000@806\nall, in one.mp4\n"
        "#EXTINF:2,\n#EXT-X-BYTERANGE:500\nall, in one.mp4\n#EXT-X-ENDLIST\n"
    )
    playlist = parse_media_playlist(text)
    assert playlist.init_uri == "all, in one.mp4"
    assert playlist.init_byterange == ByteRange(806, 0)
    assert [s.byterange for s in playlist.segments] == [ByteRange(1000, 806), ByteRange(500, 1806)]
    assert [s.byterange.header for s in playlist.segments if s.byterange] == [
        "bytes=806-1805",
        "bytes=1806-2305",
    ]
    assert parse_media_playlist(render_media_playlist(playlist)) == playlist
    assert m3u8.loads(render_media_playlist(playlist)).segments[1].byterange == "500@1806"


@pytest.mark.parametrize("bandwidth", ["", "1.5e6", "fast", "-1"])
def test_a_master_playlist_without_a_whole_bandwidth_is_refused(bandwidth: str) -> None:
    with pytest.raises(ManifestError, match="BANDWIDTH"):
        parse_master_playlist(f"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH={bandwidth}\nv.m3u8\n")


def test_master_playlist_parses_back_with_our_parser() -> None:
    master = MasterPlaylist(
        variants=(variant_720p(None),),
        media=(MediaTrack("AUDIO", "audio", "English, US", "a/index.m3u8", "eng", default=True),),
    )
    parsed = parse_master_playlist(render_master_playlist(master))
    (variant,) = parsed.variants
    assert variant.uri == "720p/index.m3u8"
    assert variant.bandwidth_bps == 3_000_000
    assert variant.codecs == "avc1.64001f,mp4a.40.2"  # a comma inside quotes
    assert variant.resolution == (1280, 720)
    (track,) = parsed.media
    assert track.name == "English, US"
    assert track.default
