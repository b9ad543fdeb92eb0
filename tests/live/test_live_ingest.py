"""A live stream end to end below the HTTP layer: ffmpeg pushes a test pattern by SRT (or RTMP)
to the stream's port; every rendition's parts and segments reach storage and its playlist
state the catalog as they are made; an encoder with the wrong key is refused; when the encoder
stops, the playlists end and the recording is a ready video whose playlists ffprobe reads. A
contribution without audio is broadcast and recorded without audio; one faster than 30 frames
a second is encoded at 30. Picture and sound keep their time when the sound starts late."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from manifests.catalog import Catalog
from manifests.db import SqliteDatabase
from manifests.live_playlist import PlaylistView, render_live_playlist
from manifests.live_streams import LiveRendition, LiveSettings, LiveStream, render_live_master
from storage.local import LocalStorage
from tests.support.lip_sync import beep_s, flash_and_beep, flash_s, mean_volume_db
from tests.support.live import (
    HLG,
    frame_rate,
    ingesting,
    luma_range,
    media_duration,
    picture_size,
    push,
)
from tests.support.servers import free_port
from transcoder.live_command import LiveEncode, LiveRung, rtmp_url, srt_push_url
from transcoder.live_ingest import IngestConfig
from transcoder.live_receive import StreamKey
from transcoder.tools import tool_env

pytestmark = pytest.mark.slow


def _new_stream(tmp_path: Path, title: str) -> tuple[Catalog, LocalStorage, LiveStream]:
    """A catalog and storage in `tmp_path`, and a stream on a free port (2 s segments of
    0.5 s parts, a 30 s window)."""
    catalog = Catalog(SqliteDatabase(tmp_path / "catalog.db"))
    catalog.create_schema()
    port = free_port()
    stream = catalog.create_live(title, LiveSettings(2.0, 0.5, 30.0), range(port, port + 1))
    return catalog, LocalStorage(tmp_path / "objects"), stream


def recording(
    catalog: Catalog, storage: LocalStorage, video_id: str, rendition: str, tmp_path: Path
) -> Path:
    """A recording's rendition copied out of storage: its playlist, beside its objects."""
    folder = tmp_path / rendition
    folder.mkdir()
    (folder / "index.m3u8").write_text(catalog.playlists(video_id)[f"{rendition}/index.m3u8"])
    for obj in catalog.objects(video_id):
        if obj.rendition == rendition:
            (folder / obj.name).write_bytes(storage.get_bytes(obj.key))
    return folder / "index.m3u8"


def recorded_s(
    ffprobe: str, catalog: Catalog, storage: LocalStorage, video_id: str, tmp_path: Path
) -> float:
    """The duration ffprobe reads from a recording's 360p rendition, copied out of storage."""
    return media_duration(ffprobe, str(recording(catalog, storage, video_id, "360p", tmp_path)))


