"""A contribution pushed over HTTP: the bodies an encoder PUTs or POSTs (CMAF/fragmented MP4,
or MPEG-TS: whatever ffmpeg can read from a pipe) are written, one request after another, to
the stdin of the stream's receiving ffmpeg. A request that comes while another is being
received is refused: an encoder sends its files one after another, so it is a second encoder.

An encoder may push one long request (`ffmpeg ... -f mp4 -movflags
frag_keyframe+empty_moov -method PUT URL`) or a file per request (ffmpeg's `hls` muxer with
`-hls_segment_type fmp4 -method PUT`: the init segment, then each media segment, with a
playlist after each). Playlists carry no media: they are read only for `#EXT-X-ENDLIST`, which
ends the broadcast at once. Otherwise it ends `IDLE_S` after its last request ended with no
new one (that wait is its reconnect wait), so an encoder that vanished ends its broadcast, and
a pause between two segments does not. A new init segment (an encoder started again) ends the
feed but not the broadcast: the next receiver continues it."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import IO

IDLE_S = 8.0  # longer than any segment an encoder PUTs (they are at most ~6 s long)
WATCH_S = 0.25
MANIFEST_SUFFIXES = (".m3u8", ".mpd")
ENDLIST = b"#EXT-X-ENDLIST"


def is_manifest(name: str) -> bool:
    """Whether a pushed name is a playlist or manifest (no media)."""
    return name.lower().endswith(MANIFEST_SUFFIXES)


class PushFeed:
    """The stdin of one receiver. `write` blocks while the receiver is behind (backpressure
    to the encoder's request); it returns False once the feed has ended."""

    def __init__(self, pipe: IO[bytes], idle_s: float = IDLE_S) -> None:
        self._pipe = pipe
        self._lock = threading.Lock()
        self.idle_s = idle_s
        self.received = 0  # media bytes written
        self._last_end = time.monotonic()
        self.ended = threading.Event()
        self.final = False  # the broadcast ends with this feed: no waiting for a reconnect
        self._turn = threading.Lock()  # held while a request's body is received
        threading.Thread(target=self._watch, daemon=True, name="live-push-idle").start()

    def begin(self) -> bool:
        """A request's body starts (then call `finish_request` after it, whatever happens);
        False while another request is being received: one encoder at a time, and an encoder
        sends its files one after another."""
        return self._turn.acquire(blocking=False)

    def finish_request(self) -> None:
        with self._lock:
            self._last_end = time.monotonic()
        self._turn.release()

    def write(self, data: bytes) -> bool:
        if self.ended.is_set():
            return False
        try:
            self._pipe.write(data)
            self._pipe.flush()
        except (BrokenPipeError, ValueError, OSError):  # the receiver is gone
            self.end()
            return False
        self.received += len(data)
        return True

    def end(self, final: bool = False) -> None:
        """The contribution is over: the receiver reads to the end of what it was given.
        `final`: so is the broadcast (the encoder said so, or stayed away `idle_s`), rather
        than an encoder starting again."""
        if self.ended.is_set():
            return
        self.final = final
        self.ended.set()
        with contextlib.suppress(BrokenPipeError, OSError):
            self._pipe.close()

    def _watch(self) -> None:
        while not self.ended.wait(WATCH_S):
            with self._lock:
                idle = not self._turn.locked() and time.monotonic() - self._last_end > self.idle_s
            if idle and self.received:
                self.end(final=True)


class PushSlot:
    """Where a stream's pushed requests go: the feed of its HTTP receiver, while one runs."""

    def __init__(self, stream_key: str) -> None:
        self.stream_key = stream_key
        self.feed: PushFeed | None = None
        self.on_air_by: str | None = None  # the protocol of the encoder on air, if any
