"""Live helpers for tests: a free UDP port for an SRT listener, a live encoder, an ingest
running in a thread, and a recording's duration as ffprobe reads it."""

from __future__ import annotations

import signal
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from manifests.catalog import Catalog
from manifests.live_streams import LiveStream
from storage import Storage
from tests.support.servers import free_port
from transcoder.live_ingest import IngestConfig, run_live
from transcoder.live_receive import StreamKey
from transcoder.tools import tool_env

# a phone's HLG, as an encoder labels it
HLG = ["-color_primaries", "bt2020", "-color_trc", "arib-std-b67", "-colorspace", "bt2020nc"]


def live_env(**more: str) -> dict[str, str]:
    """An origin's environment for live tests: no transcode workers, a free ingest port, one
    small rung encoded fast; `more` on top."""
    return {
        "MEDIACDN_WORKERS": "0",
        "MEDIACDN_LIVE_PORTS": str(free_port()),
        "MEDIACDN_LIVE_LADDER": "360:800",
        "MEDIACDN_X264_PRESET": "ultrafast",
        **more,
    }


def push(
    ffmpeg: str,
    url: str,
    seconds: float,
    *,
    audio: bool = True,
    fps: int = 30,
    size: str = "640x360",
    languages: tuple[str, ...] = (),
    hlg: bool = False,
    muxer: tuple[str, ...] = (),
) -> subprocess.Popen[bytes]:
    """A live encoder: a test pattern of `size` (with a tone unless not `audio`; with
    `languages`, an audio track of a tone of its own tagged with each; as a phone's HLG, 10-bit
    HEVC labelled BT.2020, if `hlg`), in real time, as
    MPEG-TS over SRT or FLV over RTMP (by the URL's scheme); over HTTP, a URL ending in
    `.m3u8` gets ffmpeg's hls muxer (fMP4 segments of 1 s PUT one by one, then the
    playlists), one ending in `.mpd` its dash muxer (each track on its own: an init segment
    and 1 s segments per track, then the MPD), one ending in `.ts` MPEG-TS in one long chunked
    PUT, any other one fragmented MP4 in one long chunked PUT; `muxer`: more of the muxer's
    options."""
    pattern = f"testsrc2=size={size}:rate={fps}:duration={seconds}"
    sources = ["-re", "-f", "lavfi", "-i", pattern]
    tones = max(1, len(languages)) if audio else 0
    for n in range(1, tones + 1):
        sources += ["-re", "-f", "lavfi", "-i", f"sine=frequency={440 * n}:duration={seconds}"]
    encode = ["-map", "0:v"] if languages else []
    for k, language in enumerate(languages):
        encode += ["-map", f"{k + 1}:a", f"-metadata:s:a:{k}", f"language={language}"]
    if hlg:
        encode += ["-vf", "format=yuv420p10le", "-c:v", "libx265", "-preset", "ultrafast"]
        encode += ["-x265-params", f"log-level=error:keyint={fps}", *HLG]
    else:
        encode += ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency"]
        encode += ["-g", str(fps)]
    encode += ["-c:a", "aac"] if audio else []
    if url.endswith(".m3u8"):
        encode += ["-f", "hls", "-hls_time", "1", "-hls_segment_type", "fmp4", "-method", "PUT"]
    elif url.endswith(".mpd"):
        encode += ["-f", "dash", "-seg_duration", "1", "-method", "PUT"]
    elif url.startswith("http") and url.endswith(".ts"):
        encode += ["-f", "mpegts", "-method", "PUT"]
    elif url.startswith("http"):
        encode += ["-f", "mp4", "-movflags", "frag_keyframe+empty_moov", "-method", "PUT"]
    else:
        encode += ["-f", "flv" if url.startswith("rtmp:") else "mpegts"]
    encode += [*muxer, url]
    return subprocess.Popen(
        [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", *sources, *encode],
        env=tool_env(),
        stderr=subprocess.DEVNULL,
    )


def stop_encoder(encoder: subprocess.Popen[bytes]) -> None:
    """Stop a live encoder whose broadcast is over. One cut off by the origin would find out
    only at its SRT peer idle timeout, about 5 s later."""
    encoder.kill()
    encoder.wait(10)


@dataclass
class Ingest:
    """A broadcast's ingest in a thread: `result` gets what `run_live` returned."""

    thread: threading.Thread
    stop: threading.Event
    result: list[bool] = field(default_factory=list)

    def ended_with(self, encoder: subprocess.Popen[bytes], *, stop: bool = False) -> bool:
        """Once `encoder` has finished (cleanly), whether the ingest ended with a broadcast
        (`stop`: ended at once, as the stream's deletion ends it, not after the wait for the
        encoder to come back). ffmpeg as an SRT caller was seen to abort (SIGABRT) once, in a
        loaded run of the whole suite, after a broadcast the ingest had packaged whole (libsrt
        within libav is known to crash so at exit): that is the test's encoder, not what is
        tested, so an abort counts as finished; what the ingest made of the broadcast is what
        counts."""
        if encoder.wait(30) not in (0, -signal.SIGABRT):
            return False
        if stop:
            time.sleep(1.0)  # its last frames are packaged
            self.stop.set()
        self.thread.join(30)
        return self.result == [True]


@contextmanager
def ingesting(
    stream: LiveStream,
    catalog: Catalog,
    storage: Storage,
    config: IngestConfig,
    on_update: Callable[[str], None] = lambda _: None,
    key: StreamKey | None = None,
) -> Iterator[Ingest]:
    """`run_live` in a thread for the block; stopped (and joined) when it ends. `key`: the
    stream's key, to replace while it runs."""
    stop = threading.Event()
    ingest = Ingest(threading.Thread(), stop)
    ingest.thread = threading.Thread(
        target=lambda: ingest.result.append(
            run_live(stream, catalog, storage, config, stop, on_update, key=key)
        )
    )
    ingest.thread.start()
    try:
        yield ingest
    finally:
        stop.set()
        ingest.thread.join(30)


def dash_tracks(ffmpeg: str, out: Path, seconds: int, sounds: int = 1) -> list[list[bytes]]:
    """What ffmpeg's dash muxer writes for `seconds` of a test pattern with a tone (`sounds`
    tones, each a track), per track (video, then audio): its init segment, then its 1 s
    segments. Every track has track_ID 1, as the dash muxer writes them."""
    sources = ["-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=30:duration={seconds}"]
    for n in range(1, sounds + 1):
        sources += ["-f", "lavfi", "-i", f"sine=frequency={440 * n}:duration={seconds}"]
    encode = [arg for n in range(sounds + 1) for arg in ("-map", f"{n}:0")]
    encode += ["-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-c:a", "aac"]
    subprocess.run(
        [ffmpeg, "-v", "error", *sources, *encode, "-f", "dash", "-seg_duration", "1", "x.mpd"],
        cwd=out,
        env=tool_env(),
        check=True,
        timeout=60,
    )
    return [
        [(out / f"init-stream{track}.m4s").read_bytes()]
        + [p.read_bytes() for p in sorted(out.glob(f"chunk-stream{track}-*.m4s"))]
        for track in range(sounds + 1)
    ]


def marked_last(segment: bytes) -> bytes:
    """`segment` marked as its track's last, as DASH-IF ingest encoders end a track: `lmsg`
    among its styp's compatible brands (a styp put first if it has none)."""
    size, kind = struct.unpack_from(">I4s", segment)
    if kind != b"styp":  # one of its own first
        styp = struct.pack(">I4s", 20, b"styp") + b"msdh" + bytes(4) + b"msdh"
        size, segment = 20, styp + segment
    return struct.pack(">I4s", size + 4, b"styp") + segment[8:size] + b"lmsg" + segment[size:]


def media_duration(ffprobe: str, url: str) -> float:
    """The duration ffprobe reads from a playlist (a file or a URL)."""
    probe = ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", url]
    done = subprocess.run(
        [ffprobe, *probe], capture_output=True, text=True, env=tool_env(), timeout=60, check=True
    )
    return float(done.stdout.strip())


def _first_video(ffprobe: str, path: Path, entries: str) -> str:
    """ffprobe's `entries` of the first video stream, comma-separated."""
    probe = ["-v", "error", "-select_streams", "v:0", "-show_entries", f"stream={entries}"]
    done = subprocess.run(
        [ffprobe, *probe, "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        env=tool_env(),
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def picture_size(ffprobe: str, path: Path) -> tuple[int, int]:
    """The first video stream's width and height."""
    width, _, height = _first_video(ffprobe, path, "width,height").partition(",")
    return int(width), int(height)


def luma_range(ffmpeg: str, path: Path, crop: str = "null", at_s: float = 0) -> tuple[int, int]:
    """The darkest and brightest luma of the video frame `at_s` into `path` (within `crop`, a
    filter)."""
    first = ["-frames:v", "1", "-vf", f"{crop},format=gray", "-f", "rawvideo", "pipe:1"]
    done = subprocess.run(
        [ffmpeg, "-v", "error", "-ss", str(at_s), "-i", str(path), *first],
        capture_output=True,
        env=tool_env(),
        timeout=60,
        check=True,
    )
    return min(done.stdout), max(done.stdout)


def frame_rate(ffprobe: str, path: Path) -> float:
    """The first video stream's average frame rate."""
    numerator, _, denominator = _first_video(ffprobe, path, "avg_frame_rate").partition("/")
    return float(numerator) / float(denominator or 1)