def test_an_srt_push_is_packaged_live_and_recorded(
    tmp_path: Path, ffmpeg: str, ffprobe: str
) -> None:
    catalog, storage, stream = _new_stream(tmp_path, "test pattern")
    port = stream.ingest_port
    encode = LiveEncode(2.0, 0.5, (LiveRung("360p", 360, 800_000), LiveRung("180p", 180, 250_000)))
    with ingesting(stream, catalog, storage, IngestConfig(ffmpeg, encode, reconnect_s=1)) as ingest:
        time.sleep(1.0)  # the listener is up
        wrong = push(ffmpeg, srt_push_url("127.0.0.1", port, "not-the-stream-key-0000"), 2)
        assert wrong.wait(30) != 0  # refused at the handshake
        encoder = push(ffmpeg, srt_push_url("127.0.0.1", port, stream.stream_key), 12)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            live = catalog.get_live(stream.id)
            assert live is not None
            if live.status == "live" and len(catalog.live_renditions(stream.id)[1]) == 3:
                break
            time.sleep(0.1)
        assert catalog.get_live(stream.id).status == "live"  # type: ignore[union-attr]
        time.sleep(3)  # on air at 4.5 s of media, and the encoder goes on to 12 s
        _, renditions = catalog.live_renditions(stream.id)
        assert [r.name for r in renditions] == ["360p", "180p", "audio"]
        video = renditions[0]
        assert video.info["codecs"].startswith("avc1.")
        assert video.info["resolution"] == "640x360"
        assert renditions[1].info["resolution"] == "320x180"
        assert renditions[2].info["codecs"].startswith("mp4a.40")
        track = video.track
        assert track.segments, "a segment is complete after 4 s"
        text = render_live_playlist(track, PlaylistView())
        assert "#EXT-X-PART:" in text
        # every announced part and segment is in storage
        for segment in track.segments:
            assert storage.stat(f"live/{stream.id}/360p/{segment.msn}.m4s") is not None
        for n in range(len(track.pending)):
            assert storage.stat(f"live/{stream.id}/360p/{track.next_msn}.{n}.m4s") is not None
        # a 2 s video segment at 30 fps is four parts of 15 frames: no short last part,
        # which players skip (hls.js jumps over a part shorter than 0.25 s and stalls)
        assert [[p.duration_s for p in s.parts] for s in track.segments] == [
            [pytest.approx(0.5, abs=0.002)] * 4
        ] * len(track.segments)
        # audio parts come about twice a second too
        audio = [p.duration_s for s in renditions[2].track.segments for p in s.parts]
        assert all(abs(d - 0.5) <= 0.1 for d in audio), audio
        assert_durations_follow_the_spec(renditions, 0.5)
        assert ingest.ended_with(encoder)
    ended = catalog.get_live(stream.id)
    assert ended is not None
    assert ended.status == "ended"
    assert ended.video_id == stream.id
    _, renditions = catalog.live_renditions(stream.id)
    assert all(r.track.ended for r in renditions)
    recording = catalog.get_video(stream.id)
    assert recording is not None
    assert recording.status == "ready"
    playlists = catalog.playlists(stream.id)
    assert "master.m3u8" in playlists
    media = playlists["360p/index.m3u8"]
    assert media.count("#EXTINF") >= 3
    # the recording plays: ffprobe reads its whole 360p rendition from storage
    assert recorded_s(ffprobe, catalog, storage, stream.id, tmp_path) == pytest.approx(12, abs=1.5)


def test_an_rtmp_push_without_audio_is_broadcast_and_recorded_without_audio(
    tmp_path: Path, ffmpeg: str, ffprobe: str
) -> None:
    """A contribution without sound is broadcast and recorded without; an encoder that comes
    back with sound goes on without it, in the renditions the broadcast began with."""
    catalog, storage, stream = _new_stream(tmp_path, "no sound")
    port = stream.ingest_port  # RTMP listens on the same number over TCP
    encode = LiveEncode(2.0, 0.5, (LiveRung("360p", 360, 800_000),))
    with ingesting(stream, catalog, storage, IngestConfig(ffmpeg, encode, reconnect_s=4)) as ingest:
        time.sleep(1.0)  # the listeners are up
        wrong = push(ffmpeg, rtmp_url("127.0.0.1", port, "not-the-stream-key"), 3, audio=False)
        assert wrong.wait(30) != 0  # ffmpeg's RTMP server took it; the receiver did not
        assert catalog.get_live(stream.id).status == "idle"  # type: ignore[union-attr]
        time.sleep(1.0)  # listening again
        key = stream.stream_key
        encoder = push(ffmpeg, rtmp_url("127.0.0.1", port, key), 6, audio=False, fps=60)
        deadline = time.monotonic() + 30
        while catalog.get_live(stream.id).status != "live":  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "on air by RTMP"
            time.sleep(0.1)
        _, renditions = catalog.live_renditions(stream.id)
        assert [(r.name, r.kind) for r in renditions] == [("360p", "video")]
        master = render_live_master(renditions)
        assert "TYPE=AUDIO" not in master
        assert 'CODECS="avc1.' in master
        assert encoder.wait(30) == 0
        time.sleep(1.0)  # the encoder is away
        with_sound = push(ffmpeg, rtmp_url("127.0.0.1", port, key), 4)
        assert ingest.ended_with(with_sound)
    recording = catalog.get_video(stream.id)
    assert recording is not None
    assert recording.status == "ready"
    playlists = catalog.playlists(stream.id)
    assert "TYPE=AUDIO" not in playlists["master.m3u8"]
    assert playlists["360p/index.m3u8"].count("#EXTINF") >= 2
    assert recorded_s(ffprobe, catalog, storage, stream.id, tmp_path) == pytest.approx(10, abs=2)
    # a 60 fps contribution is encoded at 30 fps
    keys = {o.name: o.key for o in catalog.objects(stream.id)}
    sample = tmp_path / "first.mp4"
    sample.write_bytes(storage.get_bytes(keys["init.mp4"]) + storage.get_bytes(keys["1.m4s"]))
    assert frame_rate(ffprobe, sample) == pytest.approx(30, abs=0.5)


