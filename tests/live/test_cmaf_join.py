"""Tracks pushed separately are joined into one fragmented MP4 stream that ffmpeg reads
whole; one track (a muxed one included) and MPEG-TS pass through byte for byte."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.live import dash_tracks
from transcoder.cmaf_join import TrackJoiner, TrackNames, handler_kinds, track_key
from transcoder.tools import tool_env

SECONDS = 3


@pytest.fixture(scope="module")
def dash(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What ffmpeg's dash muxer writes for 3 s of video and audio: an init segment and three
    1 s segments per track, each track with track_ID 1."""
    out = tmp_path_factory.mktemp("dash")
    dash_tracks(ffmpeg, out, SECONDS)
    return out


def packets(ffprobe: str, path: Path) -> dict[str, int]:
    """Packets per stream kind, as ffprobe reads the file."""
    return dict(streams(ffprobe, path))


def streams(ffprobe: str, path: Path) -> list[tuple[str, int]]:
    """Each stream's kind and packets, in order, as ffprobe reads the file."""
    probe = ["-v", "error", "-count_packets", "-show_entries", "stream=codec_type,nb_read_packets"]
    done = subprocess.run(
        [ffprobe, *probe, "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        env=tool_env(),
        check=True,
        timeout=60,
    )
    rows = [line.split(",") for line in done.stdout.split()]
    return [(kind, int(count)) for kind, count in rows]


def segments(track: int) -> list[str]:
    return [f"chunk-stream{track}-{n:05d}.m4s" for n in range(1, SECONDS + 1)]


def test_track_keys_follow_the_names_encoders_give() -> None:
    # ffmpeg's dash muxer: "stream1" is the track, the last number counts segments
    assert track_key("init-stream1.m4s") == track_key("chunk-stream1-00042.m4s") == "/stream1"
    assert track_key("init-stream0.m4s") != track_key("init-stream1.m4s")
    # ffmpeg's hls muxer: a single track
    assert track_key("init.mp4") == track_key("index17.m4s") == "/"
    # Shaka Packager: words tell the tracks apart, with numbers in them
    assert track_key("h264_360p_init.mp4") == track_key("h264_360p_17.m4s") == "/h264-360p"
    assert track_key("h264_720p_init.mp4") != track_key("h264_360p_init.mp4")
    assert track_key("audio_init.mp4") == track_key("audio_17.m4s") == "/audio"
    assert track_key("v_init.mp4") != track_key("a_init.mp4")
    # DASH-IF ingest names the track; a directory per track
    assert track_key("live/Streams(audio_eng)") == track_key("Streams(audio_eng)/3.cmfa")
    assert track_key("video/init.mp4") == track_key("video/seg_12.m4s") != track_key("audio/1.m4s")
    # a body that starts with an init segment: its name's last number names its track
    # (ffmpeg's dash muxer's -single_file: an init segment and its media in one request)
    assert track_key("live-stream1.mp4", init=True) == "/live-stream1"
    assert track_key("live-stream0.mp4", init=True) != track_key("live-stream1.mp4", init=True)
    assert track_key("live-stream1.mp4") == "/live-stream"  # as a segment's name: its number


@pytest.mark.parametrize(
    ("names", "tracks"),
    [
        # ffmpeg's hls muxer names its segments after its playlist: still the init's track
        (["init.mp4", "live0.m4s", "live1.m4s", "live.m3u8"], ["/"] * 4),
        # but a track of its own is not taken for another one with a name
        (
            ["init-stream0.m4s", "chunk-stream1-00001.m4s", "init-stream1.m4s", "live.mpd"],
            ["/stream0", "/stream1", "/stream1", "/live"],
        ),
        (["stream.mp4", "stream.mp4"], ["/stream"] * 2),  # one long request, again
        # an init segment that names its track starts it, beside a nameless one
        (["init.mp4", "audio_init.mp4", "audio_1.m4s", "1.m4s"], ["/", "/audio", "/audio", "/"]),
    ],
)
def test_a_file_of_a_track_not_named_goes_with_the_only_one(
    names: list[str], tracks: list[str]
) -> None:
    seen = TrackNames()
    assert [seen.track(name) for name in names] == tracks


def test_a_body_that_starts_with_an_init_segment_starts_its_own_track() -> None:
    seen = TrackNames()
    assert seen.track("live-stream0.mp4", init=True) == "/live-stream0"
    assert seen.track("live-stream1.mp4", init=True) == "/live-stream1"
    beside = TrackNames()  # not taken for the nameless track's segment
    assert beside.track("init.mp4", init=True) == "/"
    assert beside.track("live0.m4s") == "/"
    assert beside.track("sound1.mp4", init=True) == "/sound1"


def test_separate_tracks_are_joined_into_one_stream(
    dash: Path, ffprobe: str, tmp_path: Path
) -> None:
    joiner = TrackJoiner()
    joined = bytearray()
    names = ["init-stream0.m4s", "init-stream1.m4s"]
    names += [name for pair in zip(segments(0), segments(1), strict=True) for name in pair]
    for n, name in enumerate(names):
        joined += joiner.add(track_key(name), (dash / name).read_bytes(), now=float(n))
        if n == 0:
            assert not joined  # held back until the audio track's init came
    assert joiner.mode == "joined"
    assert handler_kinds(bytes(joined)) == [b"vide", b"soun"]
    out = tmp_path / "joined.mp4"
    out.write_bytes(joined)
    got = packets(ffprobe, out)
    assert got["video"] == 30 * SECONDS
    assert got["audio"] >= 43 * SECONDS  # 1024-sample AAC frames at 44.1 kHz


def test_a_track_whose_init_comes_after_the_first_two_is_joined_too(
    ffmpeg: str, ffprobe: str, tmp_path: Path
) -> None:
    """Two languages and a picture, each track on its own, their inits in the order an
    encoder's requests happen to arrive (a sound, the picture, the other sound): every
    track is joined (before, the join came at the picture's init and left the second sound
    out)."""
    tracks = dash_tracks(ffmpeg, tmp_path, SECONDS, sounds=2)
    order = [("/1", tracks[1][0]), ("/0", tracks[0][0]), ("/2", tracks[2][0])]
    order += [(f"/{k}", tracks[k][n]) for n in range(1, SECONDS + 1) for k in range(3)]
    joiner = TrackJoiner()
    joined = b"".join(joiner.add(key, data, now=n / 10) for n, (key, data) in enumerate(order))
    assert joiner.mode == "joined"
    assert handler_kinds(joined) == [b"soun", b"vide", b"soun"]
    out = tmp_path / "joined.mp4"
    out.write_bytes(joined)
    got = streams(ffprobe, out)
    assert [kind for kind, _ in got] == ["audio", "video", "audio"]
    assert all(count >= 43 * SECONDS for kind, count in got if kind == "audio")


@pytest.mark.parametrize(
    ("init_track", "media_track"),
    [("/0", "/0"), ("/720", "/")],  # init-stream0 + chunk-stream0-…; init_720p + seg_….
)
def test_one_track_passes_through_byte_for_byte_once_no_other_came(
    dash: Path, init_track: str, media_track: str
) -> None:
    joiner = TrackJoiner(wait_s=1.0)
    sent = [(dash / name).read_bytes() for name in ["init-stream0.m4s", *segments(0)]]
    out = joiner.add(init_track, sent[0], now=0.0) + joiner.add(media_track, sent[1], now=0.5)
    assert out == b""  # an audio track may still come
    assert joiner.poll(1.2) == b""  # 1 s after the first fragment: not yet
    out = joiner.poll(1.6)
    out += b"".join(joiner.add(media_track, data, now=2.0) for data in sent[2:])
    assert joiner.mode == "raw"
    assert out == b"".join(sent)


def test_mpeg_ts_and_media_of_no_track_are_told_apart(dash: Path) -> None:
    ts = bytes([0x47]) + bytes(187)
    joiner = TrackJoiner()
    assert joiner.add("/", ts, now=0.0) == ts
    assert joiner.mode == "raw"
    cmaf = TrackJoiner()
    segment = (dash / segments(0)[0]).read_bytes()
    assert cmaf.add("/0", segment, now=0.0) == b""  # a fragment before any init: dropped
    assert not cmaf.has_media("/0")


def test_a_whole_mp4_file_passes_through_at_once(ffmpeg: str, tmp_path: Path) -> None:
    """An MP4 file that is not fragmented (its moov first: ffmpeg reads it from a pipe) is
    no CMAF track to wait for or join."""
    path = tmp_path / "whole.mp4"
    source = ["-f", "lavfi", "-i", "testsrc2=size=160x90:duration=1"]
    subprocess.run(
        [ffmpeg, "-v", "error", *source, "-c:v", "libx264", "-movflags", "+faststart", str(path)],
        env=tool_env(),
        check=True,
        timeout=60,
    )
    data = path.read_bytes()
    joiner = TrackJoiner()
    assert joiner.add("/", data, now=0.0) == data
    assert joiner.mode == "raw"


def test_what_cannot_be_cut_passes_through_as_it_came(dash: Path) -> None:
    """A body the joiner cannot read as CMAF (here a fragment before any moov, after an
    ftyp) is handed on as it is, for ffmpeg to make what it can of, as before joining."""
    ftyp = (dash / "init-stream0.m4s").read_bytes()[:32]
    body = ftyp[: int.from_bytes(ftyp[:4], "big")] + (dash / segments(0)[0]).read_bytes()
    joiner = TrackJoiner()
    assert joiner.add("/", body, now=0.0) == body
    assert joiner.mode == "raw"


def test_an_mpd_gives_the_joined_streams_the_languages_their_init_segments_do_not(
    dash: Path,
) -> None:
    """ffmpeg's dash muxer packs `und` in every init segment and names the languages only in
    its MPD, which comes after its first segment: the join does not wait for it, and each
    joined stream's language is the one the MPD gives its track, once it has come."""
    joiner = TrackJoiner()
    out = b""
    for k in (0, 1):
        out += joiner.add(f"/stream{k}", (dash / f"init-stream{k}.m4s").read_bytes(), now=0.0)
    out += joiner.add("/stream0", (dash / segments(0)[0]).read_bytes(), now=0.1)
    assert joiner.mode == "joined"
    assert handler_kinds(out) == [b"vide", b"soun"]
    assert joiner.told_language(1) is None  # no MPD yet
    joiner.tell({"init-stream0.m4s": None, "init-stream1.m4s": "fra", "init-stream7.m4s": "deu"})
    assert [joiner.told_language(n) for n in (0, 1, 2, -1)] == [None, "fra", None, None]
    # -single_file: the init segment is the track's one request, `live-stream1.mp4`
    single = TrackJoiner()
    for k in (0, 1):
        key = track_key(f"live-stream{k}.mp4", init=True)
        single.add(key, (dash / f"init-stream{k}.m4s").read_bytes(), now=0.0)
    single.add(track_key("live-stream0.mp4", init=True), (dash / segments(0)[0]).read_bytes(), 0.1)
    single.tell({"live-stream1.mp4": "pt-BR"})
    assert single.told_language(1) == "pt-BR"
