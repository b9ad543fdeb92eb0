"""The single ffmpeg command: one decode, split to every rung, aligned keyframes, safe inputs."""

from __future__ import annotations

from pathlib import Path

from transcoder.command import AudioOutput, EncodeOptions, InputFile, build_transcode_argv
from transcoder.ladder import LadderPolicy, plan_ladder
from transcoder.probe import VideoStream


def argv(
    video_stream: int = 0,
    constant_rate: float | None = None,
    interlaced: bool = False,
    hdr: bool = False,
    length_s: float | None = None,
    video_pad_s: float = 0.0,
    video_lead_s: float = 0.0,
) -> list[str]:
    rungs = plan_ladder(VideoStream(1920, 1080, 30.0, "h264", 20.0), LadderPolicy())
    return build_transcode_argv(
        "ffmpeg",
        [InputFile(Path("/in/src"), "mov"), InputFile(Path("/in/fra"), "wav")],
        rungs,
        [AudioOutput("audio-eng", "eng", 0, 0), AudioOutput("audio-fra", "fra", 1, 0)],
        Path("/out"),
        EncodeOptions(
            segment_duration_s=4,
            frame_rate=30,
            source_size=(1920, 1080),
            video_stream=video_stream,
            constant_rate=constant_rate,
            interlaced=interlaced,
            hdr=hdr,
            length_s=length_s,
            video_pad_s=video_pad_s,
            video_lead_s=video_lead_s,
        ),
    )


def test_every_input_has_a_forced_demuxer_and_local_protocols_only() -> None:
    args = argv()
    inputs = [i for i, a in enumerate(args) if a == "-i"]
    assert len(inputs) == 2
    for i in inputs:
        assert args[i - 2] == "-f"
        assert args[i - 4 : i - 2] == ["-protocol_whitelist", "file,pipe"]


def test_one_decode_scaled_in_a_cascade_to_every_rung() -> None:
    args = argv()
    graph = args[args.index("-filter_complex") + 1]
    assert graph.startswith("[0:v:0]null,setsar=1")  # the 1080p rung is the source's size
    assert "[c0]scale=1280:720" in graph
    assert "[c1]scale=854:480" in graph
    assert "[c2]scale=640:360" in graph
    assert graph.count("[0:v:0]") == 1  # decoded once
    assert [f"[v{i}]" in graph for i in range(4)] == [True] * 4
    assert args.count("libx264") == 4


def test_keyframes_on_every_segment_boundary_in_every_rung() -> None:
    args = argv()
    assert args.count("expr:gte(t,n_forced*4)") == 4
    assert args.count("-sc_threshold") == 4
    gops = [args[i + 1] for i, a in enumerate(args) if a == "-g"]
    assert gops == ["120"] * 4


def test_outputs_are_fmp4_hls_per_rendition() -> None:
    args = argv()
    assert args.count("fmp4") == 6
    assert "/out/720p/index.m3u8" in args
    assert "/out/audio-fra/index.m3u8" in args
    assert "1:a:0" in args
    assert args[-3:] == ["-progress", "pipe:1", "-nostats"]


def test_audio_is_aac_lc_stereo() -> None:
    args = argv()
    assert args.count("aac_low") == 2
    assert [args[i + 1] for i, a in enumerate(args) if a == "-ac"] == ["2", "2"]


def test_the_chosen_video_stream_is_decoded_and_a_measured_rate_made_constant() -> None:
    assert "[0:v:0]" in argv()[argv().index("-filter_complex") + 1]
    assert "-fps_mode" not in argv()
    args = argv(video_stream=2, constant_rate=29.986)
    graph = args[args.index("-filter_complex") + 1]
    assert graph.startswith("[0:v:2]")
    assert "[0:v:0]" not in graph
    rungs = args.count("libx264")
    assert rungs > 1
    assert " ".join(args).count("-fps_mode cfr -r 29.986") == rungs  # video outputs only


def test_an_interlaced_source_is_deinterlaced_once_before_any_scaler() -> None:
    assert "bwdif" not in argv()[argv().index("-filter_complex") + 1]
    args = argv(interlaced=True)
    graph = args[args.index("-filter_complex") + 1]
    assert graph.startswith("[0:v:0]bwdif=mode=send_frame:parity=auto:deint=interlaced,")
    assert graph.count("bwdif") == 1


def test_an_hdr_source_is_tone_mapped_once_after_deinterlacing() -> None:
    assert "tonemap" not in argv()[argv().index("-filter_complex") + 1]
    args = argv(interlaced=True, hdr=True)
    graph = args[args.index("-filter_complex") + 1]
    assert graph.startswith("[0:v:0]bwdif=")
    assert graph.count("tonemap=tonemap=hable") == 1
    assert graph.index("bwdif") < graph.index("tonemap") < graph.index("setsar")


def test_a_short_picture_is_held_and_every_sound_cut_or_padded_to_one_length() -> None:
    plain = argv()
    assert "tpad" not in plain[plain.index("-filter_complex") + 1]
    assert "-t" not in plain
    args = argv(hdr=True, length_s=12.0, video_pad_s=9.5)
    graph = args[args.index("-filter_complex") + 1]
    assert graph.count("fps=30.000,tpad=stop_mode=clone:stop_duration=9.500") == 1
    assert graph.index("tonemap") < graph.index("tpad") < graph.index("setsar")
    audio_outputs = " ".join(args).count("-c:a aac")
    fit = "-af aresample=first_pts=0,apad=whole_dur=12.000 -t 12.000"
    assert " ".join(args).count(fit) == audio_outputs == 2


def test_a_late_picture_is_held_from_the_files_start() -> None:
    args = argv(length_s=12.0, video_lead_s=2.0)
    graph = args[args.index("-filter_complex") + 1]
    assert graph.startswith("[0:v:0]fps=30.000:start_time=0,")
    assert "tpad" not in graph
    both = argv(length_s=12.0, video_lead_s=2.0, video_pad_s=1.0)
    graph = both[both.index("-filter_complex") + 1]
    assert "fps=30.000:start_time=0,tpad=stop_mode=clone:stop_duration=1.000" in graph
