"""How many frames a live video part holds: parts divide a segment evenly, at the frame
rates encoders send; an HDR contribution is tone-mapped once, an interlaced one deinterlaced
first; an encoder that comes back with another picture gets the renditions it had."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from transcoder.live_command import (
    KeptPicture,
    LiveEncode,
    LiveRung,
    build_live_argv,
    video_part_frames,
)
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
    argv = build_live_argv("ffmpeg", encode, [3, 4][:rungs], 5, 30, hdr=hdr, interlaced=interlaced)
    return argv[argv.index("-filter_complex") + 1]


@pytest.mark.parametrize("rungs", [1, 2])
def test_an_hdr_contribution_is_tone_mapped_once_at_the_top_rungs_size(rungs: int) -> None:
    assert "tonemap" not in _graph(False, rungs)
    graph = _graph(True, rungs)
    assert graph.count("tonemap=tonemap=hable") == 1
    assert graph.startswith("[0:v:0]scale=-2:'min(720,ih)'")  # the smaller picture is mapped
    assert graph.index("tonemap") < graph.index("setsar")
    if rungs > 1:
        assert graph.index("tonemap") < graph.index("split")


@pytest.mark.parametrize("rungs", [1, 2])
def test_an_interlaced_contribution_is_deinterlaced_before_anything_else(rungs: int) -> None:
    assert "bwdif" not in _graph(False, rungs)
    graph = _graph(True, rungs, interlaced=True)
    assert graph.startswith("[0:v:0]bwdif=")
    assert graph.count("bwdif") == 1
    assert graph.index("bwdif") < graph.index("scale") < graph.index("tonemap")


def _contribution(ffmpeg: str, path: Path, size: str, rate: str) -> None:
    """Two seconds of an encoder's picture, as the receiver hands it on (NUT)."""
    pattern = f"testsrc2=size={size}:rate={rate}:duration=2"
    encode = ["-c:v", "libx264", "-preset", "ultrafast", "-f", "nut", str(path)]
    subprocess.run(
        [ffmpeg, "-v", "error", "-f", "lavfi", "-i", pattern, *encode],
        env=tool_env(),
        check=True,
        timeout=120,
    )


def _init_segment(ffmpeg: str, source: Path, fps: float, keep: KeptPicture | None) -> bytes:
    """What the live transcoder makes of `source` for a 360p rung: its init segment."""
    encode = LiveEncode(2.0, 0.5, (LiveRung("360p", 360, 800_000),))
    out = source.with_suffix(".mp4")
    out.unlink(missing_ok=True)
    argv = build_live_argv(ffmpeg, encode, [3], None, fps, keep=keep)
    argv = [str(source) if a == "pipe:0" else str(out) if a == "pipe:3" else a for a in argv]
    subprocess.run(argv, env=tool_env(), check=True, timeout=120)
    data = out.read_bytes()
    return data[: data.index(b"moof") - 4]


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


def test_kept_sizes_name_every_rung() -> None:
    encode = LiveEncode(
        2.0, 0.5, (LiveRung("720p", 720, 2_800_000), LiveRung("360p", 360, 800_000))
    )
    with pytest.raises(ValueError, match="a kept size per rung"):
        build_live_argv("ffmpeg", encode, [3, 4], None, 30, keep=KeptPicture(((640, 360),), 30))
    argv = build_live_argv(
        "ffmpeg", encode, [3, 4], None, 25, keep=KeptPicture(((1280, 720), (640, 360)), 30)
    )
    graph = argv[argv.index("-filter_complex") + 1]
    assert "pad=1280:720" in graph
    assert "pad=640:360" in graph
    assert graph.count("fps=30") == 2
