"""Media that costs more than it weighs, or is read wrongly, against a real origin with one
transcode worker: bombs are refused within seconds while another upload goes through; a rotated
phone video comes out upright in every rung; every documented container transcodes, animated
images too; a film's own audio and subtitle tracks are published whatever its tags say, and its
cover is not taken for the film, and HDR comes out SDR (Dolby Vision that cannot is refused);
picture and sound last as long as each other and keep their time whichever starts first; a
deleted video's ffmpeg and a stopped origin's ffmpeg end within seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import m3u8
import pytest

from sample_media.generate import SampleMedia
from tests.conftest import TEST_LADDER
from tests.support.lip_sync import EVENT_S, beep_s, flash_and_beep, flash_s
from tests.support.mp4_boxes import with_dolby_vision
from tests.support.playback import upload_raw, wait_for_video
from tests.support.servers import OriginServer, origin_server, wait_until
from transcoder.tools import tool_env

pytestmark = pytest.mark.slow

ENV = {"MEDIACDN_LADDER": TEST_LADDER, "MEDIACDN_X264_PRESET": "ultrafast", "MEDIACDN_WORKERS": "1"}
REFUSED_WITHIN_S = 15


def make(ffmpeg: str, out: Path, *args: str) -> Path:
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", *args, str(out)], check=True, timeout=180, env=tool_env()
    )
    return out


def av_source(ffmpeg: str, seconds: float, size: str = "320x240", rate: int = 25) -> list[str]:
    return [
        "-f", "lavfi", "-i", f"testsrc=s={size}:r={rate}:d={seconds}",
        "-f", "lavfi", "-i", f"sine=d={seconds}",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OriginServer]:
    with origin_server(tmp_path_factory.mktemp("hostile"), ENV) as server:
        yield server


def ffmpeg_running(marker: str) -> bool:
    """Is an ffmpeg whose command line names `marker` still alive?"""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            cmdline
            and cmdline[0].endswith(b"ffmpeg")
            and any(marker.encode() in a for a in cmdline)
        ):
            return True
    return False


def test_bombs_are_refused_within_seconds_and_other_uploads_finish(
    origin: OriginServer, ffmpeg: str, sample: SampleMedia, tmp_path: Path
) -> None:
    # ten hours of 1080p declared in 7 KB; one 10000x10000 frame in 0.3 MB
    decode_bomb = make(
        ffmpeg, tmp_path / "bomb.mkv",
        "-f", "lavfi", "-i", "color=c=black:s=1920x1080:r=1:d=3", "-vf", "setpts=PTS*18000",
        "-fps_mode", "passthrough", "-c:v", "libx264", "-preset", "ultrafast",
    )  # fmt: skip
    pixel_bomb = make(
        ffmpeg, tmp_path / "pixels.mkv",
        "-f", "lavfi", "-i", "color=c=blue:s=10000x10000:r=1", "-frames:v", "1", "-c:v", "png",
    )  # fmt: skip
    with httpx.Client(base_url=origin.url, timeout=60) as http:
        started = time.monotonic()
        bombs = [
            upload_raw(http, origin.headers(), p.read_bytes()) for p in (decode_bomb, pixel_bomb)
        ]
        good = upload_raw(http, origin.headers(), sample.video.read_bytes())
        for video_id, words in zip(bombs, ("10.0 h", "10000x10000"), strict=True):
            failed = wait_for_video(http, video_id, timeout_s=REFUSED_WITHIN_S)
            assert failed["status"] == "failed"
            assert failed["error"]["code"] == "limits_exceeded"
            assert words in failed["error"]["message"]
        assert time.monotonic() - started < REFUSED_WITHIN_S
        assert wait_for_video(http, good)["status"] == "ready"


def _frame_size(
    http: httpx.Client, playlist_url: str, tmp_path: Path, ffprobe: str
) -> tuple[int, int]:
    """The size of the frames in a rendition's init segment and first media segment."""
    media = m3u8.loads(http.get(playlist_url).raise_for_status().text, uri=playlist_url)
    init = http.get(media.segment_map[0].absolute_uri).raise_for_status().content
    first = http.get(media.segments[0].absolute_uri).raise_for_status().content
    path = tmp_path / "rung.mp4"
    path.write_bytes(init + first)
    probe = subprocess.run(
        [ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=width,height", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True, timeout=30, env=tool_env(),
    )  # fmt: skip
    width, height = (int(x) for x in probe.stdout.strip().split(","))
    return width, height


def test_a_rotated_phone_video_is_upright_in_every_rung(
    origin: OriginServer, ffmpeg: str, ffprobe: str, tmp_path: Path
) -> None:
    landscape = make(
        ffmpeg, tmp_path / "plain.mp4", *av_source(ffmpeg, 4, "640x360"),
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
    )  # fmt: skip
    # as a phone held upright stores it: landscape frames and a display matrix turning them
    phone = make(
        ffmpeg,
        tmp_path / "phone.mp4",
        "-display_rotation",
        "90",
        "-i",
        str(landscape),
        "-c",
        "copy",
    )
    with httpx.Client(base_url=origin.url, timeout=60) as http:
        video_id = upload_raw(http, origin.headers(), phone.read_bytes())
        assert wait_for_video(http, video_id)["status"] == "ready"
        master_url = f"{origin.url}/vod/{video_id}/master.m3u8"
        master = m3u8.loads(http.get(master_url).text, uri=master_url)
        assert len(master.playlists) == 2
        for variant in master.playlists:
            width, height = variant.stream_info.resolution
            assert height > width, variant.stream_info.resolution  # portrait, as shown
            assert _frame_size(http, variant.absolute_uri, tmp_path, ffprobe) == (width, height)


CONTAINERS = {
    "mp4": ("-c:v", "libx264", "-c:a", "aac"),
    "mov": ("-c:v", "libx264", "-c:a", "aac"),
    "mkv": ("-c:v", "libx264", "-c:a", "libvorbis"),
    "webm": ("-c:v", "libvpx", "-deadline", "realtime", "-c:a", "libvorbis"),
    "avi": ("-c:v", "mpeg4", "-c:a", "libmp3lame"),
    "flv": ("-c:v", "flv", "-c:a", "libmp3lame", "-ar", "44100"),
    "mpg": ("-c:v", "mpeg2video", "-c:a", "mp2", "-f", "vob"),
    "ts": ("-c:v", "libx264", "-c:a", "aac", "-f", "mpegts"),
    "ogv": ("-c:v", "libtheora", "-c:a", "libvorbis"),
    # a camcorder's AVCHD (MPEG-TS in 192-byte packets), broadcast cameras' MXF, DV tape
    "mts": ("-c:v", "libx264", "-c:a", "ac3", "-f", "mpegts", "-mpegts_m2ts_mode", "1"),
    "mxf": ("-c:v", "mpeg2video", "-b:v", "2M", "-c:a", "pcm_s16le", "-ar", "48000"),
    "dv": ("-target", "pal-dv", "-ar", "48000"),
}


def test_every_documented_container_becomes_ready(
    origin: OriginServer, ffmpeg: str, tmp_path: Path
) -> None:
    files = {
        ext: make(ffmpeg, tmp_path / f"clip.{ext}", *av_source(ffmpeg, 2), *codecs)
        for ext, codecs in CONTAINERS.items()
    }
    with httpx.Client(base_url=origin.url, timeout=60) as http:
        ids = {
            ext: upload_raw(http, origin.headers(), path.read_bytes())
            for ext, path in files.items()
        }
        outcome = {
            ext: wait_for_video(http, video_id, timeout_s=180) for ext, video_id in ids.items()
        }
    failed = {ext: v["error"] for ext, v in outcome.items() if v["status"] != "ready"}
    assert not failed


def test_animated_images_become_videos_and_a_still_one_is_refused(
    origin: OriginServer, ffmpeg: str, ffprobe: str, tmp_path: Path
) -> None:
    """Animated GIF and PNG are how the web sends short clips. A GIF's frames come at uneven
    times on a 100 Hz clock, which x264 would take for the frame rate (H.264 level 3.0 for
    320x240 at 8 fps): it is encoded at its average rate made constant."""
    random_frames = "select='lt(random(0),0.08)'"  # about 8 of the clock's 100 a second
    clips = {
        "gif": make(
            ffmpeg, tmp_path / "uneven.gif", "-f", "lavfi", "-i", "testsrc=s=320x240:r=100:d=3",
            "-vf", random_frames, "-fps_mode", "vfr",
        ),
        "apng": make(
            ffmpeg, tmp_path / "clip.apng", "-f", "lavfi", "-i", "testsrc=s=320x240:r=10:d=2",
            "-plays", "0", "-f", "apng",
        ),
    }  # fmt: skip
    still = make(ffmpeg, tmp_path / "still.png", "-f", "lavfi", "-i", "testsrc", "-frames:v", "1")
    types = {"gif": "image/gif", "apng": "image/apng"}
    with httpx.Client(base_url=origin.url, timeout=60) as http:
        for kind, clip in clips.items():
            response = http.post(
                "/api/videos",
                content=clip.read_bytes(),
                headers={**origin.headers(), "Content-Type": types[kind]},
            )
            assert response.status_code == 201, response.text
            status = wait_for_video(http, response.json()["id"], timeout_s=120)
            assert status["status"] == "ready", (kind, status)
            rung = next(r for r in status["renditions"] if r["kind"] == "video")
            level = int(rung["codecs"].split(".")[1][4:], 16)  # avc1.PPCCLL
            assert level <= 0x15, (kind, rung["codecs"])  # 2.1 covers 320x240 up to 30 fps
            lengths = _playlist_lengths(http, status["id"])
            assert sum(lengths.values()) / len(lengths) > 1.5
        refused = upload_raw(http, origin.headers(), still.read_bytes())
        status = wait_for_video(http, refused, timeout_s=60)
    assert status["status"] == "failed"
    assert "animated GIF or PNG" in status["error"]["message"]


def ready_video(origin: OriginServer, http: httpx.Client, path: Path) -> str:
    """Upload `path` and wait for it to be ready; its id."""
    video_id = upload_raw(http, origin.headers(), path.read_bytes())
    status = wait_for_video(http, video_id, timeout_s=120)
    assert status["status"] == "ready", status
    return video_id


def test_a_films_own_tracks_are_published_and_its_tags_trusted_for_nothing(
    origin: OriginServer, ffmpeg: str, tmp_path: Path
) -> None:
    """A Matroska film as rips come: two English audio tracks (the film's, a commentary), one
    whose language tag is a path, SubRip and ASS subtitles, and a font attached for each
    of twenty styles (more streams than the limit, were they counted)."""
    (tmp_path / "eng.srt").write_text("1\n00:00:00,500 --> 00:00:01,500\nhello there\n\n")
    (tmp_path / "fra.srt").write_text("1\n00:00:00,500 --> 00:00:01,500\nbonjour\n\n")
    (tmp_path / "font.ttf").write_bytes(os.urandom(2048))
    fonts: list[str] = []
    for n in range(20):
        fonts += ["-attach", str(tmp_path / "font.ttf"), f"-metadata:s:t:{n}", f"filename={n}.ttf"]
        fonts += [f"-metadata:s:t:{n}", "mimetype=application/x-truetype-font"]
    film = make(
        ffmpeg, tmp_path / "film.mkv",
        "-f", "lavfi", "-i", "testsrc=s=320x240:r=25:d=2",
        *(x for f in (300, 500, 700) for x in ("-f", "lavfi", "-i", f"sine=f={f}:d=2")),
        "-i", str(tmp_path / "eng.srt"), "-i", str(tmp_path / "fra.srt"),
        *(x for n in range(6) for x in ("-map", str(n))),
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-c:s:0", "srt", "-c:s:1", "ass",
        "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=eng",
        "-metadata:s:a:2", "language=../../../../../../tmp/mediacdn-escape",
        "-metadata:s:s:0", "language=eng", "-metadata:s:s:1", "language=fra",
        *fonts,
    )  # fmt: skip
    with httpx.Client(base_url=origin.url, timeout=60) as http:
        video_id = ready_video(origin, http, film)
        master = m3u8.loads(http.get(f"/vod/{video_id}/master.m3u8").text)
        media = [(m.type, m.name, m.language, m.uri) for m in master.media]
        assert media == [
            ("AUDIO", "English", "eng", "audio-eng/index.m3u8"),
            ("AUDIO", "English 2", "eng", "audio-eng-2/index.m3u8"),
            ("AUDIO", "Unknown", "und", "audio-und/index.m3u8"),
            ("SUBTITLES", "English", "eng", "subs-eng/index.m3u8"),
            ("SUBTITLES", "Français", "fra", "subs-fra/index.m3u8"),
        ]
        assert "hello there" in http.get(f"/vod/{video_id}/subs-eng/0.vtt").text
        assert "bonjour" in http.get(f"/vod/{video_id}/subs-fra/0.vtt").text
    assert not Path("/tmp/mediacdn-escape").exists()


def test_a_cover_track_before_the_film_is_not_taken_for_it(
    origin: OriginServer, ffmpeg: str, tmp_path: Path
) -> None:
    """Matroska keeps a cover picture as an MJPEG video track, often the first one."""
    cover = ("-f", "lavfi", "-i", "color=c=red:s=640x640", "-frames:v", "1")
    make(ffmpeg, tmp_path / "cover.jpg", *cover)
    film = make(
        ffmpeg, tmp_path / "film.mkv", "-i", str(tmp_path / "cover.jpg"), *av_source(ffmpeg, 4),
        "-map", "0", "-map", "1", "-map", "2", "-c:v:0", "copy", "-c:v:1", "libx264",
        "-preset", "ultrafast", "-c:a", "aac",
    )  # fmt: skip
    with httpx.Client(base_url=origin.url, timeout=60) as http:
        video_id = ready_video(origin, http, film)
        variants = m3u8.loads(http.get(f"/vod/{video_id}/master.m3u8").text).playlists
        assert [p.stream_info.resolution for p in variants] == [(320, 240)]
        rung = m3u8.loads(http.get(f"/vod/{video_id}/{variants[0].uri}").text)
        assert sum(s.duration for s in rung.segments) == pytest.approx(4.0, abs=0.1)


@pytest.mark.parametrize("transfer", ["arib-std-b67", "smpte2084"], ids=["hlg", "pq"])
def test_an_hdr_video_comes_out_sdr(
    origin: OriginServer, ffmpeg: str, ffprobe: str, tmp_path: Path, transfer: str
) -> None:
    """A phone's HLG or an HDR10 master (10-bit HEVC, BT.2020): every rung is 8-bit BT.709."""
    film = make(
        ffmpeg, tmp_path / "hdr.mp4", *av_source(ffmpeg, 2), "-vf", "format=yuv420p10le",
        "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
        "-color_primaries", "bt2020", "-color_trc", transfer, "-colorspace", "bt2020nc",
        "-tag:v", "hvc1", "-c:a", "aac",
    )  # fmt: skip
    with httpx.Client(base_url=origin.url, timeout=60) as http:
        video_id = ready_video(origin, http, film)
        variants = m3u8.loads(http.get(f"/vod/{video_id}/master.m3u8").text).playlists
    for variant in variants:
        probed = subprocess.run(
            [ffprobe, "-v", "error", "-select_streams", "v", "-show_entries",
             "stream=pix_fmt,color_transfer,color_primaries", "-of", "csv=p=0",
             f"{origin.url}/vod/{video_id}/{variant.uri}"],
            capture_output=True, text=True, timeout=60, check=True, env=tool_env(),
        )  # fmt: skip
        assert set(probed.stdout.split()) == {"yuv420p,bt709,bt709"}


def _playlist_lengths(http: httpx.Client, video_id: str) -> dict[str, float]:
    master = m3u8.loads(http.get(f"/vod/{video_id}/master.m3u8").text)
    uris = [p.uri for p in master.playlists] + [m.uri for m in master.media if m.type == "AUDIO"]
    return {
        uri: sum(s.duration for s in m3u8.loads(http.get(f"/vod/{video_id}/{uri}").text).segments)
        for uri in uris
    }


@pytest.mark.parametrize(
    ("video_s", "sound_s", "container"),
    [(2, 7, "mp4"), (2, 7, "mkv"), (7, 2, "mp4")],
    ids=["sound-outlasts-mp4", "sound-outlasts-mkv", "picture-outlasts"],
)
def test_every_playlist_lasts_as_long_as_the_longest_stream(
    origin: OriginServer, ffmpeg: str, tmp_path: Path, video_s: int, sound_s: int, container: str
) -> None:
    """A recording whose sound goes on after the picture stops (or stops first), with a side
    audio track far longer than both: every playlist lasts as long as the source's longest
    stream (the picture held, silence added, the side track cut), not each its own length
    (a player ends with the shortest), and a Matroska one is not refused as truncated."""
    film = make(
        ffmpeg, tmp_path / f"film.{container}",
        "-f", "lavfi", "-i", f"testsrc=s=320x240:r=25:d={video_s}",
        "-f", "lavfi", "-i", f"sine=d={sound_s}",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
    )  # fmt: skip
    side = make(ffmpeg, tmp_path / "side.wav", "-f", "lavfi", "-i", "sine=f=500:d=30")
    files = [
        ("file", (film.name, film.read_bytes(), "application/octet-stream")),
        ("audio:fra", ("fra.wav", side.read_bytes(), "audio/wav")),
    ]
    with httpx.Client(base_url=origin.url, timeout=60) as http:
        response = http.post("/api/videos", files=files, headers=origin.headers())
        assert response.status_code == 201, response.text
        video_id = response.json()["id"]
        status = wait_for_video(http, video_id, timeout_s=120)
        assert status["status"] == "ready", status
        lengths = _playlist_lengths(http, video_id)
    assert {"audio-und/index.m3u8", "audio-fra/index.m3u8"} < set(lengths)  # and the rungs
    longest = max(video_s, sound_s)
    assert lengths == {uri: pytest.approx(longest, abs=0.1) for uri in lengths}


@pytest.mark.parametrize(
    ("container", "picture_at", "sound_at"),
    [("mp4", 0, 3), ("ts", 0, 2.5), ("mkv", 2, 0)],
    ids=["sound-starts-late-mp4", "sound-starts-late-ts", "picture-starts-late-mkv"],
)
def test_picture_and_sound_keep_their_time_whichever_starts_first(
    origin: OriginServer,
    ffmpeg: str,
    tmp_path: Path,
    container: str,
    picture_at: float,
    sound_at: float,
) -> None:
    """A recording whose sound starts seconds after its picture (or the other way round):
    a flash and a beep at the same moment of the source come out at the same moment of the
    renditions (the late one starts with silence or with its first picture held), and every
    playlist lasts from the file's start to its end (before, the sound started with the
    picture, seconds early)."""
    film = flash_and_beep(ffmpeg, tmp_path / f"film.{container}", picture_at, sound_at)
    with httpx.Client(base_url=origin.url, timeout=60) as http:
        video_id = upload_raw(http, origin.headers(), film.read_bytes())
        status = wait_for_video(http, video_id, timeout_s=120)
        assert status["status"] == "ready", status
        lengths = _playlist_lengths(http, video_id)
        master = m3u8.loads(http.get(f"/vod/{video_id}/master.m3u8").text)
    base = f"{origin.url}/vod/{video_id}/"
    picture = base + master.playlists[0].uri  # read as players read it, playlist and segments
    sound = base + next(m.uri for m in master.media if m.type == "AUDIO")
    assert lengths == {uri: pytest.approx(8.0, abs=0.1) for uri in lengths}
    flash, beep = flash_s(ffmpeg, picture), beep_s(ffmpeg, sound)
    assert flash == pytest.approx(EVENT_S, abs=0.1)
    assert beep == pytest.approx(flash, abs=0.06)  # lip sync: within a frame and a half


def test_dolby_vision_in_its_own_colours_is_refused_and_a_compatible_one_plays(
    origin: OriginServer, ffmpeg: str, tmp_path: Path
) -> None:
    """Profile 5 (a streaming service's master: IPT colour, no HDR10, HLG or SDR base) would
    come out green and purple; profile 8.1's base layer is HDR10, which plays."""
    hevc = make(
        ffmpeg, tmp_path / "hevc.mp4", *av_source(ffmpeg, 2), "-c:v", "libx265",
        "-preset", "ultrafast", "-x265-params", "log-level=error", "-tag:v", "hvc1", "-c:a", "aac",
    ).read_bytes()  # fmt: skip
    with httpx.Client(base_url=origin.url, timeout=60) as http:
        own = upload_raw(http, origin.headers(), with_dolby_vision(hevc, 5, 0))
        compatible = upload_raw(http, origin.headers(), with_dolby_vision(hevc, 8, 1))
        refused = wait_for_video(http, own, timeout_s=120)
        played = wait_for_video(http, compatible, timeout_s=120)
    assert refused["status"] == "failed"
    assert refused["error"]["code"] == "invalid_media"
    assert "Dolby Vision" in refused["error"]["message"]
    assert played["status"] == "ready", played


@pytest.fixture(scope="module")
def long_source(tmp_path_factory: pytest.TempPathFactory, ffmpeg: str) -> Path:
    """Ten minutes of video, whose transcode runs long enough to be stopped (made once, at 5
    frames a second: it takes seconds to encode)."""
    return make(
        ffmpeg, tmp_path_factory.mktemp("long") / "long.mp4", *av_source(ffmpeg, 600, rate=5),
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "40", "-c:a", "aac", "-b:a", "32k",
    )  # fmt: skip


def _transcoding_job(http: httpx.Client, video_id: str) -> str:
    def transcoding() -> bool:
        return bool(http.get(f"/api/videos/{video_id}").json()["status"] == "transcoding")

    wait_until(transcoding, 60, "the transcode to start")
    return str(http.get(f"/api/videos/{video_id}").json()["job_id"])


def test_deleting_a_video_stops_its_transcode_within_seconds(
    origin: OriginServer, long_source: Path
) -> None:
    with httpx.Client(base_url=origin.url, timeout=60) as http:
        video_id = upload_raw(http, origin.headers(), long_source.read_bytes())
        job_id = _transcoding_job(http, video_id)
        wait_until(lambda: ffmpeg_running(f"job-{job_id}-"), 20, "its ffmpeg")
        assert http.delete(f"/api/videos/{video_id}", headers=origin.headers()).status_code == 204
        deleted = time.monotonic()
        wait_until(lambda: not ffmpeg_running(f"job-{job_id}-"), 8, "its ffmpeg to end")
        assert time.monotonic() - deleted < 8


def test_a_stopped_origin_leaves_no_ffmpeg(long_source: Path, tmp_path: Path) -> None:
    source = long_source
    with origin_server(tmp_path / "stopped", ENV) as server:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            video_id = upload_raw(http, server.headers(), source.read_bytes())
            _transcoding_job(http, video_id)
        marker = str(server.data_dir.resolve() / "work")
        wait_until(lambda: ffmpeg_running(marker), 20, "its ffmpeg")
        os.kill(server.proc.pid, signal.SIGTERM)  # the origin alone, as a service manager does
        server.proc.wait(timeout=30)
        wait_until(lambda: not ffmpeg_running(marker), 5, "no ffmpeg left")
