"""The fragmented-MP4 cutter on what ffmpeg really writes: the init segment, then fragments
with their times and keyframes, whatever size the pieces of the stream arrive in; bad input
is refused, never half-read."""

from __future__ import annotations

import random
import subprocess

import pytest

from transcoder.fragments import Fragment, FragmentError, FragmentReader, Init, shifted

FRAGMENTED = ["-movflags", "empty_moov+default_base_moof+frag_keyframe", "-frag_duration"]


@pytest.fixture(scope="module")
def streams(tmp_path_factory: pytest.TempPathFactory, ffmpeg: str) -> dict[str, bytes]:
    """5 s of 30 fps video (a keyframe every 2 s) and of AAC audio, in 0.5 s fragments."""
    out = tmp_path_factory.mktemp("fmp4")
    video, audio = out / "v.mp4", out / "a.mp4"
    sources = ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=5"]
    sources += ["-f", "lavfi", "-i", "sine=duration=5:sample_rate=48000"]
    keyframes = ["-g", "60", "-force_key_frames", "expr:gte(t,n_forced*2)", "-sc_threshold", "0"]
    video_out = ["-map", "0:v", "-c:v", "libx264", "-preset", "ultrafast", *keyframes]
    video_out += ["-f", "mp4", *FRAGMENTED, "500000", str(video)]
    audio_out = ["-map", "1:a", "-c:a", "aac", "-f", "mp4", *FRAGMENTED, "478000", str(audio)]
    subprocess.run(
        [ffmpeg, "-v", "error", "-nostdin", "-y", *sources, *video_out, *audio_out], check=True
    )
    return {"video": video.read_bytes(), "audio": audio.read_bytes()}


def cut(data: bytes, seed: int) -> list[Init | Fragment]:
    reader = FragmentReader()
    rng = random.Random(seed)
    out: list[Init | Fragment] = []
    at = 0
    while at < len(data):
        step = rng.choice((1, 7, 100, 4096, 65536))
        out += reader.feed(data[at : at + step])
        at += step
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_video_is_cut_into_its_fragments_with_times_and_keyframes(
    streams: dict[str, bytes], seed: int
) -> None:
    out = cut(streams["video"], seed)
    init, fragments = out[0], out[1:]
    assert isinstance(init, Init)
    assert init.timescale > 0
    assert all(isinstance(f, Fragment) for f in fragments)
    parts = [f for f in fragments if isinstance(f, Fragment)]
    assert len(parts) == 10
    assert [round(f.start_s, 3) for f in parts] == [n * 0.5 for n in range(10)]
    assert all(f.duration_s == pytest.approx(0.5) for f in parts)
    assert [f.start_s for f in parts if f.independent] == [0.0, 2.0, 4.0]
    # nothing lost or added: init and fragments are the stream, byte for byte, but for the
    # index a seekable file ends with (mfra), which is no part of any fragment
    whole = init.data + b"".join(f.data for f in parts)
    assert streams["video"].startswith(whole)
    assert streams["video"][len(whole) + 4 : len(whole) + 8] == b"mfra"


def test_audio_fragments_are_all_independent_and_within_the_part_target(
    streams: dict[str, bytes],
) -> None:
    out = cut(streams["audio"], 3)
    parts = [f for f in out if isinstance(f, Fragment)]
    assert all(f.independent for f in parts)
    assert all(0.85 * 0.5 <= f.duration_s <= 0.5 for f in parts[:-1])
    ends = [f.start_s + f.duration_s for f in parts]
    assert all(b.start_s == pytest.approx(a) for a, b in zip(ends, parts[1:], strict=False))
    assert ends[-1] == pytest.approx(5.0, abs=0.05)


def test_what_is_not_a_fragmented_mp4_is_refused() -> None:
    with pytest.raises(FragmentError):
        FragmentReader().feed(b"\x00\x00\x00\x04moov")  # a box smaller than its header
    with pytest.raises(FragmentError):
        FragmentReader().feed(b"\x7f\xff\xff\xffmdat")  # a box larger than any fragment
    with pytest.raises(FragmentError):
        FragmentReader().feed(b"\x00\x00\x00\x08moof")  # a fragment before any init segment
    reader = FragmentReader()
    assert reader.feed(b"\x00\x00\x00\x10ftyp") == []  # incomplete: waits for the rest
    assert reader.init is None


def test_a_shifted_fragment_reads_back_later_and_the_same_otherwise(
    streams: dict[str, bytes],
) -> None:
    out = cut(streams["video"], 3)
    init, parts = out[0], [f for f in out[1:] if isinstance(f, Fragment)]
    assert isinstance(init, Init)
    ticks = 7 * init.timescale + 123
    moved = [shifted(f, ticks, init.timescale) for f in parts]
    again = [
        f for f in cut(init.data + b"".join(m.data for m in moved), 4) if isinstance(f, Fragment)
    ]
    assert [f.start_s for f in again] == pytest.approx(
        [f.start_s + ticks / init.timescale for f in parts]
    )
    assert [f.start_s for f in again] == pytest.approx([f.start_s for f in moved])
    assert [f.duration_s for f in again] == [f.duration_s for f in parts]
    assert [f.independent for f in again] == [f.independent for f in parts]
    assert all(len(m.data) == len(f.data) for m, f in zip(moved, parts, strict=True))
    assert shifted(parts[0], 0, init.timescale) is parts[0]
    with pytest.raises(FragmentError):
        shifted(parts[0], -(1 << 62), init.timescale)
