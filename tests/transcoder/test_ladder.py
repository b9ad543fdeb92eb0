"""Ladder planning: never upscale, keep the aspect ratio, even dimensions."""

from __future__ import annotations

import pytest

from transcoder.ladder import LadderPolicy, plan_ladder
from transcoder.probe import VideoStream


def source(width: int, height: int) -> VideoStream:
    return VideoStream(width=width, height=height, frame_rate=30.0, codec="h264", duration_s=10)


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        pytest.param(1920, 1080, [(1920, 1080), (1280, 720), (854, 480), (640, 360)], id="1080p"),
        pytest.param(1280, 720, [(1280, 720), (854, 480), (640, 360)], id="720p-no-upscale"),
        pytest.param(3840, 2160, [(1920, 1080), (1280, 720), (854, 480), (640, 360)], id="4k"),
        pytest.param(1440, 1080, [(1440, 1080), (960, 720), (640, 480), (480, 360)], id="4:3"),
        pytest.param(320, 240, [(320, 240)], id="smaller-than-every-rung"),
        pytest.param(321, 241, [(320, 240)], id="odd-sides"),
        pytest.param(243, 243, [(242, 242)], id="odd-square-never-upscaled"),
        pytest.param(
            1080,
            1920,
            [(1080, 1920), (720, 1280), (480, 854), (360, 640)],
            id="portrait-short-side",
        ),
    ],
)
def test_default_ladder(width: int, height: int, expected: list[tuple[int, int]]) -> None:
    planned = plan_ladder(source(width, height), LadderPolicy())
    assert [(r.width, r.height) for r in planned] == expected
    assert all(r.width % 2 == 0 and r.height % 2 == 0 for r in planned)


def test_default_bitrates() -> None:
    planned = plan_ladder(source(1920, 1080), LadderPolicy())
    assert [r.bitrate_bps for r in planned] == [5_000_000, 2_800_000, 1_400_000, 800_000]
    assert all(r.maxrate_bps > r.bitrate_bps for r in planned)


def test_small_source_gets_the_lowest_bitrate() -> None:
    (only,) = plan_ladder(source(320, 240), LadderPolicy())
    assert only.bitrate_bps == 800_000
    assert only.name == "240p"
    (odd,) = plan_ladder(source(321, 241), LadderPolicy())
    assert (odd.name, odd.height) == ("240p", 240)  # named for the size it is


def test_configurable_ladder_is_sorted_best_first() -> None:
    policy = LadderPolicy.parse("360:700, 720:2500")
    assert [r.height for r in policy.rungs] == [720, 360]
    assert [r.bitrate_bps for r in policy.rungs] == [2_500_000, 700_000]


@pytest.mark.parametrize("text", ["", "720", "720:abc", "8:100", "x:1"])
def test_bad_ladder_text(text: str) -> None:
    with pytest.raises(ValueError, match=r"rung|at least one"):
        LadderPolicy.parse(text)
