"""How many frames a live video part holds: parts divide a segment evenly, at the frame
rates encoders send."""

from __future__ import annotations

import pytest

from transcoder.live_command import video_part_frames


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
