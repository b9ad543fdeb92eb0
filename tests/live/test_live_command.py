"""How many frames a live video part holds: parts divide a segment evenly, at the frame
rates encoders send; an audio part is as long as the packager reckons; a faster
contribution keeps every n-th frame; rungs keep the shape a picture is shown at, and a
picture that changes is fitted into them; an HDR contribution is tone-mapped once, an
interlaced one deinterlaced first; an encoder that comes back with another picture gets the
renditions it had."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.live import HLG, frame_rate, luma_range
from transcoder.fragments import Fragment, FragmentReader, picture_size
from transcoder.live_colour import Colour, colour_of, made_colour
from transcoder.live_command import (
    KeptPicture,
    LiveEncode,
    LiveRung,
    Picture,
    audio_part_s,
    build_live_argv,
    output_fps,
    part_length_s,
    video_part_frames,
)
from transcoder.live_receive import frame_rate as frame_rate_of
from transcoder.live_receive import picture_of
from transcoder.tools import tool_env


@pytest.mark.parametrize(
    ("segment_s", "part_s", "fps", "frames"),
    [
        (2.0, 0.5, 30, 15),  # 4 parts of 0.5 s
        (2.0, 0.5, 29.97, 12),  # 5 parts of 0.4 s (segments of 60 or 59 frames)
        (2.0, 0.5, 25, 10),  # 5 parts of 0.4 s, not 4 of 0.48 and one of 0.08
        (2.0, 0.5, 24, 12),
        (2.0, 0.5, 15, 6),
        (4.0, 1.0, 30, 30),
        (2.0, 0.5, 23.5, 11),  # 47 frames a segment: no divisor comes close
    ],
)
def test_parts_divide_a_segment_evenly(
    segment_s: float, part_s: float, fps: float, frames: int
) -> None:
    assert video_part_frames(segment_s, part_s, fps) == frames
    assert frames / fps <= part_s + 1e-9  # never longer than the part target


def _graph(hdr: bool, rungs: int, interlaced: bool = False) -> str:
    ladder = (LiveRung("720p", 720, 2_800_000), LiveRung("360p", 360, 800_000))[:rungs]
    encode = LiveEncode(2.0, 0.5, ladder)
    argv = build_live_argv(
        "ffmpeg", encode, [3, 4][:rungs], [5], 30, hdr=hdr, interlaced=interlaced
    )
    return argv[argv.index("-filter_complex") + 1]


@pytest.mark.parametrize("rungs", [1, 2])
def test_an_hdr_contribution_is_tone_mapped_once_at_the_top_rungs_size(rungs: int) -> None:
    assert "tonemap" not in _graph(False, rungs)
    graph = _graph(True, rungs)
    assert graph.count("tonemap=tonemap=hable") == 1
    # the picture is made the top rung's size first, then mapped: the smaller picture
    assert graph.startswith("[0:v:0]scale=")
    assert graph.index("pad=1280:720") < graph.index("tonemap")
    if rungs > 1:
        assert graph.index("tonemap") < graph.index("split") < graph.index("pad=640:360")


@pytest.mark.parametrize("rungs", [1, 2])
def test_an_interlaced_contribution_is_deinterlaced_before_anything_else(rungs: int) -> None:
    assert "bwdif" not in _graph(False, rungs)
    graph = _graph(True, rungs, interlaced=True)
    assert graph.startswith("[0:v:0]bwdif=")
    assert graph.count("bwdif") == 1
    assert graph.index("bwdif") < graph.index("scale") < graph.index("tonemap")


def _contribution(
    ffmpeg: str,
    path: Path,
    size: str,
    rate: str,
    sar: str = "1",
    seconds: float = 2,
    hdr: bool = False,
    tags: tuple[str, ...] = (),
) -> None:
    """Some seconds of an encoder's picture (its pixels `sar` wide; labelled HLG if `hdr`;
    with these encoder options: its colours' labels), as the receiver hands it on (NUT)."""
    pattern = f"testsrc2=size={size}:rate={rate}:duration={seconds}"
    encode = ["-vf", f"setsar={sar}", "-c:v", "libx264", "-preset", "ultrafast", *HLG * hdr]
    encode += tags
    subprocess.run(
        [ffmpeg, "-v", "error", "-f", "lavfi", "-i", pattern, *encode, "-f", "nut", str(path)],
        env=tool_env(),
        check=True,
        timeout=120,
    )