def test_an_encoder_that_comes_back_in_time_continues_the_broadcast(
    tmp_path: Path, ffmpeg: str, ffprobe: str
) -> None:
    """An encoder that drops and comes back within the reconnect wait continues the same
    broadcast, even with another picture (upright, at another frame rate, in HDR) and without
    sound: the stream stays live meanwhile, segment numbers and the media timeline go on, the
    renditions keep their size, rate and colours (the new picture tone-mapped, between black
    bars), the sound goes on as silence, and the recording holds both halves of picture and
    sound; one that does not come back ends it."""
    catalog, storage, stream = _new_stream(tmp_path, "dropped")
    url = srt_push_url("127.0.0.1", stream.ingest_port, stream.stream_key)
    encode = LiveEncode(2.0, 0.5, (LiveRung("360p", 360, 800_000),))
    config = IngestConfig(ffmpeg, encode, reconnect_s=6)
    with ingesting(stream, catalog, storage, config) as ingest:
        time.sleep(1.0)  # the listeners are up
        first = push(ffmpeg, url, 6)
        assert first.wait(30) == 0
        time.sleep(2.5)  # the encoder is away
        live = catalog.get_live(stream.id)
        assert live is not None
        assert live.status == "live"
        _, renditions = catalog.live_renditions(stream.id)
        before = renditions[0].track
        assert not before.ended
        assert not before.pending  # the segment cut short by the drop is closed
        second = push(ffmpeg, url, 6, size="360x640", fps=25, audio=False, hlg=True)
        assert ingest.ended_with(second)  # and no encoder came back within 6 s
    _, renditions = catalog.live_renditions(stream.id)
    after = renditions[0].track
    assert after.ended
    msns = [s.msn for s in after.segments]
    assert msns == list(range(msns[0], msns[0] + len(msns)))
    assert msns[-1] > before.segments[-1].msn + 2
    resumed = next(s for s in after.segments if s.msn == before.next_msn)
    assert resumed.parts[0].independent
    # wall-clock time jumps over the pause; media time does not
    paused = resumed.started_at - before.segments[-1].started_at - before.segments[-1].duration_s
    assert paused > 2.0
    keys = {o.name: o.key for o in catalog.objects(stream.id) if o.rendition == "360p"}
    sample = tmp_path / "resumed.mp4"
    sample.write_bytes(
        storage.get_bytes(keys["init.mp4"]) + storage.get_bytes(keys[f"{resumed.msn}.m4s"])
    )
    assert picture_size(ffprobe, sample) == (640, 360)
    assert frame_rate(ffprobe, sample) == pytest.approx(30, abs=0.5)
    sides, middle = luma_range(ffmpeg, sample, "crop=200:360:0:0"), luma_range(ffmpeg, sample)
    assert sides[1] <= 24  # black bars beside the upright picture
    assert middle[1] - middle[0] > 100  # and the picture between them
    assert recorded_s(ffprobe, catalog, storage, stream.id, tmp_path) == pytest.approx(12, abs=2)
    sound = recording(catalog, storage, stream.id, "audio", tmp_path)
    assert media_duration(ffprobe, str(sound)) == pytest.approx(12, abs=2)


