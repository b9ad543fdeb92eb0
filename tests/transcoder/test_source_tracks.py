"""The tracks a source brings: its text subtitles come out as WebVTT (with real ffmpeg, one
bad track losing only itself), as uploaded SubRip and ASS files do; tag languages that are not
codes are ignored, attached fonts do not count as streams, a cover is not the film, tracks of
one language get distinct names, and a video whose header declares no duration is measured."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from manifests.track_names import track_names
from transcoder.command import InputFile
from transcoder.errors import InvalidMedia
from transcoder.ladder import LadderPolicy
from transcoder.languages import tagged_language
from transcoder.plan import LocalInputs, plan_encode
from transcoder.probe import SourceInfo, SubtitleStream, parse_probe, probe_file, require_video
from transcoder.sniff import sniff_subtitles
from transcoder.text_subtitles import convert_side_subtitles, extract_text_subtitles, text_tracks
from transcoder.timeline import timeline_of
from transcoder.tools import tool_env
from transcoder.webvtt import parse_webvtt

SRT = "1\n00:00:01,000 --> 00:00:02,500\nhello there\n\n"
ASS = (
    "[Script Info]\nScriptType: v4.00+\n\n[V4+ Styles]\n"
    "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
    "BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, "
    "BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
    "Style: Default,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,"
    "1,2,2,2,10,10,10,1\n\n[Events]\n"
    "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
    "Dialogue: 0,0:00:00.50,0:00:02.00,Default,,0,0,0,,{\\an8}{\\i1}Bonjour{\\i0} le monde\n"
)


def subtitled_mkv(ffmpeg: str, tmp_path: Path) -> Path:
    (tmp_path / "eng.srt").write_text(SRT)
    (tmp_path / "fra.ass").write_text(ASS)
    out = tmp_path / "film.mkv"
    subprocess.run(
        [
            ffmpeg, "-v", "error", "-y",
            "-f", "lavfi", "-i", "testsrc=s=160x120:r=10:d=3",
            "-i", str(tmp_path / "eng.srt"), "-i", str(tmp_path / "fra.ass"),
            "-map", "0", "-map", "1", "-map", "2", "-c:v", "libx264", "-preset", "ultrafast",
            "-c:s:0", "srt", "-c:s:1", "ass",
            "-metadata:s:s:0", "language=eng", "-metadata:s:s:1", "language=fra",
            str(out),
        ],
        check=True, timeout=60, env=tool_env(),
    )  # fmt: skip
    return out


def subtitled_source(ffmpeg: str, ffprobe: str, tmp_path: Path) -> tuple[InputFile, SourceInfo]:
    source = InputFile(subtitled_mkv(ffmpeg, tmp_path), "matroska")
    return source, probe_file(ffprobe, source.path, "matroska")


def test_text_subtitle_tracks_become_webvtt(ffmpeg: str, ffprobe: str, tmp_path: Path) -> None:
    source, info = subtitled_source(ffmpeg, ffprobe, tmp_path)
    found = extract_text_subtitles(
        ffmpeg, source, info, tmp_path / "subs", max_bytes=1 << 20, timeout_s=60
    )
    assert [language for language, _ in found] == ["eng", "fra"]
    eng, fra = (parse_webvtt(path.read_text()) for _, path in found)
    assert [(c.start_s, c.end_s, c.text) for c in eng] == [(1.0, 2.5, "hello there")]
    assert [(c.start_s, c.end_s) for c in fra] == [(0.5, 2.0)]
    assert fra[0].text == "<i>Bonjour</i> le monde"  # ASS styling as WebVTT, no override tags


def test_one_track_that_cannot_be_read_loses_only_itself(
    ffmpeg: str, ffprobe: str, tmp_path: Path
) -> None:
    source, info = subtitled_source(ffmpeg, ffprobe, tmp_path)
    # a third track the file does not have: ffmpeg refuses the whole pass over all three
    broken = SourceInfo(
        info.demuxer,
        info.duration_s,
        info.video,
        info.audio,
        subtitles=(*info.subtitles, SubtitleStream("subrip", "spa")),
    )
    found = extract_text_subtitles(
        ffmpeg, source, broken, tmp_path / "subs", max_bytes=1 << 20, timeout_s=60
    )
    assert [language for language, _ in found] == ["eng", "fra"]
    assert sorted(p.name for p in (tmp_path / "subs").iterdir()) == ["0.vtt", "1.vtt"]


def test_a_track_over_the_size_limit_is_stopped_there(
    ffmpeg: str, ffprobe: str, tmp_path: Path
) -> None:
    source, info = subtitled_source(ffmpeg, ffprobe, tmp_path)
    found = extract_text_subtitles(
        ffmpeg, source, info, tmp_path / "subs", max_bytes=20, timeout_s=60
    )
    assert len(found) == 2
    assert all(path.stat().st_size > 20 for _, path in found)  # seen to be too large
    assert all(path.stat().st_size < 200 for _, path in found)


def test_bitmap_subtitles_are_not_text() -> None:
    info = SourceInfo(
        "matroska",
        10.0,
        None,
        (),
        subtitles=(
            SubtitleStream("hdmv_pgs_subtitle", "eng"),
            SubtitleStream("subrip", None),
            SubtitleStream("dvd_subtitle", "fra"),
            SubtitleStream("mov_text", "deu"),
        ),
    )
    assert [(t.index, t.language) for t in text_tracks(info)] == [(1, "und"), (3, "deu")]
    many = SourceInfo("matroska", 10.0, None, (), subtitles=(SubtitleStream("ass", "eng"),) * 40)
    assert [t.index for t in text_tracks(many)] == list(range(16))  # disk bounded


def test_tag_languages_that_are_not_codes_are_ignored() -> None:
    assert tagged_language({"language": "ENG"}) == "eng"
    assert tagged_language({"language": "pt-BR"}) == "pt-br"
    for hostile in ("../../x", 'en"g', "english language", "und", "", "e", "a/b"):
        assert tagged_language({"language": hostile}) is None


def test_attached_fonts_are_not_streams() -> None:
    streams = [
        {"codec_type": "video", "width": 64, "height": 64, "avg_frame_rate": "25/1"},
        {"codec_type": "audio", "channels": 2, "tags": {"language": "../../etc"}},
        {"codec_type": "subtitle", "codec_name": "ass", "tags": {"language": "jpn"}},
        *({"codec_type": "attachment", "codec_name": "ttf"} for _ in range(30)),
    ]
    info = parse_probe("matroska", {"streams": streams, "format": {"duration": "5"}})
    assert info.streams == 3
    assert info.audio[0].language is None
    assert info.subtitles == (SubtitleStream("ass", "jpn"),)


def test_tracks_of_one_language_have_distinct_names() -> None:
    languages: list[str | None] = ["eng", "eng", "fra", None, "eng", "und"]
    assert track_names(languages) == [
        "English",
        "English 2",
        "Français",
        "Unknown",
        "English 3",
        "Unknown 2",
    ]


def test_subtitle_files_are_told_from_their_first_bytes() -> None:
    assert sniff_subtitles(b"WEBVTT\n\n00:01.000 --> 00:02.000\nx\n") == "webvtt"
    assert sniff_subtitles(b"\xef\xbb\xbfWEBVTT - a title\r\n") == "webvtt"
    assert sniff_subtitles(b"\xef\xbb\xbf1\r\n00:00:01,000 --> 00:00:02,000\r\nhi\r\n") == "srt"
    assert sniff_subtitles(b"\n\n12\n0:00:01.5 --> 0:00:02.0\nhi\n") == "srt"
    assert sniff_subtitles(ASS.encode()) == "ass"
    for other in (b"", b"WEBVTTX", b"hello\n", b"<tt xmlns=", b"1\nnot a time\n"):
        assert sniff_subtitles(other) is None


def test_subrip_and_ass_uploads_become_webvtt(ffmpeg: str, tmp_path: Path) -> None:
    files = {
        "eng": ("eng.srt", SRT.encode()),
        "fra": ("fra.srt", "1\r\n00:00:01,000 --> 00:00:02,000\r\nCafé crème\r\n".encode("cp1252")),
        "deu": ("deu.ass", ASS.encode()),
        "spa": ("spa.vtt", b"WEBVTT\n\n00:01.000 --> 00:02.000\nHola\n"),
        "ita": ("ita.txt", b"not subtitles at all"),
    }
    given = []
    for language, (name, data) in files.items():
        (tmp_path / name).write_bytes(data)
        given.append((language, tmp_path / name))
    out = convert_side_subtitles(ffmpeg, given, tmp_path / "subs", max_bytes=1 << 20, timeout_s=60)
    assert [language for language, _ in out] == ["eng", "fra", "deu", "spa", "ita"]
    assert out[3:] == given[3:]  # WebVTT and the unknown as they were
    cues = {language: parse_webvtt(path.read_text()) for language, path in out[:3]}
    assert [(c.start_s, c.text) for c in cues["eng"]] == [(1.0, "hello there")]
    assert [c.text for c in cues["fra"]] == ["Café crème"]
    assert [c.text for c in cues["deu"]] == ["<i>Bonjour</i> le monde"]


def test_noise_in_a_subrip_upload_loses_only_the_noise(ffmpeg: str, tmp_path: Path) -> None:
    path = tmp_path / "eng.srt"
    noise = bytes(range(256)) * 16
    path.write_bytes(b"1\n00:00:01,000 --> 00:00:02,000\nfine\n\n" + noise)
    out = convert_side_subtitles(
        ffmpeg, [("eng", path)], tmp_path / "subs", max_bytes=1 << 20, timeout_s=60
    )
    assert [c.text for c in parse_webvtt(out[0][1].read_text())] == ["fine"]


def test_the_video_encoded_is_the_film_not_its_cover() -> None:
    """ffmpeg's v:N counts cover pictures; a Matroska file keeps its cover as an MJPEG track."""

    def video(codec: str, size: int, *, cover: bool = False) -> dict[str, object]:
        return {
            "codec_type": "video",
            "codec_name": codec,
            "width": size,
            "height": size,
            "avg_frame_rate": "25/1",
            "disposition": {"attached_pic": int(cover)},
        }

    streams = [video("png", 3000, cover=True), video("mjpeg", 2000), video("h264", 640)]
    info = parse_probe("matroska", {"streams": streams, "format": {"duration": "5"}})
    assert info.video is not None
    assert (info.video.codec, info.video.index) == ("h264", 2)
    two = [video("h264", 640), video("hevc", 1280), video("h264", 1280)]
    info = parse_probe("matroska", {"streams": two, "format": {"duration": "5"}})
    assert info.video is not None
    assert info.video.index == 1  # the largest picture, the first of equals
    assert not info.video.interlaced
    assert not info.video.hdr
    field = parse_probe("mpeg", {"streams": [{**two[0], "field_order": "bb"}], "format": {}})
    assert field.video is not None
    assert field.video.interlaced
    hlg = parse_probe("mov", {"streams": [{**two[0], "color_transfer": "arib-std-b67"}]})
    assert hlg.video is not None
    assert hlg.video.hdr
    only_covers = [video("png", 300, cover=True)]
    assert parse_probe("mov", {"streams": only_covers, "format": {}}).video is None