def _as_received(ffmpeg: str, source: Path) -> tuple[Picture | None, float | None, Colour]:
    """The picture, frame rate and colours the receiver reads from ffmpeg's line for
    `source`'s video."""
    said = subprocess.run(
        [ffmpeg, "-hide_banner", "-i", str(source)],
        capture_output=True,
        text=True,
        env=tool_env(),
        timeout=60,
    )
    line = next(line for line in said.stderr.splitlines() if "Video:" in line)
    return picture_of(line), frame_rate_of(line), colour_of(line)


def _init_segments(
    ffmpeg: str,
    source: Path,
    fps: float | None = None,
    keep: KeptPicture | None = None,
    rungs: tuple[int, ...] = (360,),
    hdr: bool = False,
) -> list[bytes]:
    """What the live transcoder makes of `source` for rungs of those sizes (its picture and
    rate read as the receiver reads them; `fps` as given): their init segments."""
    ladder = tuple(LiveRung(f"{n}p", n, 800_000) for n in rungs)
    outs = [source.with_suffix(f".{n}.mp4") for n in rungs]
    fds = list(range(3, 3 + len(rungs)))
    picture, rate, colour = _as_received(ffmpeg, source)
    encode = LiveEncode(2.0, 0.5, ladder)
    argv = build_live_argv(
        ffmpeg, encode, fds, [], fps or rate, hdr, keep=keep, picture=picture, colour=colour
    )
    files = {"pipe:0": str(source)} | {
        f"pipe:{fd}": str(o) for fd, o in zip(fds, outs, strict=True)
    }
    for out in outs:
        out.unlink(missing_ok=True)
    subprocess.run([files.get(a, a) for a in argv], env=tool_env(), check=True, timeout=120)
    return [data[: data.index(b"moof") - 4] for data in (o.read_bytes() for o in outs)]


@pytest.mark.parametrize(
    ("fps", "made"),
    [
        (25, 25),
        (30, 30),
        (29.97, 29.97),
        (50, 25),  # every other frame of a 50 fps feed
        (59.94, 29.97),
        (60, 30),
        (120, 30),
        (100, 25),
        (48, 24),
        (35, 30),  # half of it, 17.5, would be too slow
        (31, 30),
    ],
)
def test_a_fast_contribution_keeps_every_nth_frame(fps: float, made: float) -> None:
    assert output_fps(fps, 30) == pytest.approx(made)


@pytest.mark.parametrize(
    ("line", "rate"),
    [
        # fragmented MP4 pushed over HTTP: ffmpeg's measured average is off, its rate is not
        (
            "  Stream #0:0[0x1](und): Video: h264 (Constrained Baseline) (avc1 / 0x31637661), "
            "yuv420p(progressive), 640x360 [SAR 1:1 DAR 16:9], 1966 kb/s, 29.77 fps, 30 tbr, "
            "15360 tbn (default)",
            30.0,
        ),
        (
            "  Stream #0:0[0x100]: Video: h264 (High) ([27][0][0][0] / 0x001B), "
            "yuv420p(tv, bt709, progressive), 1920x1080, 59.94 fps, 59.94 tbr, 90k tbn",
            59.94,
        ),
        ("  Stream #0:0: Video: h264 (High), yuv420p, 1280x720, 2500 kb/s, 25 fps", 25.0),
        ("  Stream #0:0: Video: h264 (High), yuv420p, 1280x720, 2500 kb/s", None),
    ],
)
def test_a_contributions_rate_is_the_one_ffmpeg_encodes_it_at(
    line: str, rate: float | None
) -> None:
    assert frame_rate_of(line) == rate