def test_a_replaced_key_cuts_the_encoder_and_an_encoder_with_the_new_one_goes_on(
    tmp_path: Path, ffmpeg: str
) -> None:
    """Replacing a stream's key cuts the encoder on air with the old one; the broadcast waits
    as for a dropped connection, the listeners refuse the old key and take the new one, and
    an encoder with it continues the same broadcast."""
    catalog, storage, stream = _new_stream(tmp_path, "rekeyed")
    port = stream.ingest_port
    encode = LiveEncode(2.0, 0.5, (LiveRung("360p", 360, 800_000),))
    key = StreamKey(stream.stream_key)
    # the old encoder learns it was cut at its SRT peer idle timeout (about 5 s), and the
    # new one comes after that: the wait for it covers that twice
    config = IngestConfig(ffmpeg, encode, reconnect_s=10)
    with ingesting(stream, catalog, storage, config, key=key) as ingest:
        time.sleep(1.0)  # the listeners are up
        first = push(ffmpeg, srt_push_url("127.0.0.1", port, stream.stream_key), 60)
        deadline = time.monotonic() + 30
        while catalog.get_live(stream.id).status != "live":  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "on air"
            time.sleep(0.1)
        replaced = catalog.reset_live_key(stream.id)
        assert replaced is not None
        key.replace(replaced.stream_key)
        assert first.wait(20) != 0  # cut long before its 60 s
        _, renditions = catalog.live_renditions(stream.id)
        last_before = renditions[0].track.segments[-1].msn
        old = push(ffmpeg, srt_push_url("127.0.0.1", port, stream.stream_key), 3)
        assert old.wait(30) != 0  # refused at the handshake
        assert catalog.get_live(stream.id).status == "live"  # type: ignore[union-attr]
        second = push(ffmpeg, srt_push_url("127.0.0.1", port, replaced.stream_key), 6)
        assert ingest.ended_with(second, stop=True)
    _, renditions = catalog.live_renditions(stream.id)
    msns = [s.msn for s in renditions[0].track.segments]
    assert msns == list(range(msns[0], msns[0] + len(msns)))
    assert msns[-1] >= last_before + 2  # the new encoder's 6 s went on from there


def _broadcast(
    tmp_path: Path,
    ffmpeg: str,
    feed: list[str],
    rung: LiveRung | None = None,
    lengths: tuple[float, float] = (2.0, 0.5),
) -> tuple[Catalog, LocalStorage, str]:
    """A new stream of one rung (360p unless `rung`) to which an encoder pushes `feed`
    (ffmpeg's inputs and encoding options) as MPEG-TS over SRT, until the broadcast ends
    with it: the catalog, the storage and the stream's id (its recording's too). `lengths`:
    the segments and parts the ingest is set to make (the stream has 2 s and 0.5 s)."""
    catalog, storage, stream = _new_stream(tmp_path, "feed")
    encode = LiveEncode(*lengths, (rung or LiveRung("360p", 360, 800_000),))
    url = srt_push_url("127.0.0.1", stream.ingest_port, stream.stream_key)
    with ingesting(stream, catalog, storage, IngestConfig(ffmpeg, encode, reconnect_s=1)) as ingest:
        time.sleep(1.0)  # the listener is up
        encoder = subprocess.Popen(
            [ffmpeg, "-v", "error", *feed, "-f", "mpegts", url],
            env=tool_env(),
            stderr=subprocess.DEVNULL,
        )
        assert ingest.ended_with(encoder)
    return catalog, storage, stream.id


def assert_durations_follow_the_spec(renditions: list[LiveRendition], part_s: float) -> None:
    """RFC 8216bis: every segment rounds to the target duration or under (4.4.3.1); every
    part of `part_s` is within the part target, and at least 85% of it but for a segment's
    last part and an independent one (4.4.4.9)."""
    for rendition in renditions:
        track = rendition.track
        assert track.part_target_s == part_s
        assert track.segments
        for segment in track.segments:
            assert segment.duration_s < track.target_duration_s + 0.5
            assert all(p.duration_s <= part_s for p in segment.parts)
            inner = [p for p in segment.parts[:-1] if not p.independent]
            assert all(p.duration_s >= 0.85 * part_s for p in inner), (rendition.name, inner)


