"""Thumbnails: a poster and a WebVTT storyboard made in the same ffmpeg run as the renditions,
published with them, named by the API and served like any other file. Pure parts (sizes,
cue layout, the filter graph), then real uploads whose pictures are checked against the
source's frames."""

from __future__ import annotations

import itertools
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from sample_media.generate import generate_sample
from tests.support.playback import upload_raw, wait_for_video
from tests.support.servers import OriginServer
from transcoder.command import EncodeOptions, build_transcode_argv, scale_graph
from transcoder.ladder import PlannedRendition
from transcoder.thumbnails import (
    ThumbnailPlan,
    fit,
    plan_thumbnails,
    storyboard_interval,
    storyboard_vtt,
)
from transcoder.webvtt import parse_timestamp

CUE = re.compile(r"^(\S+) --> (\S+)\n(\d+)\.jpg#xywh=(\d+),(\d+),(\d+),(\d+)$", re.M)


def cues_of(text: str) -> list[tuple[float, float, int, int, int, int, int]]:
    assert text.startswith("WEBVTT\n")
    return [
        (parse_timestamp(a), parse_timestamp(b), int(s), int(x), int(y), int(w), int(h))
        for a, b, s, x, y, w, h in CUE.findall(text)
    ]


def rung(name: str, width: int, height: int) -> PlannedRendition:
    return PlannedRendition(name, width, height, 1_000_000, 1_070_000, 1_500_000)


def test_pictures_keep_the_shape_of_the_video_and_are_never_enlarged() -> None:
    assert fit((1920, 1080), (160, 90)) == (160, 90)
    assert fit((1080, 1920), (160, 90)) == (90, 160)  # portrait: the box turns
    assert fit((640, 480), (160, 90)) == (120, 90)
    assert fit((100, 50), (160, 90)) == (100, 50)
    assert fit((1920, 800), (1280, 720)) == (1280, 534)


def test_the_storyboard_interval_grows_with_the_video_within_bounds() -> None:
    assert storyboard_interval(1) == 2
    assert storyboard_interval(300) == 2
    assert storyboard_interval(600) == 4
    assert storyboard_interval(7200) == 10
    plan = plan_thumbnails(9.0, (640, 360), (426, 240))
    assert (plan.interval_s, plan.poster_size, plan.thumb_size) == (2, (640, 360), (160, 90))
    assert plan.poster_at_s == pytest.approx(0.9)
    assert plan_thumbnails(3600, (1920, 1080), (640, 360)).poster_at_s == 10


def test_storyboard_cues_cover_the_video_and_walk_the_sheets_row_by_row() -> None:
    plan = ThumbnailPlan(interval_s=2, poster_at_s=1, poster_size=(640, 360), thumb_size=(160, 90))
    cues = cues_of(storyboard_vtt(plan, sheets=2, duration_s=61.5))
    assert len(cues) == 31  # ceil(61.5 / 2)
    assert cues[0] == (0, 2, 0, 0, 0, 160, 90)
    assert cues[6] == (12, 14, 0, 160, 90, 160, 90)  # second row, second column
    assert cues[25] == (50, 52, 1, 0, 0, 160, 90)  # the second sheet
    assert cues[-1][:2] == (60, 61.5)  # the last cue ends with the video
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cues))
    # never a cue past the pictures ffmpeg made
    assert len(cues_of(storyboard_vtt(plan, sheets=1, duration_s=61.5))) == 25


def test_the_filter_graph_feeds_the_poster_from_the_top_rung_and_the_sheets_from_the_smallest(
    tmp_path: Path,
) -> None:
    plan = plan_thumbnails(30, (640, 360), (426, 240))
    three = (rung("360p", 640, 360), rung("240p", 426, 240), rung("144p", 256, 144))
    graph = scale_graph(three, None, plan)
    assert "split=3[v0][c0][tp]" in graph
    assert "split=2[v1][c1]" in graph
    assert "split=2[v2][ts]" in graph
    assert "[tp]trim=start=3:duration=" in graph  # only the frames the poster is chosen among
    assert "[ts]fps=fps=1/2:" in graph
    assert graph.endswith("tile=5x5[sheets]")
    one = scale_graph((rung("360p", 640, 360),), (640, 360), plan)
    assert one.startswith("[0:v:0]null,setsar=1,format=yuv420p,split=3[v0][tp][ts]")
    assert scale_graph(three) == scale_graph(three, None, None)  # nothing without a plan
    argv = build_transcode_argv("ffmpeg", [], three, [], tmp_path, EncodeOptions(thumbnails=plan))
    assert str(tmp_path / "thumbs" / "poster.jpg") in argv
    assert str(tmp_path / "thumbs" / "%d.jpg") in argv


