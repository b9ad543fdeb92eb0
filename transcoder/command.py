"""Build the single ffmpeg command that decodes a source once and encodes every rendition.

Pure: argv lists only. Every input gets a forced demuxer and a local-only protocol whitelist.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from transcoder.ladder import PlannedRendition
from transcoder.probe import PROTOCOLS
from transcoder.thumbnails import ThumbnailPlan, filter_chains, output_args


@dataclass(frozen=True, slots=True)
class InputFile:
    path: Path
    demuxer: str


@dataclass(frozen=True, slots=True)
class AudioOutput:
    """An audio rendition: stream `stream_index` of input `input_index`, as AAC-LC stereo."""

    name: str
    language: str
    input_index: int
    stream_index: int


@dataclass(frozen=True, slots=True)
class EncodeOptions:
    segment_duration_s: float = 4.0
    frame_rate: float = 30.0
    x264_preset: str = "veryfast"
    audio_bitrate_bps: int = 128_000
    threads: int = 0
    source_size: tuple[int, int] | None = None
    thumbnails: ThumbnailPlan | None = None  # also write a poster and a storyboard
    video_stream: int = 0  # which of the source's video streams (ffmpeg's v:N) to encode
    # frames at this constant rate: for a source whose stream declares no rate (a browser's
    # MediaRecorder WebM says 1000, its clock's), which x264 would take for the real one and
    # signal a level (5.1 for 360p) that devices are entitled to refuse
    constant_rate: float | None = None
    interlaced: bool = False  # deinterlace (frames flagged interlaced)
    hdr: bool = False  # tone-map HDR (PQ or HLG) to SDR BT.709
    # the length every rendition is cut or padded to, from the file's start: the video, by
    # showing its first picture for `video_lead_s` before it starts and repeating its last
    # for `video_pad_s`; the audio, with silence before it starts and after it ends
    length_s: float | None = None
    video_pad_s: float = 0.0
    video_lead_s: float = 0.0


def _hls_output(out_dir: Path, name: str, segment_duration_s: float) -> list[str]:
    rendition_dir = out_dir / name
    return [
        "-f",
        "hls",
        "-hls_time",
        f"{segment_duration_s:g}",
        "-hls_playlist_type",
        "vod",
        "-hls_segment_type",
        "fmp4",
        "-hls_fmp4_init_filename",
        "init.mp4",
        "-start_number",
        "0",
        "-hls_segment_filename",
        str(rendition_dir / "%d.m4s"),
        str(rendition_dir / "index.m3u8"),
    ]


def scale_graph(
    renditions: tuple[PlannedRendition, ...],
    source_size: tuple[int, int] | None = None,
    thumbnails: ThumbnailPlan | None = None,
    video_stream: int = 0,
    interlaced: bool = False,
    hdr: bool = False,
    hold: tuple[float, float, float] | None = None,
) -> str:
    """Decode once, then scale in a cascade (each rung from the one above it, best first):
    every scaler reads the smallest picture that still has enough detail, which costs less
    CPU than scaling every rung from the full-size source. A rung the size of the source is
    not scaled at all. With thumbnails, the top rung's pictures also feed the poster and the
    smallest rung's the storyboard. An interlaced source is deinterlaced first (each frame
    flagged interlaced, a frame for a frame), before any scaler mixes its two fields; an HDR
    one is tone-mapped to SDR once, before the cascade. `hold` (frame rate, lead, tail in
    seconds): a video that starts after its sound or ends before it is shown from the file's
    start to the end of the sound, its first and last pictures repeated at that rate."""
    parts: list[str] = []
    first = ([DEINTERLACE] if interlaced else []) + ([TONE_MAP] if hdr else [])
    if hold is not None:
        first.append(hold_filter(*hold))
    current = f"[0:v:{video_stream}]" + "".join(f"{f}," for f in first)
    for i, r in enumerate(renditions):
        last = i == len(renditions) - 1
        scale = (
            "null"
            if source_size == (r.width, r.height)
            else f"scale={r.width}:{r.height}:flags=bicubic"
        )
        chain = f"{current}{scale},setsar=1,format=yuv420p"
        outputs = [f"[v{i}]"] + ([] if last else [f"[c{i}]"])
        if thumbnails is not None:
            outputs += (["[tp]"] if i == 0 else []) + (["[ts]"] if last else [])
        split = f",split={len(outputs)}" if len(outputs) > 1 else ""
        parts.append(f"{chain}{split}{''.join(outputs)}")
        current = f"[c{i}]"
    if thumbnails is not None and renditions:
        parts.append(filter_chains(thumbnails, "tp", "ts"))
    return ";".join(parts)


DEINTERLACE = "bwdif=mode=send_frame:parity=auto:deint=interlaced"
# PQ or HLG to SDR BT.709: to linear light (100 nits the reference white), to BT.709
# primaries, Hable's curve for the highlights, then BT.709's transfer in limited range. Every
# device shows the result as it was meant; 8-bit H.264 labelled HDR is shown right only by
# players that tone-map themselves, and bands where they do.
TONE_MAP = (
    "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,"
    "tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv420p"
)


def hold_filter(frame_rate: float, lead_s: float, tail_s: float) -> str:
    """Frames at a constant `frame_rate` from the file's start: the first picture repeated
    until the video starts (`lead_s` > 0), the last for `tail_s` after it ends (tpad counts
    the clones by the link's rate, which a variable-rate source leaves at its clock's)."""
    rate = f"fps={frame_rate:.3f}" + (":start_time=0" if lead_s > 0 else "")
    return rate + (f",tpad=stop_mode=clone:stop_duration={tail_s:.3f}" if tail_s > 0 else "")


def _constant_rate(rate: float | None) -> tuple[str, ...]:
    return ("-fps_mode", "cfr", "-r", f"{rate:.3f}") if rate else ()


# audio from its file's (or contribution's) start: silence until its first sample. ffmpeg would
# otherwise start the output with that sample, ahead of the picture by as long as the sound
# came after it
SOUND_FROM_START = "aresample=first_pts=0"


def _length(length_s: float | None) -> tuple[str, ...]:
    """Audio from the file's start, then cut or padded with silence to `length_s`."""
    if not length_s:
        return ()
    fit = f"{SOUND_FROM_START},apad=whole_dur={length_s:.3f}"
    return ("-af", fit, "-t", f"{length_s:.3f}")


