"""The ffmpeg commands of a live stream (pure). A receiver per protocol listens for the
encoder's contribution (SRT on the stream's UDP port, RTMP on its TCP port) and passes its
streams through unchanged; the transcoder decodes that once, encodes a ladder of
video rungs (never above the source: a rung's shorter side is at most the source's) with keyframes
on every segment boundary, plus AAC audio if the contribution has any, and writes each
rendition as fragmented MP4 to its own pipe, one fragment per part."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from urllib.parse import urlencode

from transcoder.command import DEINTERLACE, SOUND_FROM_START, TONE_MAP
from transcoder.ladder import LadderPolicy, rung_size
from transcoder.live_colour import Colour, conversion, labelled, made_colour

RTMP_APP = "live"
INTERLEAVE_US = 50_000  # the receiver holds a stream's packets for the other's at most this
GOP_CAP = 1000  # frames; keyframes come from -force_key_frames, on segment boundaries
AUDIO_RATE = 48_000  # Hz: the live AAC audio, silence included
AAC_FRAME = Fraction(1024, AUDIO_RATE)  # seconds: AAC codes 1024 samples a frame
SILENCE = f"anullsrc=channel_layout=stereo:sample_rate={AUDIO_RATE}"
EVEN_RATE_SHARE = 0.8  # a fraction of a fast contribution's rate is kept down to this share
MAX_AUDIO_TRACKS = 8  # a contribution's audio tracks broadcast (languages, commentary)
PART_FILL = 0.9  # a fragment is cut once it holds this share of a part: no part overruns
# fragmented MP4 for a pipe: the init segment first (empty moov), self-contained fragments
FRAGMENTED = "empty_moov+default_base_moof+frag_keyframe"


@dataclass(frozen=True, slots=True)
class LiveRung:
    name: str
    max_height: int
    bitrate_bps: int


@dataclass(frozen=True, slots=True)
class LiveEncode:
    segment_s: float
    part_s: float
    rungs: tuple[LiveRung, ...]
    audio_bitrate_bps: int = 128_000
    x264_preset: str = "veryfast"
    max_fps: int = 30  # a faster contribution is encoded at most at this rate (output_fps)
    maxrate_ratio: float = 1.07
    bufsize_ratio: float = 1.0  # a short VBV buffer keeps parts even


@dataclass(frozen=True, slots=True)
class KeptPicture:
    """What a broadcast's video renditions are made as, kept for an encoder that comes back
    with another picture (a new size, shape or frame rate): each rung's width and height, in
    the ladder's order, and the frame rate (None: not known). The new picture is fitted into
    each size, its shape kept (bars on the sides or above and below), and made at that
    rate, so that every rendition's init segment stays the same and players go on; and the
    colours they say they have (None: each picture's own), which the new picture is made in
    and labelled with."""

    sizes: tuple[tuple[int, int], ...]
    fps: float | None
    colour: Colour | None = None


def live_rungs(ladder: LadderPolicy, most: int = 3) -> tuple[LiveRung, ...]:
    """The live ladder: the ladder's `most` best rungs (live costs CPU in real time)."""
    return tuple(LiveRung(f"{r.height}p", r.height, r.bitrate_bps) for r in ladder.rungs[:most])


def srt_listener_url(host: str, port: int, passphrase: str, latency_ms: int = 120) -> str:
    """Where ffmpeg waits for the encoder; the passphrase (the stream key) encrypts the
    stream, so an encoder without it is refused at the handshake."""
    query = {
        "mode": "listener",
        "passphrase": passphrase,
        "pbkeylen": "16",
        "latency": str(latency_ms * 1000),
    }
    return f"srt://{host}:{port}?{urlencode(query)}"


def srt_push_url(host: str, port: int, passphrase: str) -> str:
    """The URL an encoder pushes MPEG-TS to."""
    return f"srt://{host}:{port}?{urlencode({'passphrase': passphrase, 'pbkeylen': '16'})}"


def rtmp_url(host: str, port: int, key: str) -> str:
    """Where an RTMP encoder publishes (OBS: server `rtmp://host:port/live`, stream key the
    key) and ffmpeg's RTMP server waits. That server takes any stream name: the receiver
    checks the one the encoder publishes (transcoder/live_receive.py)."""
    return f"rtmp://{host}:{port}/{RTMP_APP}/{key}"


def receive_argv(ffmpeg: str, protocol: str, url: str) -> list[str]:
    """A receiver: waits for one encoder at `url` and copies its first video stream and its
    audio streams (if any; those it found a packet of in the contribution's first second,
    `u`: a track that never starts, a commentary left empty, cannot be copied, and would
    take the others down with it) to stdout, at once.
    It prints the streams it found (`-v info`) when the encoder arrives; a second of the
    contribution is enough to know them. That second is passed on, not dropped (`-fflags
    nobuffer` would drop it): the transcoder then starts where the contribution does and
    catches up at once; dropped, every part came out about a second later (measured: 1.26 s
    after its media end instead of 0.36 s)."""
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-v", "info"]
    argv += ["-analyzeduration", "1000000", "-probesize", "1000000"]
    argv += ["-listen", "1"] if protocol == "rtmp" else []
    argv += ["-i", url, "-map", "0:v:0", "-map", "0:a:u?", "-c", "copy"]
    # NUT, not MPEG-TS: its header carries each stream's parameters, so the transcoder
    # knows them at once instead of probing the stream again. Packets go out as they come: an
    # encoder's MPEG-TS carries audio up to 0.7 s behind the video, and interleaving would
    # hold the video back that long. Pushed over HTTP, tracks may come a segment apart (each
    # track on its own): the first packets wait for every stream's, so that an audio track
    # starting before zero (AAC priming) is shifted with the rest, not refused by the muxer
    delta = 0 if protocol == "http" else INTERLEAVE_US
    argv += ["-max_interleave_delta", str(delta)]
    return [*argv, "-f", "nut", "-flush_packets", "1", "pipe:1"]


def video_part_frames(segment_s: float, part_s: float, fps: float) -> int:
    """How many frames a video part holds at `fps`: the most that fit in a part and divide a
    segment evenly, so that a segment is made of equal parts. A short last part (4 frames
    at 30 fps with 14-frame parts) is one players skip: hls.js looks for the next part
    within 0.25 s of where its buffer ends and jumps over a shorter one, then stalls at the
    hole. When no divisor comes close (a prime number of frames), as many as fit."""
    fit = max(1, math.floor(part_s * fps + 1e-6))
    frames = round(segment_s * fps)
    even = max(n for n in range(1, fit + 1) if frames % n == 0)
    return even if 2 * even >= fit else fit


def part_length_s(encode: LiveEncode, out_fps: float | None) -> float:
    """How long a stream's parts are, every rendition's, and so its playlists' part target:
    at a known frame rate `out_fps` (as encoded), a video part's whole frames that divide a
    segment evenly (`video_part_frames`: 0.4 s at 25 fps for 0.5 s parts), else the parts
    configured. Audio parts are cut to it too. RFC 8216bis 4.4.4.9: a part is at most the
    part target, and (but for the last of a segment or an independent one) at least 85% of
    it, which 0.4 s parts against a part target of 0.5 are not."""
    if not out_fps:
        return encode.part_s
    frames = video_part_frames(encode.segment_s, encode.part_s, out_fps)
    return math.ceil(frames / out_fps * 1_000_000 - 1e-3) / 1_000_000


@dataclass(frozen=True, slots=True)
class Picture:
    """A contribution's picture as ffmpeg describes it: its stored size and the shape of its
    pixels (an anamorphic 16:9 broadcast feed: 720×576, pixels 64:45 wide)."""

    width: int
    height: int
    sar: Fraction = Fraction(1)

    @property
    def shown_width(self) -> int:
        return round(self.width * self.sar)

    def __str__(self) -> str:
        wide = (
            f" (pixels {self.sar.numerator}:{self.sar.denominator} wide)" if self.sar != 1 else ""
        )
        return f"{self.width}x{self.height}{wide}"


def live_sizes(encode: LiveEncode, picture: Picture | None) -> tuple[tuple[int, int], ...]:
    """Each rung's width and height for `picture`, as an upload's ladder makes them: by its
    shorter side, the picture's shape as it is shown, never larger than it (a rung above
    the picture is made at its size). A picture not known: 16:9."""
    shown = (picture.shown_width, picture.height) if picture else (16, 9)
    smaller = min(shown) if picture else max(r.max_height for r in encode.rungs)
    return tuple(rung_size(min(r.max_height, smaller - smaller % 2), *shown) for r in encode.rungs)


def _fitted(width: int, height: int, scaling: str = "") -> str:
    """A picture of any size made `width`×`height`: scaled to fit with its shape kept, centred
    on black bars. Every rung is made so, from the first picture's sizes: a contribution
    whose picture changes on the way (an upright one after a landscape one) is fitted too,
    not stretched to the first one's shape. `scaling`: the scaler's further options (another
    YUV matrix: converted exactly, which its fast path is not, by 5 of 255 in red)."""
    fit_width = f"2*round(min({width},{height}*dar)/2)"  # dar: the shape it is shown at
    fit_height = f"2*round(min({height},{width}/dar)/2)"
    pad = f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2"
    flags = "bicubic+accurate_rnd+full_chroma_int" if scaling else "bicubic"
    return f"scale=w='{fit_width}':h='{fit_height}':flags={flags}{scaling},setsar=1,{pad}"


def output_fps(fps: float, max_fps: int) -> float:
    """The frame rate a contribution of `fps` is encoded at: its own up to `max_fps`; above,
    the largest whole fraction of it that is no more (50 → 25, 59.94 → 29.97, 120 → 30), so
    that every n-th frame is kept and motion stays even (30 from 50 keeps three frames of
    five: a judder); `max_fps` itself where that fraction is much slower (35 → 30, not 17.5)."""
    if fps <= max_fps:
        return fps
    even = fps / math.ceil(fps / max_fps - 1e-6)
    return even if even >= EVEN_RATE_SHARE * max_fps else max_fps


def _rational(fps: float) -> str:
    """A frame rate as ffmpeg's filters take it exactly: the NTSC rates (29.97, 59.94, 23.976,
    as ffmpeg prints them) as n×1000/1001, the rest as they are."""
    ntsc = round(fps * 1.001)
    if abs(fps - ntsc / 1.001) < 0.006 and abs(fps - ntsc) > 0.01:
        return f"{ntsc * 1000}/1001"
    return f"{fps:g}"


def _cut_us(part_s: float, frame_s: float | None = None) -> int:
    """ffmpeg's `frag_duration` (µs) for parts of at most `part_s`; with `frame_s` (video at a
    known rate), for parts of exactly `part_s // frame_s` frames. ffmpeg cuts a fragment before
    the first frame that is `frag_duration` or more after the fragment's start."""
    return int((part_s * PART_FILL if frame_s is None else part_s - frame_s / 2) * 1_000_000)


def audio_part_s(part_s: float) -> float:
    """How long the live encoder's audio parts are for parts of `part_s`: the whole AAC frames
    that begin within the cut."""
    frames = math.ceil(Fraction(_cut_us(part_s), 1_000_000) / AAC_FRAME)
    return float(frames * AAC_FRAME)


def _fragmented(part_s: float, fd: int, frame_s: float | None = None) -> list[str]:
    """Fragmented MP4 to `fd`, one fragment per part (`_cut_us`). None of the contribution's
    stream tags (a language, a handler's name) reach the init segment: an encoder that comes
    back, or silence in place of its sound, makes the same one (the language is the
    playlists')."""
    return [
        "-map_metadata:s",
        "-1",
        "-f",
        "mp4",
        "-flush_packets",  # each fragment reaches the pipe at once, not when a buffer fills
        "1",
        "-movflags",
        FRAGMENTED,
        "-frag_duration",
        str(_cut_us(part_s, frame_s)),
        f"pipe:{fd}",
    ]


def build_live_argv(
    ffmpeg: str,
    encode: LiveEncode,
    video_fds: list[int],
    audio_fds: list[int],
    fps: float | None = None,
    hdr: bool = False,
    interlaced: bool = False,
    keep: KeptPicture | None = None,
    sources: Sequence[int | None] | None = None,
    picture: Picture | None = None,
    colour: Colour | None = None,
) -> list[str]:
    """One process reading the receiver's output on stdin: every video rung to `video_fds`
    (in order), each audio track to its one of `audio_fds` (none: the broadcast has no
    audio). `fps`: the contribution's frame rate, if known (video parts then divide segments
    evenly). `hdr`: the contribution is HDR (PQ or HLG, a phone's usually): it is made the
    top rung's size, then tone-mapped to SDR BT.709 once, in real time at that size, before
    the rungs are scaled from it (8-bit H.264 labelled HDR is shown right only by players
    that tone-map).
    `interlaced`: the contribution's frames are interlaced (a broadcast feed's 1080i or
    576i): they are deinterlaced first, a frame for a frame, before any scaler mixes their
    two fields (else every rung shows combs on anything that moves). `keep`: the sizes and
    rate a broadcast's renditions were made at, for the encoder that continues it.
    `sources`: for each of `audio_fds`, the contribution's audio track made into it (None:
    each its own, in order), or None for silence made in real time (an encoder back without
    the sound the broadcast has, or with fewer tracks), a second input that never ends: the
    transcoder is stopped once the contribution has. `picture`: the contribution's, which
    sizes the rungs (unless kept). `colour`: what the contribution says of its colours, which
    are turned into the kept ones' YUV matrix where both say theirs."""
    if len(video_fds) != len(encode.rungs) or not encode.rungs:
        raise ValueError("one pipe per rung, and at least one rung")
    if keep is not None and len(keep.sizes) != len(encode.rungs):
        raise ValueError("a kept size per rung")
    out_fps = keep.fps if keep is not None else output_fps(fps, encode.max_fps) if fps else None
    # the contribution's frames as they come, unless there are too many or a kept rate
    rate = f",fps={_rational(out_fps)}" if out_fps and (keep or out_fps != fps) else ""
    sizes = keep.sizes if keep is not None else live_sizes(encode, picture)
    top = max(sizes, key=min)
    first = f"{DEINTERLACE}," if interlaced else ""
    first += f"{_fitted(*top)},{TONE_MAP}," if hdr else ""
    labels = [f"[s{i}]" for i in range(len(encode.rungs))]
    split = f"[0:v:0]{first}split={len(labels)}{''.join(labels)}" if len(labels) > 1 else ""
    kept = keep.colour if keep is not None else None
    scaling = conversion(made_colour(colour or Colour(), hdr), kept) if kept else ""
    label = f",{labelled(kept)}" if kept else ""
    chains = [
        f"{labels[i] if split else '[0:v:0]' + first}{_fitted(*size, scaling)}{rate}"
        f",format=yuv420p{label}[v{i}]"
        for i, size in enumerate(sizes)
    ]
    graph = ";".join(([split] if split else []) + chains)
    seg = f"{encode.segment_s:g}"
    part_s, frame_s = part_length_s(encode, out_fps), 1 / out_fps if out_fps else None
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-v", "error"]
    # the receiver has found the streams already, and NUT's header says what they are. What
    # the probe reads is kept and decoded (no `-fflags nobuffer`, which drops it): it is the
    # contribution's first keyframe, and without it nothing decodes until the next one (a
    # second later from an encoder with 1 s keyframes, never from one with a long GOP)
    argv += ["-analyzeduration", "0", "-probesize", "32"]
    argv += ["-f", "nut", "-i", "pipe:0"]
    tracks = list(range(len(audio_fds))) if sources is None else list(sources)
    if len(tracks) != len(audio_fds):
        raise ValueError("a source per audio pipe")
    silence = None in tracks
    argv += ["-re", "-f", "lavfi", "-i", SILENCE] if silence else []
    argv += ["-filter_complex", graph]
    for i, (r, fd) in enumerate(zip(encode.rungs, video_fds, strict=True)):
        argv += [
            "-map",
            f"[v{i}]",
            "-c:v",
            "libx264",
            "-preset",
            encode.x264_preset,
            "-fpsmax",
            str(encode.max_fps),
            "-tune",
            "zerolatency",
            "-b:v",
            str(r.bitrate_bps),
            "-maxrate",
            str(int(r.bitrate_bps * encode.maxrate_ratio)),
            "-bufsize",
            str(int(r.bitrate_bps * encode.bufsize_ratio)),
            "-g",
            str(GOP_CAP),
            "-sc_threshold",
            "0",
            "-force_key_frames",
            f"expr:gte(t,n_forced*{seg})",
            *_fragmented(part_s, fd, frame_s),
        ]
    for k, fd in zip(tracks, audio_fds, strict=True):
        argv += [
            "-map",
            "1:a:0" if k is None else f"0:a:{k}",
            "-af",
            SOUND_FROM_START,
            "-c:a",
            "aac",
            "-b:a",
            str(encode.audio_bitrate_bps),
            "-ac",
            "2",
            "-ar",
            str(AUDIO_RATE),
            *_fragmented(part_s, fd),
        ]
    return argv
