"""How many frames a live video part holds: parts divide a segment evenly, at the frame
rates encoders send; an HDR contribution is tone-mapped once, an interlaced one deinterlaced
first."""

from __future__ import annotations

import pytest

from transcoder.live_command import LiveEncode, LiveRung, build_live_argv, video_part_frames


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