@pytest.mark.parametrize(
    ("profile", "compatibility", "own_colours"),
    [(5, 0, True), (10, 0, True), (8, 1, False), (8, 4, False), (7, 6, False), (10, 1, False)],
)
def test_dolby_vision_in_its_own_colours_is_told_apart(
    profile: int, compatibility: int, own_colours: bool
) -> None:
    record = {
        "side_data_type": "DOVI configuration record",
        "dv_profile": profile,
        "dv_bl_signal_compatibility_id": compatibility,
    }
    stream = {"codec_type": "video", "codec_name": "hevc", "width": 64, "height": 64}
    stream |= {"avg_frame_rate": "25/1", "side_data_list": [{"rotation": 0}, record]}
    info = parse_probe("mov", {"streams": [stream], "format": {"duration": "2"}})
    assert info.video is not None
    assert info.video.dolby_vision_only == own_colours
    if own_colours:
        with pytest.raises(InvalidMedia, match="Dolby Vision"):
            require_video(info)
    else:
        require_video(info)


@pytest.mark.parametrize(
    ("average", "clock", "constant"),
    [("95/12", "100/1", 95 / 12), ("30/1", "60/1", None), ("24/1", "24/1", None)],
    ids=["gif", "screen-recording", "film"],
)
def test_frames_on_a_fast_uneven_clock_are_made_constant(
    average: str, clock: str, constant: float | None
) -> None:
    stream = {"codec_type": "video", "codec_name": "gif", "width": 64, "height": 64}
    stream |= {"avg_frame_rate": average, "r_frame_rate": clock}
    info = parse_probe("gif", {"streams": [stream], "format": {"duration": "3"}})
    assert info.video is not None
    assert info.video.constant_rate == (pytest.approx(constant) if constant else None)