@pytest.mark.parametrize(
    ("rate", "part_target", "segment_s"),
    [("25", 0.4, 2.0), ("30000/1001", 0.400401, 2.002)],  # 5 parts of 10 or 12 frames
)
def test_parts_of_whole_frames_are_the_part_target(
    tmp_path: Path, ffmpeg: str, rate: str, part_target: float, segment_s: float
) -> None:
    """At 25 fps a 2 s segment is five video parts of 10 frames (0.4 s; 12 frames at
    29.97): no short last part, which players skip. That is 80% of a part target of 0.5 s,
    and the spec asks for 85% at least, so the part target is the part's length; the audio
    parts are cut to it too. The origin has been set to 3 s segments of 1 s parts since the
    stream was made: the stream keeps its own."""
    feed = [
        "-re", "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate={rate}:duration=6",
        "-re", "-f", "lavfi", "-i", "sine=duration=6",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac",
    ]  # fmt: skip
    catalog, _, stream_id = _broadcast(tmp_path, ffmpeg, feed, lengths=(3.0, 1.0))
    _, renditions = catalog.live_renditions(stream_id)
    assert [r.kind for r in renditions] == ["video", "audio"]
    durations = [s.duration_s for s in renditions[0].track.segments]
    assert durations[:-1] == pytest.approx([segment_s] * (len(durations) - 1), abs=1e-3)
    assert_durations_follow_the_spec(renditions, part_target)
    assert f"#EXT-X-PART-INF:PART-TARGET={part_target}\n" in render_live_playlist(
        renditions[0].track, PlaylistView()
    )


def test_each_audio_track_of_a_contribution_is_broadcast_in_its_language(
    tmp_path: Path, ffmpeg: str
) -> None:
    """A contribution with a tone in English, silence in French and a German track that
    starts 3 s late (MPEG-TS over SRT, the languages tagged as broadcast encoders tag
    them): English and French are broadcast, each as its own audio rendition named by its
    language, English the default, and both are recorded, each with its own sound; German,
    of which the receiver finds nothing in the contribution's first second, is left out
    (before, it took the whole contribution down with it)."""
    feed = [
        "-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=6",
        "-re", "-f", "lavfi", "-i", "sine=frequency=440:duration=6",
        "-re", "-f", "lavfi", "-i", "anullsrc=sample_rate=48000:duration=6",
        "-itsoffset", "3", "-re", "-f", "lavfi", "-i", "sine=frequency=880:duration=3",
        "-map", "0:v", "-map", "1:a", "-map", "2:a", "-map", "3:a",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-c:a", "aac",
        "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra",
        "-metadata:s:a:2", "language=deu",
    ]  # fmt: skip
    catalog, storage, stream_id = _broadcast(tmp_path, ffmpeg, feed)
    _, renditions = catalog.live_renditions(stream_id)
    assert [(r.name, r.kind) for r in renditions] == [
        ("360p", "video"),
        ("audio", "audio"),
        ("audio2", "audio"),
    ]
    assert [r.info["language"] for r in renditions[1:]] == ["eng", "fra"]
    assert_durations_follow_the_spec(renditions, 0.5)
    master = render_live_master(renditions)
    assert 'NAME="English",LANGUAGE="eng",DEFAULT=YES' in master
    assert 'NAME="Français",LANGUAGE="fra",DEFAULT=NO' in master
    assert 'URI="audio2/index.m3u8"' in master
    recorded = catalog.playlists(stream_id)["master.m3u8"]
    assert 'LANGUAGE="eng"' in recorded
    assert 'LANGUAGE="fra"' in recorded
    english = recording(catalog, storage, stream_id, "audio", tmp_path)
    french = recording(catalog, storage, stream_id, "audio2", tmp_path)
    assert mean_volume_db(ffmpeg, english) > -30  # the tone
    assert mean_volume_db(ffmpeg, french) < -80  # the silence


