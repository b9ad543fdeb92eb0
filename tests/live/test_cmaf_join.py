"""Tracks pushed separately are joined into one fragmented MP4 stream that ffmpeg reads
whole; one track (a muxed one included) and MPEG-TS pass through byte for byte."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.live import dash_tracks
from transcoder.cmaf_join import (
    JOIN_WAIT_S,
    TrackJoiner,
    TrackNames,
    handler_kinds,
    track_key,
    untold_sound,
)
from transcoder.fragments import FragmentReader, Init
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
    # a request a second, no MPD: the join waits for one (the sounds say no language) until
    # JOIN_WAIT_S after the first fragment, by when every init had come
    joined = b"".join(joiner.add(key, data, now=float(n)) for n, (key, data) in enumerate(order))
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


def fragmented_sound(ffmpeg: str, tmp_path: Path, language: str) -> list[bytes]:
    """A tone as one track of fragmented MP4 tagged with `language` (ffmpeg's mp4 muxer packs
    it in the mdhd, as CMAF ingest encoders do): its init segment, then its fragments."""
    path = tmp_path / f"{language}.mp4"
    source = ["-f", "lavfi", "-i", f"sine=duration={SECONDS}", "-c:a", "aac"]
    tag = ["-metadata:s:a:0", f"language={language}"]
    flags = ["-movflags", "frag_keyframe+empty_moov+default_base_moof", "-frag_duration", "1000000"]
    subprocess.run(
        [ffmpeg, "-v", "error", *source, *tag, *flags, str(path)],
        env=tool_env(),
        check=True,
        timeout=60,
    )
    items = FragmentReader().feed(path.read_bytes())
    return [item.data for item in items]


def test_a_sound_that_says_no_language_waits_for_the_mpd_that_names_it(dash: Path) -> None:
    """ffmpeg's dash muxer packs `und` in every init segment and names the languages in its
    MPD, sent with its first segments: the join waits for it, and each joined stream's
    language is the one the MPD gave its track."""
    inits = [(dash / f"init-stream{k}.m4s").read_bytes() for k in (0, 1)]
    assert [untold_sound(init) for init in inits] == [False, True]  # the picture has no sound
    joiner = TrackJoiner()
    out = joiner.add("/stream0", inits[0], now=0.0) + joiner.add("/stream1", inits[1], now=0.0)
    for k, name in enumerate(segments(0)[:1] + segments(1)[:1]):
        out += joiner.add(f"/stream{k}", (dash / name).read_bytes(), now=0.1)
    assert out == b""  # held back: the MPD may say the sound's language
    assert joiner.mode == "deciding"
    assert joiner.told_language(1) is None
    joiner.tell({"init-stream1.m4s": "fra", "init-stream7.m4s": "deu"})
    joined = joiner.poll(0.2)
    assert joiner.mode == "joined"
    assert handler_kinds(joined) == [b"vide", b"soun"]
    assert [joiner.told_language(n) for n in (0, 1, 2, -1)] == [None, "fra", None, None]


def test_without_an_mpd_the_join_waits_no_longer_than_for_a_track(dash: Path) -> None:
    joiner = TrackJoiner()
    for k in (0, 1):
        joiner.add(f"/stream{k}", (dash / f"init-stream{k}.m4s").read_bytes(), now=0.0)
        joiner.add(f"/stream{k}", (dash / segments(k)[0]).read_bytes(), now=0.0)
    assert joiner.poll(JOIN_WAIT_S - 0.1) == b""
    assert handler_kinds(joiner.poll(JOIN_WAIT_S)) == [b"vide", b"soun"]
    assert joiner.told_language(1) is None


def test_a_sound_that_says_its_language_is_joined_at_once(
    dash: Path, ffmpeg: str, tmp_path: Path
) -> None:
    sound = fragmented_sound(ffmpeg, tmp_path, "fra")
    assert not untold_sound(sound[0])
    joiner = TrackJoiner()
    joiner.add("/video", (dash / "init-stream0.m4s").read_bytes(), now=0.0)
    joiner.add("/audio", sound[0], now=0.0)
    joined = joiner.add("/audio", sound[1], now=0.0)
    assert joiner.mode == "joined"
    assert handler_kinds(joined) == [b"vide", b"soun"]
    assert isinstance(FragmentReader().feed(joined)[0], Init)