@pytest.mark.parametrize(("rate", "made"), [("50", 25.0), ("60000/1001", 30000 / 1001)])
def test_a_fast_contribution_is_encoded_at_a_whole_fraction_of_its_rate(
    ffmpeg: str, ffprobe: str, tmp_path: Path, rate: str, made: float
) -> None:
    """A 50 fps broadcast feed comes out at 25 (every other frame), not at 30 (three frames
    of five, a judder); ffmpeg prints a 59.94 fps one's rate as 59.94, and it comes out at
    exactly 30000/1001."""
    source = tmp_path / "source.nut"
    _contribution(ffmpeg, source, "640x360", rate, seconds=1)
    _init_segments(ffmpeg, source)
    assert frame_rate(ffprobe, source.with_suffix(".360.mp4")) == pytest.approx(made, abs=1e-3)


def _init_segment(ffmpeg: str, source: Path, fps: float, keep: KeptPicture | None) -> bytes:
    """What the live transcoder makes of `source` for a 360p rung: its init segment."""
    return _init_segments(ffmpeg, source, fps, keep)[0]


@pytest.mark.parametrize(
    ("size", "sar", "made"),
    [
        ("1920x1080", "1", [(1280, 720), (640, 360)]),
        ("720x576", "64/45", [(1024, 576), (640, 360)]),  # a 16:9 broadcast feed, anamorphic
        ("1440x1080", "4/3", [(1280, 720), (640, 360)]),  # HDV
        ("1080x1920", "1", [(720, 1280), (360, 640)]),  # an upright phone
        ("640x480", "1", [(640, 480), (480, 360)]),  # 4:3, smaller than the top rung
        ("480x270", "1", [(480, 270), (480, 270)]),  # never larger than the source
    ],
)
@pytest.mark.parametrize("hdr", [False, True])
def test_rungs_keep_the_shape_a_picture_is_shown_at(
    ffmpeg: str, tmp_path: Path, size: str, sar: str, made: list[tuple[int, int]], hdr: bool
) -> None:
    """A rung's shorter side is its size, its pixels square, the picture's shape the one it
    is shown at; whether it is tone-mapped first (at the top rung's size) or not."""
    source = tmp_path / "source.nut"
    _contribution(ffmpeg, source, size, "25", sar, seconds=0.2, hdr=hdr)
    inits = _init_segments(ffmpeg, source, rungs=(720, 360), hdr=hdr)
    assert [picture_size(init) for init in inits] == made


def test_a_picture_that_changes_on_the_way_is_fitted_not_stretched(
    ffmpeg: str, tmp_path: Path
) -> None:
    """A contribution whose picture turns upright on the way (one connection: the encoder's
    source switched) keeps its renditions' size, the upright picture between black bars, not
    stretched to the first one's shape."""
    joined = b""
    for n, size in enumerate(["640x360", "360x640"]):
        part = tmp_path / f"{n}.ts"
        pattern = f"testsrc2=size={size}:rate=25:duration=1"
        encode = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-f", "mpegts"]
        subprocess.run(
            [ffmpeg, "-v", "error", "-f", "lavfi", "-i", pattern, *encode, str(part)],
            env=tool_env(),
            check=True,
            timeout=60,
        )
        joined += part.read_bytes()
    (tmp_path / "joined.ts").write_bytes(joined)
    source = tmp_path / "source.nut"  # as the receiver passes it on
    subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(tmp_path / "joined.ts"), "-c", "copy", str(source)],
        env=tool_env(),
        check=True,
        timeout=60,
    )
    _init_segments(ffmpeg, source)
    made = source.with_suffix(".360.mp4")
    assert luma_range(ffmpeg, made, "crop=200:360:0:0", at_s=0.5)[1] > 100  # landscape: no bars
    sides = luma_range(ffmpeg, made, "crop=200:360:0:0", at_s=1.5)
    assert sides[1] <= 24  # upright: black bars beside it
    assert luma_range(ffmpeg, made, "crop=100:360:270:0", at_s=1.5)[1] > 100  # and the picture