def test_an_encoder_back_with_fewer_audio_tracks_keeps_each_in_its_language(
    tmp_path: Path, ffmpeg: str, ffprobe: str
) -> None:
    """An encoder with English and French leaves and comes back with French only: the
    broadcast keeps both audio renditions, French goes on in the French one (not in the
    first, by position), English as silence, and each recording is as long as the
    picture's."""
    catalog, storage, stream = _new_stream(tmp_path, "two languages")
    url = srt_push_url("127.0.0.1", stream.ingest_port, stream.stream_key)
    encode = LiveEncode(2.0, 0.5, (LiveRung("360p", 360, 800_000),))
    with ingesting(stream, catalog, storage, IngestConfig(ffmpeg, encode, reconnect_s=6)) as ingest:
        time.sleep(1.0)  # the listeners are up
        assert push(ffmpeg, url, 5, languages=("eng", "fra")).wait(30) == 0
        time.sleep(2.5)  # the encoder is away
        assert ingest.ended_with(push(ffmpeg, url, 5, languages=("fra",)))
    _, renditions = catalog.live_renditions(stream.id)
    assert [r.name for r in renditions] == ["360p", "audio", "audio2"]
    picture = recorded_s(ffprobe, catalog, storage, stream.id, tmp_path)
    assert picture == pytest.approx(10, abs=2)
    last = renditions[2].track.segments[-2].msn  # the last whole one, in the second half
    volume = {}
    for name in ("audio", "audio2"):
        sound = recording(catalog, storage, stream.id, name, tmp_path)
        assert media_duration(ffprobe, str(sound)) == pytest.approx(picture, abs=1)
        keys = {o.name: o.key for o in catalog.objects(stream.id) if o.rendition == name}
        sample = tmp_path / f"{name}-last.mp4"
        sample.write_bytes(
            storage.get_bytes(keys["init.mp4"]) + storage.get_bytes(keys[f"{last}.m4s"])
        )
        volume[name] = mean_volume_db(ffmpeg, sample)
    assert volume["audio"] < -80  # English: silence
    assert volume["audio2"] > -40  # French: its tone


def test_a_contribution_whose_sound_starts_late_keeps_picture_and_sound_together(
    tmp_path: Path, ffmpeg: str
) -> None:
    """An encoder whose sound starts 0.6 s after its picture (as MPEG-TS over SRT): a flash
    and a beep at one moment of the contribution come out at one moment of the broadcast
    and its recording (before, the sound started with the picture, 0.6 s early)."""
    source = flash_and_beep(ffmpeg, tmp_path / "late.ts", picture_at=0, sound_at=0.6)
    catalog, storage, stream_id = _broadcast(
        tmp_path, ffmpeg, ["-re", "-i", str(source), "-c", "copy"]
    )
    master = catalog.playlists(stream_id)["master.m3u8"]
    assert "TYPE=AUDIO" in master
    sound_rendition = re.findall(r'URI="([^"/]+)/', master)[0]
    picture = recording(catalog, storage, stream_id, "360p", tmp_path)
    sound = recording(catalog, storage, stream_id, sound_rendition, tmp_path)
    assert beep_s(ffmpeg, sound) == pytest.approx(flash_s(ffmpeg, picture), abs=0.06)


