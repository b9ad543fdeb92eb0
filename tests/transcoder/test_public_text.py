"""A failure's public message names no server path and no URL."""

from __future__ import annotations

import pytest

from transcoder.errors import public_text


@pytest.mark.parametrize(
    ("logged", "shown"),
    [
        (
            "not a readable mov file: /srv/data/work/job-1-x/source: Invalid data found",
            "not a readable mov file: source: Invalid data found",
        ),
        ("put failed on http://10.0.0.5:8333/bucket/videos/v1/360p/0.m4s", "put failed on …"),
        ("s3://user:secret@host/bucket broke", "… broke"),
        (
            "[hls @ 0x5] /tmp/job/out/360p/init.mp4: No space left",
            "[hls @ 0x5] init.mp4: No space left",
        ),
        ("frames of 1920x1080 at 30000/1001 fps", "frames of 1920x1080 at 30000/1001 fps"),
    ],
)
def test_paths_and_urls_are_left_out(logged: str, shown: str) -> None:
    assert public_text(logged) == shown