@pytest.mark.parametrize(("rate", "fps"), [("30", 30.0), ("30000/1001", 29.97)])
def test_an_encoder_back_with_another_picture_makes_the_same_init_segment(
    ffmpeg: str, tmp_path: Path, rate: str, fps: float
) -> None:
    """The renditions' init segments, which players keep, are the same whatever size, shape
    or frame rate the encoder comes back with: its picture is fitted into the kept sizes, at
    the kept rate (an NTSC rate as ffmpeg prints it, 29.97, made exactly 30000/1001)."""
    first = tmp_path / "first.nut"
    _contribution(ffmpeg, first, "640x360", rate)
    made = _init_segment(ffmpeg, first, fps, None)
    keep = KeptPicture(((640, 360),), fps)
    for n, (size, other_rate) in enumerate(
        [("640x360", rate), ("360x640", "25"), ("1920x1080", "60")]
    ):
        again = tmp_path / f"again{n}.nut"
        _contribution(ffmpeg, again, size, other_rate)
        assert _init_segment(ffmpeg, again, 25.0, keep) == made
    # without the kept picture another size is another init segment: the test can tell
    assert _init_segment(ffmpeg, tmp_path / "again1.nut", 25.0, None) != made


# what encoders say of their colours: nothing, BT.709, SD's BT.601, a phone's HLG; and a
# webcam's full range (the renditions are limited range, whatever a contribution's)
COLOUR_LABELS = {
    "untold": (),
    "full": ("-pix_fmt", "yuvj420p"),
    "bt709": ("-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709"),
    "bt601": (
        "-colorspace",
        "smpte170m",
        "-color_primaries",
        "smpte170m",
        "-color_trc",
        "smpte170m",
    ),
    "hlg": tuple(HLG),
}


@pytest.mark.parametrize("first", ["untold", "bt709", "full", "hlg"])
def test_an_encoder_back_saying_other_colours_makes_the_same_init_segment(
    ffmpeg: str, tmp_path: Path, first: str
) -> None:
    """An encoder that comes back saying other colours (an HDR phone after an SDR camera, a
    tool that labels BT.709 after one that says nothing) is made in the colours the
    broadcast began with and labelled so: the same init segments, so players go on."""
    sources = {}
    for name, labels in COLOUR_LABELS.items():
        sources[name] = tmp_path / f"{name}.nut"
        _contribution(ffmpeg, sources[name], "640x360", "30", seconds=0.5, tags=labels)
    made = _init_segments(ffmpeg, sources[first], 30.0, None, hdr=first == "hlg")[0]
    colour = made_colour(_as_received(ffmpeg, sources[first])[2], first == "hlg")
    keep = KeptPicture(((640, 360),), 30.0, colour)
    for name, source in sources.items():
        again = _init_segments(ffmpeg, source, 30.0, keep, hdr=name == "hlg")[0]
        assert again == made, name
    # without the kept colours another label is another init segment: the test can tell
    other = "bt601" if first != "bt601" else "bt709"
    assert _init_segments(ffmpeg, sources[other], 30.0, None)[0] != made


RED = (192, 48, 32)
MATRIX = {"bt709": "bt709", "smpte170m": "bt601"}  # ffmpeg's colour space: its scaler's matrix


@pytest.mark.parametrize(("made_in", "kept_in"), [("smpte170m", "bt709"), ("bt709", "smpte170m")])
def test_an_encoder_back_in_another_matrix_is_made_in_the_broadcasts(
    ffmpeg: str, tmp_path: Path, made_in: str, kept_in: str
) -> None:
    """An encoder back in another YUV matrix (SD's BT.601 after HD's BT.709, or the other way
    round) is converted into the broadcast's, not only labelled so: a red read in the
    broadcast's matrix is the red it sent (within 2 of 255; unconverted, 11 to 15 off)."""
    source = tmp_path / "red.nut"
    red = "0x{:02X}{:02X}{:02X}".format(*RED)
    pattern = f"color=c={red}:size=640x360:rate=30:duration=0.5"
    made = f"format=rgb24,scale=out_color_matrix={MATRIX[made_in]}:out_range=tv,format=yuv420p"
    labels = ["-colorspace", made_in, "-color_primaries", made_in, "-color_trc", made_in]
    subprocess.run(
        [ffmpeg, "-v", "error", "-f", "lavfi", "-i", f"{pattern},{made}", "-c:v", "libx264",
         "-preset", "ultrafast", *labels, "-f", "nut", str(source)],
        env=tool_env(), check=True, timeout=120,
    )  # fmt: skip
    keep = KeptPicture(((640, 360),), 30.0, Colour(kept_in, kept_in, kept_in))
    _init_segments(ffmpeg, source, 30.0, keep)
    read = f"crop=2:2:320:180,scale=in_color_matrix={MATRIX[kept_in]}:in_range=tv,format=rgb24"
    pixel = subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(source.with_suffix(".360.mp4")), "-vf", read,
         "-frames:v", "1", "-f", "rawvideo", "-"],
        capture_output=True, env=tool_env(), check=True, timeout=60,
    ).stdout  # fmt: skip
    assert list(pixel[:3]) == pytest.approx(RED, abs=2)