def test_a_timeline_is_read_from_packet_times() -> None:
    # decode order (B-frames: presentation times out of order), unknown fields, noise
    lines = ["0.000,0.033", "0.100,0.033", "0.033,0.033", "0.067,0.033", "N/A,N/A", "x", ""]
    timeline = timeline_of([*lines, "0.133,0.033"])
    assert timeline.frames == 5
    assert timeline.duration_s == pytest.approx(0.166)
    assert timeline.frame_rate == pytest.approx(4 / 0.133)
    no_lengths = timeline_of(["1.0,N/A", "1.5,N/A", "2.0,N/A"])  # the last lasts a frame
    assert no_lengths.duration_s == pytest.approx(1.5)
    assert no_lengths.frame_rate == 2.0
    assert timeline_of([]).frames == 0
    assert timeline_of(["5.0,N/A"]).duration_s == 0.0


def test_a_source_that_declares_no_duration_is_measured(
    ffmpeg: str, ffprobe: str, tmp_path: Path
) -> None:
    """Matroska written to a pipe, as an encoder streaming to a file does: no duration."""
    made = subprocess.run(
        [
            ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc=s=160x120:r=25:d=3",
            "-c:v", "libx264", "-preset", "ultrafast", "-f", "matroska", "-",
        ],
        check=True, capture_output=True, timeout=60, env=tool_env(),
    )  # fmt: skip
    path = tmp_path / "piped.mkv"
    path.write_bytes(made.stdout)
    assert probe_file(ffprobe, path, "matroska").duration_s == 0  # nothing declared
    plan = plan_encode(LocalInputs(path), ffprobe=ffprobe, ladder=LadderPolicy())
    assert plan.source.duration_s == pytest.approx(3.0, abs=0.05)
    assert plan.source.video is not None
    assert plan.source.video.measured
    assert plan.source.video.frame_rate == pytest.approx(25.0, abs=0.1)