def output_names(renditions: tuple[PlannedRendition, ...], audio: list[AudioOutput]) -> list[str]:
    """The folders ffmpeg writes into (it does not create them itself)."""
    return [r.name for r in renditions] + [a.name for a in audio]


def _input(source: InputFile) -> list[str]:
    return ["-protocol_whitelist", PROTOCOLS, "-f", source.demuxer, "-i", str(source.path)]


def build_transcode_argv(
    ffmpeg: str,
    inputs: list[InputFile],
    renditions: tuple[PlannedRendition, ...],
    audio: list[AudioOutput],
    out_dir: Path,
    options: EncodeOptions,
) -> list[str]:
    """One process: `split` the decoded video once, scale and encode each rung, plus audio."""
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error"]
    for source in inputs:
        argv += _input(source)
    thumbnails = options.thumbnails if renditions else None
    graph = scale_graph(
        renditions,
        options.source_size,
        thumbnails,
        options.video_stream,
        options.interlaced,
        options.hdr,
        (options.frame_rate, options.video_lead_s, options.video_pad_s)
        if options.video_pad_s > 0 or options.video_lead_s > 0
        else None,
    )
    argv += ["-filter_complex", graph]
    seg = options.segment_duration_s
    # Keyframes exactly on every segment boundary, identical in every rung, so players can
    # switch at any segment (RFC 8216 §4.3.2.4 EXT-X-INDEPENDENT-SEGMENTS).
    gop = max(1, math.ceil(options.frame_rate * seg))
    for i, r in enumerate(renditions):
        argv += [
            "-map",
            f"[v{i}]",
            "-an",
            "-sn",
            "-dn",
            "-c:v",
            "libx264",
            "-preset",
            options.x264_preset,
            "-profile:v",
            "high",
            "-b:v",
            str(r.bitrate_bps),
            "-maxrate",
            str(r.maxrate_bps),
            "-bufsize",
            str(r.bufsize_bits),
            "-g",
            str(gop),
            "-keyint_min",
            str(gop),
            "-sc_threshold",
            "0",
            "-force_key_frames",
            f"expr:gte(t,n_forced*{seg:g})",
            *_constant_rate(options.constant_rate),
            "-threads",
            str(options.threads),
            *_hls_output(out_dir, r.name, seg),
        ]
    for a in audio:
        argv += [
            "-map",
            f"{a.input_index}:a:{a.stream_index}",
            "-vn",
            "-sn",
            "-dn",
            "-c:a",
            "aac",
            "-profile:a",
            "aac_low",
            "-b:a",
            str(options.audio_bitrate_bps),
            "-ac",
            "2",
            "-ar",
            "48000",
            "-metadata:s:a:0",
            f"language={a.language}",
            *_length(options.length_s),
            *_hls_output(out_dir, a.name, seg),
        ]
    if thumbnails is not None:
        argv += output_args(out_dir)
    argv += ["-progress", "pipe:1", "-nostats"]
    return argv