def test_kept_sizes_name_every_rung() -> None:
    encode = LiveEncode(
        2.0, 0.5, (LiveRung("720p", 720, 2_800_000), LiveRung("360p", 360, 800_000))
    )
    with pytest.raises(ValueError, match="a kept size per rung"):
        build_live_argv("ffmpeg", encode, [3, 4], [], 30, keep=KeptPicture(((640, 360),), 30))
    argv = build_live_argv(
        "ffmpeg", encode, [3, 4], [], 25, keep=KeptPicture(((1280, 720), (640, 360)), 30)
    )
    graph = argv[argv.index("-filter_complex") + 1]
    assert "pad=1280:720" in graph
    assert "pad=640:360" in graph
    assert graph.count("fps=30") == 2


@pytest.mark.parametrize("part_s", [0.5, 0.7, 1.0])
def test_audio_parts_are_as_long_as_the_packager_reckons(
    ffmpeg: str, tmp_path: Path, part_s: float
) -> None:
    """The playlist's target duration is worked out from how long the encoder's audio parts
    are (`audio_part_s`, cut to the stream's part length): ffmpeg's AAC parts are exactly
    that long, every one but the last, and within the part target."""
    source = tmp_path / "contribution.nut"
    video = "testsrc2=size=320x180:rate=25:duration=5"
    sound = "sine=frequency=440:sample_rate=44100:duration=5"  # the encoder resamples it
    inputs = ["-f", "lavfi", "-i", video, "-f", "lavfi", "-i", sound]
    codecs = ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"]
    subprocess.run(
        [ffmpeg, "-v", "error", *inputs, *codecs, "-f", "nut", str(source)],
        env=tool_env(),
        check=True,
        timeout=120,
    )
    encode = LiveEncode(2.0, part_s, (LiveRung("180p", 180, 300_000),))
    argv = build_live_argv(ffmpeg, encode, [3], [4], 25)
    target = part_length_s(encode, 25)
    audio = tmp_path / "audio.mp4"
    files = {"pipe:0": str(source), "pipe:3": str(tmp_path / "video.mp4"), "pipe:4": str(audio)}
    subprocess.run([files.get(a, a) for a in argv], env=tool_env(), check=True, timeout=120)
    made = FragmentReader().feed(audio.read_bytes())
    parts = [f.duration_s for f in made if isinstance(f, Fragment)]
    assert len(parts) >= 4
    length = audio_part_s(part_length_s(encode, 25))
    assert parts[:-1] == pytest.approx([length] * (len(parts) - 1), abs=1e-6)
    assert 0.85 * target <= length <= target  # RFC 8216bis 4.4.4.9


@pytest.mark.parametrize(
    ("part_s", "fps", "length"),
    [(0.5, 30, 0.5), (0.5, 25, 0.4), (0.5, 29.97, 0.400401), (1.0, 25, 1.0), (0.5, None, 0.5)],
)
def test_a_streams_parts_are_its_video_parts(
    part_s: float, fps: float | None, length: float
) -> None:
    """The part target is what a video part holds at the rate encoded (whole frames that
    divide a segment evenly): 0.4 s at 25 fps, which is 80% of a 0.5 s part target, and the
    spec asks for 85% at least."""
    encode = LiveEncode(2.0, part_s, (LiveRung("180p", 180, 300_000),))
    assert part_length_s(encode, fps) == length