def _probe_size(ffprobe: str, path: Path) -> tuple[int, int]:
    out = subprocess.run(
        [ffprobe, "-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0", path],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    width, height = out.split(",")
    return int(width), int(height)


def _psnr(ffmpeg: str, a: Path, b: Path) -> float:
    out = subprocess.run(
        [ffmpeg, "-v", "info", "-nostdin", "-i", a, "-i", b, "-lavfi", "psnr", "-f", "null", "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stderr
    found = re.search(r"average:(\S+)", out)
    assert found, out
    return float("inf") if found[1] == "inf" else float(found[1])


def _frame(ffmpeg: str, source: Path, at_s: float, size: tuple[int, int], out: Path) -> Path:
    seek = ["-ss", f"{at_s:.3f}", "-i", str(source)]
    scale = ["-frames:v", "1", "-vf", f"scale={size[0]}:{size[1]}", str(out)]
    subprocess.run([ffmpeg, "-v", "error", "-nostdin", "-y", *seek, *scale], check=True)
    return out


def _region(ffmpeg: str, sheet: Path, cue: tuple[int, int, int, int], out: Path) -> Path:
    x, y, w, h = cue
    subprocess.run(
        [ffmpeg, "-v", "error", "-nostdin", "-y", "-i", sheet, "-vf", f"crop={w}:{h}:{x}:{y}", out],
        check=True,
    )
    return out


@pytest.mark.slow
def test_an_upload_gets_a_poster_and_a_storyboard_of_its_own_frames(
    origin: OriginServer,
    http: httpx.Client,
    tmp_path: Path,
    ffmpeg: str,
    ffprobe: str,
) -> None:
    sample = generate_sample(
        tmp_path / "src", ffmpeg=ffmpeg, duration_s=13, width=640, height=360, fps=25
    )
    video_id = upload_raw(http, origin.headers(), sample.video.read_bytes(), "?listed=true")
    status = wait_for_video(http, video_id)
    assert status["status"] == "ready", status
    base = f"/vod/{video_id}/thumbs"
    assert status["thumbnails"] == {
        "poster": f"{base}/poster.jpg",
        "storyboard": f"{base}/storyboard.vtt",
    }
    images = [r for r in status["renditions"] if r["kind"] == "images"]
    assert [(r["name"], r["codecs"]) for r in images] == [("thumbs", "jpeg")]
    # the list says so too, for a public viewer and for an API key
    for headers in ({}, origin.headers()):
        listed = http.get("/api/videos", params={"limit": 1000}, headers=headers).json()
        mine = next(v for v in listed["videos"] if v["id"] == video_id)
        assert mine["thumbnails"] == status["thumbnails"]
    # no playlist names the pictures: players see the same master as before
    master = http.get(f"/vod/{video_id}/master.m3u8").text
    assert "thumbs" not in master

    top = max(
        (r for r in status["renditions"] if r["kind"] == "video"),
        key=lambda r: int(r["resolution"].split("x")[0]),
    )
    poster = http.get(status["thumbnails"]["poster"])
    assert poster.status_code == 200
    assert poster.headers["content-type"] == "image/jpeg"
    assert "immutable" in poster.headers["cache-control"]
    (tmp_path / "poster.jpg").write_bytes(poster.content)
    width, height = (int(n) for n in top["resolution"].split("x"))
    assert _probe_size(ffprobe, tmp_path / "poster.jpg") == (width, height)

    track = http.get(status["thumbnails"]["storyboard"])
    assert track.status_code == 200
    assert track.headers["content-type"].startswith("text/vtt")
    cues = cues_of(track.text)
    assert len(cues) == 7  # 13 s, one picture every 2 s
    assert cues[0][0] == 0
    assert cues[-1][1] == pytest.approx(13, abs=0.6)
    sheet = http.get(f"{base}/0.jpg")
    assert sheet.status_code == 200
    assert sheet.headers["content-type"] == "image/jpeg"
    (tmp_path / "0.jpg").write_bytes(sheet.content)
    sheet_w, sheet_h = _probe_size(ffprobe, tmp_path / "0.jpg")
    assert {c[2] for c in cues} == {0}
    assert all(x + w <= sheet_w and y + h <= sheet_h for _, _, _, x, y, w, h in cues)
    assert http.get(f"{base}/1.jpg").status_code == 404  # 7 pictures fit in one sheet

    # Each picture is its moment of the video: the last frame before the middle of its cue
    # (25 fps: 0.96 s for the first), far closer to it than to the frame two cues later.
    for index in (0, 2, 4):
        start, _, _, x, y, w, h = cues[index]
        picture = _region(ffmpeg, tmp_path / "0.jpg", (x, y, w, h), tmp_path / f"cue{index}.png")
        middle = start + 1 - 0.06
        right = _frame(ffmpeg, sample.video, middle, (w, h), tmp_path / f"right{index}.png")
        wrong = _frame(ffmpeg, sample.video, middle + 4, (w, h), tmp_path / f"wrong{index}.png")
        close, far = _psnr(ffmpeg, picture, right), _psnr(ffmpeg, picture, wrong)
        assert close > 25, (index, close)
        assert close > far + 6, (index, close, far)


@pytest.mark.slow
def test_a_video_shorter_than_one_interval_still_gets_its_thumbnails(
    origin: OriginServer, http: httpx.Client, tmp_path: Path, ffmpeg: str
) -> None:
    sample = generate_sample(tmp_path / "src", ffmpeg=ffmpeg, duration_s=0.6, width=320, height=240)
    video_id = upload_raw(http, origin.headers(), sample.video.read_bytes())
    status = wait_for_video(http, video_id)
    assert status["status"] == "ready", status
    assert status["thumbnails"] is not None
    cues = cues_of(http.get(status["thumbnails"]["storyboard"]).text)
    assert len(cues) == 1
    assert cues[0][:2] == pytest.approx((0.0, 0.6), abs=0.1)
    assert http.get(status["thumbnails"]["poster"]).status_code == 200
    assert http.get(f"/vod/{video_id}/thumbs/0.jpg").status_code == 200