def test_a_contribution_whose_sound_comes_too_late_to_be_read_is_refused_with_a_reason(
    tmp_path: Path, ffmpeg: str
) -> None:
    """Sound that starts 2 s after the picture: the receiver, which reads the contribution's
    first second to learn its streams, knows nothing of it and cannot pass it on. The API
    says so (before: "the broadcast ended before any media: No main startcode found")."""
    catalog, storage, stream = _new_stream(tmp_path, "too late")
    source = flash_and_beep(ffmpeg, tmp_path / "late.ts", picture_at=0, sound_at=2)
    encode = LiveEncode(2.0, 0.5, (LiveRung("360p", 360, 800_000),))
    url = srt_push_url("127.0.0.1", stream.ingest_port, stream.stream_key)
    with ingesting(stream, catalog, storage, IngestConfig(ffmpeg, encode, reconnect_s=1)):
        time.sleep(1.0)  # the listener is up
        encoder = subprocess.Popen(
            [ffmpeg, "-v", "error", "-re", "-i", str(source), "-c", "copy", "-f", "mpegts", url],
            env=tool_env(),
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while (live := catalog.get_live(stream.id)) is not None and live.ingest_error is None:
            assert time.monotonic() < deadline, "the reason noted"
            time.sleep(0.1)
        encoder.kill()
        encoder.wait(10)
    assert live is not None
    assert live.status == "idle"
    assert live.ingest_error is not None
    assert "audio did not start within its first second" in live.ingest_error.message


def test_an_hdr_contribution_is_broadcast_in_sdr(tmp_path: Path, ffmpeg: str, ffprobe: str) -> None:
    """A phone's HLG (10-bit HEVC, BT.2020) over SRT: the broadcast is 8-bit BT.709, as a
    video uploaded in HDR is (before: 8-bit H.264 labelled HLG, washed out on players that do
    not tone-map)."""
    hlg = [
        "-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=5",
        "-vf", "format=yuv420p10le", "-c:v", "libx265", "-preset", "ultrafast",
        "-x265-params", "log-level=error", *HLG,
    ]  # fmt: skip
    catalog, storage, stream_id = _broadcast(tmp_path, ffmpeg, hlg)
    folder = recording(catalog, storage, stream_id, "360p", tmp_path).parent
    sample = tmp_path / "sample.mp4"  # the init segment and a segment
    sample.write_bytes((folder / "init.mp4").read_bytes() + min(folder.glob("*.m4s")).read_bytes())
    probed = subprocess.run(
        [ffprobe, "-v", "error", "-select_streams", "v", "-show_entries",
         "stream=pix_fmt,color_transfer,color_primaries", "-of", "csv=p=0", str(sample)],
        capture_output=True, text=True, timeout=60, check=True, env=tool_env(),
    )  # fmt: skip
    assert probed.stdout.split() == ["yuv420p,bt709,bt709"]


def test_an_interlaced_contribution_is_broadcast_deinterlaced(tmp_path: Path, ffmpeg: str) -> None:
    """A broadcast feed's 576i (fields top first) over SRT: the broadcast's frames are whole
    pictures, not two fields woven together (ffmpeg's idet finds combs in every frame of the
    rendition before; in almost none after)."""
    feed = [
        "-re", "-f", "lavfi", "-i", "testsrc2=size=720x576:rate=50:duration=5",
        "-vf", "tinterlace=interleave_top,fieldorder=tff", "-flags", "+ildct+ilme",
        "-c:v", "libx264", "-preset", "ultrafast", "-x264-params", "tff=1", "-pix_fmt", "yuv420p",
    ]  # fmt: skip
    catalog, storage, stream_id = _broadcast(
        tmp_path, ffmpeg, feed, LiveRung("576p", 576, 1_500_000)
    )
    picture = recording(catalog, storage, stream_id, "576p", tmp_path)
    found = subprocess.run(
        [ffmpeg, "-hide_banner", "-i", str(picture), "-vf", "idet", "-f", "null", "-"],
        capture_output=True, text=True, timeout=60, env=tool_env(), check=True,
    ).stderr  # fmt: skip
    counts = re.search(
        r"Multi frame detection: TFF:\s*(\d+) BFF:\s*(\d+) Progressive:\s*(\d+)", found
    )
    assert counts is not None, found
    combed, progressive = int(counts[1]) + int(counts[2]), int(counts[3])
    assert progressive > 50
    assert combed < progressive / 10


def test_a_contribution_with_one_keyframe_in_many_seconds_is_broadcast_from_its_first(
    tmp_path: Path, ffmpeg: str, ffprobe: str
) -> None:
    """An encoder whose keyframes come 10 s apart (x264's default GOP; OBS's "auto"): the
    broadcast starts with its first keyframe and holds all 6 s (before, the transcoder
    dropped what its probe read, that keyframe, and had nothing to decode until the next:
    a second late with 1 s keyframes, here never)."""
    feed = [
        "-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=6",
        "-re", "-f", "lavfi", "-i", "sine=duration=6",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "300", "-c:a", "aac",
    ]  # fmt: skip
    catalog, storage, stream_id = _broadcast(tmp_path, ffmpeg, feed)
    assert recorded_s(ffprobe, catalog, storage, stream_id, tmp_path) == pytest.approx(6, abs=1)
