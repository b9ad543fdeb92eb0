"""HTTP ingest through a real origin: ffmpeg pushes a test pattern by HTTP PUT, as fMP4
segments from its hls muxer and as one long request of fragmented MP4; the stream goes on air,
plays, ends (at the encoder's EXT-X-ENDLIST, or once pushes stop) and is recorded. A wrong key
gets 403; a second push while one is on air gets 409, and SRT is no longer listened for."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import m3u8
import pytest

from manifests.parse import parse_media_playlist
from tests.support.live import dash_tracks, live_env, marked_last, media_duration, push
from tests.support.playback import wait_for_video
from tests.support.servers import OriginServer, origin_server, wait_until
from transcoder.tools import tool_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OriginServer]:
    # a push that stops: the broadcast ends soon after (an encoder that starts again is back
    # well within this)
    env = live_env(MEDIACDN_LIVE_RECONNECT_S="5")
    with origin_server(tmp_path_factory.mktemp("push") / "origin", env) as origin:
        yield origin


MADE: list[str] = []  # streams the running test made


@pytest.fixture
def http(origin: OriginServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=origin.url, timeout=30) as client:
        yield client
        while MADE:  # ended whatever happened: the one ingest port is free for the next test
            client.delete(f"/api/live/{MADE.pop()}", headers=origin.headers())


def new_stream(origin: OriginServer, http: httpx.Client) -> tuple[dict[str, Any], dict[str, str]]:
    """A new stream, and its ingest URLs; the stream is ended after the test."""
    created = http.post("/api/live", json={"title": "pushed"}, headers=origin.headers())
    assert created.status_code == 201, created.text
    stream: dict[str, Any] = created.json()
    MADE.append(str(stream["id"]))
    return stream, stream["ingest"]


def on_air(http: httpx.Client, stream_id: str) -> None:
    wait_until(
        lambda: http.get(f"/api/live/{stream_id}").json()["status"] == "live",
        30,
        "the stream on air",
    )


def last_frames_listed(http: httpx.Client, stream_id: str) -> None:
    """The segment being made when the push ended is listed whole within 3 s: the receiver's
    end is seen within a quarter second, where an idle push waits 8 s."""
    media = f"/live/{stream_id}/360p/index.m3u8"
    wait_until(
        lambda: not parse_media_playlist(http.get(media).text).pending_parts,
        3,
        "the last segment listed whole",
    )


def watch_and_end(
    origin: OriginServer, http: httpx.Client, ffprobe: str, stream_id: str, within_s: float
) -> None:
    """The stream goes on air and plays; once its encoder is gone it ends by itself (within
    `within_s`) and its recording plays as a video."""
    hls = f"/live/{stream_id}/master.m3u8"
    wait_until(lambda: http.get(hls).status_code == 200, 30, "the stream on air")
    assert http.get(f"/api/live/{stream_id}").json()["status"] == "live"
    media = f"/live/{stream_id}/360p/index.m3u8"
    playlist = m3u8.loads(http.get(media).text)
    assert playlist.segments
    assert playlist.segments[-1].parts
    part = http.get(f"/live/{stream_id}/360p/{playlist.segments[-1].parts[0].uri}")
    assert part.status_code == 200
    assert part.content[4:8] == b"moof"
    wait_until(
        lambda: http.get(f"/api/live/{stream_id}").json()["status"] == "ended",
        within_s,
        "the broadcast ended by itself",
    )
    assert m3u8.loads(http.get(media).text).is_endlist
    recording = wait_for_video(http, stream_id)
    assert recording["status"] == "ready", recording
    assert media_duration(ffprobe, f"{origin.url}/vod/{stream_id}/360p/index.m3u8") > 4


def test_an_encoder_pushes_fmp4_segments_with_its_hls_muxer(
    origin: OriginServer, http: httpx.Client, ffmpeg: str, ffprobe: str
) -> None:
    stream, ingest = new_stream(origin, http)
    url = str(ingest["http"])
    key = str(stream["stream_key"])
    assert url == f"{origin.url}/ingest/{key}/"
    wrong = http.put(f"/ingest/{'0' * 32}/index.m3u8", content=b"#EXTM3U\n")
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "invalid_stream_key"
    encoder = push(ffmpeg, f"{url}index.m3u8", 10)
    try:
        watch_and_end(origin, http, ffprobe, str(stream["id"]), 30)  # its ENDLIST ends it
        assert encoder.wait(30) == 0
    finally:
        encoder.kill()
        encoder.wait()
    late = http.put(f"/ingest/{key}/index9.m4s", content=b"\0" * 8)
    assert late.status_code == 403  # the key of an ended stream works no more


@pytest.mark.parametrize(
    "muxer",
    [(), ("-single_file", "1")],
    ids=["a-file-per-segment", "one-request-per-track"],
)
def test_an_encoder_pushes_each_track_on_its_own_with_its_dash_muxer(
    origin: OriginServer, http: httpx.Client, ffmpeg: str, ffprobe: str, muxer: tuple[str, ...]
) -> None:
    """CMAF ingest of separate tracks (ffmpeg's dash muxer: an init segment and segments for
    video and for each sound, every one with track_ID 1; or, with -single_file, a request per
    track, `live-stream0.mp4`, `live-stream1.mp4`… side by side): the tracks are joined, the
    broadcast and its recording have their audio, each sound in the language the MPD gives
    it (its init segments say `und`), and the final MPD (`type="static"`) ends it."""
    stream, ingest = new_stream(origin, http)
    url = f"{ingest['http']}live.mpd"
    encoder = push(ffmpeg, url, 10, languages=("fra", "deu"), muxer=muxer)
    try:
        hls = f"/live/{stream['id']}/master.m3u8"
        wait_until(lambda: http.get(hls).status_code == 200, 30, "the stream on air")
        live = m3u8.loads(http.get(hls).text)
        assert [(m.language, m.name) for m in live.media] == [
            ("fra", "Français"),
            ("deu", "Deutsch"),
        ], live.dumps()
        watch_and_end(origin, http, ffprobe, str(stream["id"]), 30)
        assert encoder.wait(30) == 0
    finally:
        encoder.kill()
        encoder.wait()
    master = m3u8.loads(http.get(f"/vod/{stream['id']}/master.m3u8").text)
    audio = [m for m in master.media if m.type == "AUDIO"]
    assert [m.language for m in audio] == ["fra", "deu"], master.dumps()
    for sound in audio:
        assert media_duration(ffprobe, f"{origin.url}/vod/{stream['id']}/{sound.uri}") > 4


def test_an_encoder_posts_each_track_in_one_long_request_side_by_side(
    origin: OriginServer, http: httpx.Client, ffmpeg: str, ffprobe: str, tmp_path: Path
) -> None:
    """CMAF ingest as the DASH-IF live ingest protocol has it: a long chunked POST per track
    to `Streams(<track>)`, video and audio at once, each its init segment and then a segment
    a second; they are received side by side and joined, and the broadcast ends once both
    requests have ended and no other came."""
    tracks = dash_tracks(ffmpeg, tmp_path, 8)
    stream, ingest = new_stream(origin, http)
    start = time.monotonic()

    def paced(files: list[bytes]) -> Iterator[bytes]:
        yield files[0]
        for n, segment in enumerate(files[1:]):
            time.sleep(max(0.0, start + n - time.monotonic()))  # in real time
            yield segment

    with ThreadPoolExecutor(2) as pool:
        posts = [
            pool.submit(
                httpx.post, f"{ingest['http']}Streams({name})", content=paced(files), timeout=60
            )
            for name, files in zip(("video", "audio"), tracks, strict=True)
        ]
        watch_and_end(origin, http, ffprobe, str(stream["id"]), 30)
        assert [post.result().status_code for post in posts] == [204, 204]
    master = m3u8.loads(http.get(f"/vod/{stream['id']}/master.m3u8").text)
    assert [m.type for m in master.media].count("AUDIO") == 1, master.dumps()


@contextmanager
def pushing_file_by_file(
    method: str, url_of: Callable[[str, int], str], tracks: dict[str, list[bytes]]
) -> Iterator[float]:
    """Each track's files pushed a request per file (`url_of(track, n)`), the tracks side by
    side, in real time (the init segments at once, then a 1 s segment a second), each track's
    last segment marked `lmsg`; yields when it started, and then every request must have
    been taken (204)."""
    start = time.monotonic()

    def push_track(track: str, files: list[bytes]) -> list[int]:
        statuses = []
        for n, segment in enumerate(files):
            time.sleep(max(0.0, start + n - 1 - time.monotonic()))
            body = marked_last(segment) if n == len(files) - 1 else segment
            answer = httpx.request(method, url_of(track, n), content=body, timeout=30)
            statuses.append(answer.status_code)
        return statuses

    with ThreadPoolExecutor(len(tracks)) as pool:
        pushes = [pool.submit(push_track, *track) for track in tracks.items()]
        yield start
        for pushed in pushes:
            assert set(pushed.result()) == {204}


def test_an_encoder_that_marks_its_last_segments_ends_the_broadcast_at_once(
    origin: OriginServer, http: httpx.Client, ffmpeg: str, ffprobe: str, tmp_path: Path
) -> None:
    """DASH-IF ingest a request per file, each track's last segment marked `lmsg`: the
    broadcast ends once both came, without waiting for the encoder to come back."""
    video, audio = dash_tracks(ffmpeg, tmp_path, 6)
    stream, ingest = new_stream(origin, http)

    def url_of(track: str, n: int) -> str:
        return f"{ingest['http']}Streams({track})/Segment({n})"

    with pushing_file_by_file("POST", url_of, {"video": video, "audio": audio}) as start:
        # within a second of the last segments: the 5 s reconnect wait and the 8 s an idle
        # push waits are not waited
        watch_and_end(origin, http, ffprobe, str(stream["id"]), 30)
    ended_after = time.monotonic() - (start + len(video) - 2)  # the last were posted then
    print(f"ended {ended_after:.2f} s after the last segments were posted")
    assert ended_after < 4


def test_tracks_told_apart_by_words_in_their_names_are_joined(
    origin: OriginServer, http: httpx.Client, ffmpeg: str, ffprobe: str, tmp_path: Path
) -> None:
    """Separate tracks pushed a file per request under names that tell them apart by words
    only, as Shaka Packager names them (`h264_360p_init.mp4`, `h264_360p_1.m4s`…,
    `audio_init.mp4`, `audio_1.m4s`…): each file goes with its own track, the tracks are
    joined, and the broadcast and its recording have their sound."""
    video, audio = dash_tracks(ffmpeg, tmp_path, 6)
    stream, ingest = new_stream(origin, http)

    def url_of(track: str, n: int) -> str:
        return f"{ingest['http']}{track}_{n}.m4s" if n else f"{ingest['http']}{track}_init.mp4"

    with pushing_file_by_file("PUT", url_of, {"h264_360p": video, "audio": audio}):
        watch_and_end(origin, http, ffprobe, str(stream["id"]), 30)
    master = m3u8.loads(http.get(f"/vod/{stream['id']}/master.m3u8").text)
    sound = [m for m in master.media if m.type == "AUDIO"]
    assert sound, master.dumps()
    assert media_duration(ffprobe, f"{origin.url}/vod/{stream['id']}/{sound[0].uri}") > 3


def test_an_encoder_pushes_one_long_request_and_a_second_one_is_refused(
    origin: OriginServer, http: httpx.Client, ffmpeg: str, ffprobe: str
) -> None:
    stream, ingest = new_stream(origin, http)
    # long enough to be on air still when the SRT encoder below gives up (3 s after it starts)
    encoders = [push(ffmpeg, f"{ingest['http']}stream.mp4", 12)]
    try:
        on_air(http, str(stream["id"]))
        fragment = b"\0\0\0\x08moof" + bytes(56)  # a fragment's first box
        second = http.put(f"/ingest/{stream['stream_key']}/other.mp4", content=fragment)
        assert second.status_code == 409
        assert second.json()["error"]["code"] == "already_on_air"
        encoders.append(push(ffmpeg, str(ingest["srt"]), 3))
        assert encoders[1].wait(30) != 0  # nothing listens for SRT while the push is on air
        # the push ends with its request: its last frames are listed at once (the segment
        # being made is closed), and the broadcast waits for the encoder to come back, then
        # ends once no other push came
        assert encoders[0].wait(30) == 0
        last_frames_listed(http, str(stream["id"]))
        watch_and_end(origin, http, ffprobe, str(stream["id"]), 30)
    finally:
        for encoder in encoders:
            encoder.kill()
            encoder.wait()


def test_a_long_mpeg_ts_push_lists_its_last_frames_when_it_ends(
    origin: OriginServer, http: httpx.Client, ffmpeg: str, ffprobe: str
) -> None:
    """MPEG-TS in one long PUT, as `ffmpeg -f mpegts -method PUT` sends it: when the encoder
    ends its request, its last frames are listed at once, as a long fragmented MP4 push's are,
    not after the 8 s a push of a file per request waits for the next file."""
    stream, ingest = new_stream(origin, http)
    encoder = push(ffmpeg, f"{ingest['http']}stream.ts", 11)
    try:
        on_air(http, str(stream["id"]))
        assert encoder.wait(30) == 0
        last_frames_listed(http, str(stream["id"]))
        watch_and_end(origin, http, ffprobe, str(stream["id"]), 30)
    finally:
        encoder.kill()
        encoder.wait()


def test_a_push_of_what_the_receiver_cannot_read_is_refused_at_once(
    origin: OriginServer, http: httpx.Client, ffmpeg: str, tmp_path: Path
) -> None:
    """Noise, text, or an MP4 file with its index at the end (which cannot be read as it
    arrives) gets a 415 at once, and nothing of it reaches the stream."""
    stream, ingest = new_stream(origin, http)
    whole = tmp_path / "whole.mp4"
    source = ["-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25:duration=1"]
    subprocess.run(
        [ffmpeg, "-v", "error", *source, "-c:v", "libx264", "-y", str(whole)],
        env=tool_env(),
        check=True,
        timeout=60,
    )
    for body in (whole.read_bytes(), b"hello\n" * 1000, bytes(range(256)) * 64):
        refused = http.put(f"{ingest['http']}stream.mp4", content=body)
        assert refused.status_code == 415, refused.text
        assert refused.json()["error"]["code"] == "unsupported_push"
    assert http.get(f"/api/live/{stream['id']}").json()["status"] == "idle"


def test_an_encoder_that_starts_again_continues_the_broadcast(
    origin: OriginServer, http: httpx.Client, ffmpeg: str, ffprobe: str
) -> None:
    """A restarted encoder's new push (a new init segment, here of a picture of another
    size) continues the broadcast: the same segment numbers go on, and the recording holds
    both pushes."""
    stream, ingest = new_stream(origin, http)
    first = push(ffmpeg, f"{ingest['http']}stream.mp4", 6)
    assert first.wait(30) == 0
    media = f"/live/{stream['id']}/360p/index.m3u8"
    before = m3u8.loads(http.get(media).text)
    second = push(ffmpeg, f"{ingest['http']}stream.mp4", 6, size="1280x720")
    try:
        assert second.wait(30) == 0
        assert http.get(f"/api/live/{stream['id']}").json()["status"] == "live"
        after = m3u8.loads(http.get(media).text)
        assert after.media_sequence == before.media_sequence
        assert len(after.segments) > len(before.segments) + 1
        watch_and_end(origin, http, ffprobe, str(stream["id"]), 30)
    finally:
        second.kill()
        second.wait()
    recording = f"{origin.url}/vod/{stream['id']}/360p/index.m3u8"
    assert media_duration(ffprobe, recording) > 9


def test_a_replaced_key_is_refused_at_once_and_the_push_on_air_with_it_is_cut(
    origin: OriginServer, http: httpx.Client, ffmpeg: str
) -> None:
    stream, ingest = new_stream(origin, http)
    old_key = stream["stream_key"]
    encoder = push(ffmpeg, f"{ingest['http']}stream.mp4", 60)
    try:
        on_air(http, str(stream["id"]))
        reset = http.post(f"/api/live/{stream['id']}/reset-stream-key", headers=origin.headers())
        assert reset.status_code == 200, reset.text
        fresh = reset.json()
        assert fresh["stream_key"] != old_key
        assert fresh["ingest"]["http"] == f"{origin.url}/ingest/{fresh['stream_key']}/"
        assert fresh["status"] == "live"  # the broadcast waits for an encoder with the new key
        assert encoder.wait(15) != 0  # its long request was cut, well before its 60 s
        late = http.put(f"/ingest/{old_key}/stream.mp4", content=b"\0" * 8)
        assert late.status_code == 403
    finally:
        encoder.kill()
        encoder.wait()
    assert http.delete(f"/api/live/{stream['id']}", headers=origin.headers()).status_code == 200
    again = http.post(f"/api/live/{stream['id']}/reset-stream-key", headers=origin.headers())
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "live_ended"
