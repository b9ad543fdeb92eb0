"""Thumbnails made in the same ffmpeg run as the renditions (pure: plans, filter text, WebVTT).

A poster (one representative frame, a little way in, so not a fade from black) is taken from
the top rung; a storyboard from the smallest: one small picture every few seconds, tiled
into sprite sheets, and a WebVTT track whose cues name each picture as a region of a sheet
(`0.jpg#xywh=160,0,160,90`), the form players use for seek previews. Each picture is the
frame at the middle of its cue (ffmpeg's `fps` filter keeps the last frame of each slot
centred on a multiple of the interval).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from transcoder.webvtt import format_timestamp

RENDITION = "thumbs"  # the folder (and catalog rendition, of kind "images") they are kept under
POSTER = "poster.jpg"
STORYBOARD = "storyboard.vtt"
SPRITE = re.compile(r"\d{1,9}\.jpg")
POSTER_BOX = (1280, 720)
THUMB_BOX = (160, 90)
GRID = (5, 5)  # pictures per sheet: columns, rows
POSTER_LABEL, SHEETS_LABEL = "poster", "sheets"


@dataclass(frozen=True, slots=True)
class ThumbnailPlan:
    interval_s: int  # one storyboard picture per interval
    poster_at_s: float  # the poster is the most typical frame in the second after this
    poster_size: tuple[int, int]
    thumb_size: tuple[int, int]
    frame_rate: float = 30.0
    grid: tuple[int, int] = GRID

    @property
    def per_sheet(self) -> int:
        return self.grid[0] * self.grid[1]


def fit(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The largest even size with `size`'s shape inside `box` (turned for portrait
    pictures), never larger than `size`."""
    width, height = size
    box_w, box_h = box if width >= height else (box[1], box[0])
    scale = min(1.0, box_w / width, box_h / height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def storyboard_interval(duration_s: float) -> int:
    """2 s for short videos, longer for long ones (about 150 pictures), at most 10 s."""
    return min(10, max(2, math.ceil(duration_s / 150)))


def plan_thumbnails(
    duration_s: float,
    top: tuple[int, int],
    smallest: tuple[int, int],
    frame_rate: float = 30.0,
) -> ThumbnailPlan:
    return ThumbnailPlan(
        interval_s=storyboard_interval(duration_s),
        poster_at_s=round(min(10.0, max(0.0, duration_s) * 0.1), 3),
        poster_size=fit(top, POSTER_BOX),
        thumb_size=fit(smallest, THUMB_BOX),
        frame_rate=frame_rate,
    )


def filter_chains(plan: ThumbnailPlan, poster_from: str, sheets_from: str) -> str:
    """Two filter chains: the poster from `poster_from`, the sheets from `sheets_from`
    (labels of the decoded pictures), ending in [poster] and [sheets]."""
    width, height = plan.poster_size
    typical = max(2, min(30, round(plan.frame_rate)))  # frames the poster is chosen among
    thumb_w, thumb_h = plan.thumb_size
    columns, rows = plan.grid
    # only the frames the poster is chosen among go through its chain (trim ends it there),
    # and only the chosen one is scaled: the other frames of the video cost it nothing
    among_s = (typical + 1) / max(plan.frame_rate, 1.0)
    return (
        f"[{poster_from}]trim=start={plan.poster_at_s:g}:duration={among_s:.3f},"
        f"thumbnail=n={typical},scale={width}:{height},format=yuvj420p[{POSTER_LABEL}];"
        # eof_action=pass: a video shorter than half an interval still gets its picture
        f"[{sheets_from}]fps=fps=1/{plan.interval_s}:eof_action=pass,"
        f"scale={thumb_w}:{thumb_h},format=yuvj420p,tile={columns}x{rows}[{SHEETS_LABEL}]"
    )


def output_args(out_dir: Path) -> list[str]:
    folder = out_dir / RENDITION
    return [
        "-map",
        f"[{POSTER_LABEL}]",
        "-frames:v",
        "1",
        "-c:v",
        "mjpeg",
        "-q:v",
        "3",
        "-f",
        "image2",
        "-update",
        "1",
        str(folder / POSTER),
        "-map",
        f"[{SHEETS_LABEL}]",
        "-c:v",
        "mjpeg",
        "-q:v",
        "5",
        "-f",
        "image2",
        "-start_number",
        "0",
        str(folder / "%d.jpg"),
    ]


def storyboard_vtt(plan: ThumbnailPlan, sheets: int, duration_s: float) -> str:
    """The WebVTT track: one cue per picture, each naming its region of a sheet."""
    count = min(max(1, math.ceil(duration_s / plan.interval_s)), sheets * plan.per_sheet)
    width, height = plan.thumb_size
    columns = plan.grid[0]
    lines = ["WEBVTT", ""]
    for n in range(count):
        start = n * plan.interval_s
        end = max(start + 0.001, min((n + 1) * plan.interval_s, duration_s))
        sheet, place = divmod(n, plan.per_sheet)
        row, column = divmod(place, columns)
        lines += [
            f"{format_timestamp(start)} --> {format_timestamp(end)}",
            f"{sheet}.jpg#xywh={column * width},{row * height},{width},{height}",
            "",
        ]
    return "\n".join(lines)


def sheet_files(folder: Path) -> list[Path]:
    """The sheets ffmpeg wrote, in order."""
    found = [p for p in folder.iterdir() if SPRITE.fullmatch(p.name)] if folder.is_dir() else []
    return sorted(found, key=lambda p: int(p.stem))
