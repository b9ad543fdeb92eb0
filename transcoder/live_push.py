"""A contribution pushed over HTTP: the bodies an encoder PUTs or POSTs (CMAF/fragmented MP4,
or MPEG-TS: whatever ffmpeg can read from a pipe) are written, one request after another, to
the stdin of the stream's receiving ffmpeg. Tracks pushed separately (CMAF ingest: an init
segment and fragments per track, each track in its own requests) are joined into one stream
first (transcoder/cmaf_join.py); within a track, a request that comes while another is being
received is refused: an encoder sends a track's files one after another, so it is a second
encoder.

An encoder may push one long request (`ffmpeg ... -f mp4 -movflags
frag_keyframe+empty_moov -method PUT URL`), a file per request (ffmpeg's `hls` muxer with
`-hls_segment_type fmp4 -method PUT`: the init segment, then each media segment, with a
playlist after each), or each track on its own (ffmpeg's `dash` muxer with `-method PUT`, a
DASH-IF ingest encoder's long POST per track). Playlists and manifests carry no media: they are
read for their end (`#EXT-X-ENDLIST`, an MPD of `type="static"`), which ends the broadcast
at once, as does a segment marked as its track's last (`lmsg`) once every track had one; an
MPD also for its tracks' languages (`tell_tracks`).
A long request that ends (its init segment and its media in one body, or MPEG-TS, received
for longer than any file of a file-per-request push takes, ended by the encoder) ends the feed
once every track's has: the receiver is given its end at once, so the last frames are packaged and
listed now, and the broadcast waits its reconnect wait for the encoder to come back, as it
does for an RTMP or SRT encoder that leaves. Otherwise it ends `IDLE_S` after its last request
ended with no new one (that wait is its reconnect wait), so an encoder that vanished ends its
broadcast, and a pause between two segments does not. A new init segment for a track that had
media (an encoder started again) ends the feed but not the broadcast: the next receiver
continues it."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import IO

from transcoder.cmaf_join import JOIN_WAIT_S, TrackJoiner
from transcoder.fragments import FragmentError
from transcoder.pushed_boxes import PushedBoxes

log = logging.getLogger("mediacdn.live")
IDLE_S = 8.0  # longer than any segment an encoder PUTs (they are at most ~6 s long)
WATCH_S = 0.25
MANIFEST_SUFFIXES = (".m3u8", ".mpd")
ENDLIST = b"#EXT-X-ENDLIST"
STATIC_MPD = (b'type="static"', b"type='static'")


# What a pushed body of media starts with: ISO BMFF top-level boxes (CMAF, fragmented MP4) or
# an MPEG-TS packet (sync byte 0x47, every 188 bytes). Boxes that may come before the media's
# index are walked past; an `mdat` before any `moov` or `moof` is a whole MP4 file with its
# index at the end, which cannot be read as it arrives.
LEADING_BOXES = frozenset({b"ftyp", b"free", b"skip", b"uuid", b"pdin", b"wide"})
INDEX_BOXES = frozenset(
    {b"moov", b"moof", b"styp", b"sidx", b"ssix", b"emsg", b"prft", b"meta", b"mfra"}
)
TS_SYNC = 0x47
TS_PACKET = 188
SNIFF_MAX = 64 << 10  # bytes of leading boxes past which the receiver is left to judge


def readable_push(first: bytes, complete: bool) -> bool | None:
    """Whether a pushed body that starts with `first` is media the receiver can read as it
    arrives: fragmented MP4 (or an MP4 with its index first) or MPEG-TS packets. None while
    more bytes are needed to tell (`complete`: the body has no more)."""
    if first[:1] == bytes([TS_SYNC]):
        if len(first) > TS_PACKET:
            return first[TS_PACKET] == TS_SYNC
        return True if complete else None
    at = 0
    while len(first) >= at + 8 and at <= SNIFF_MAX:
        size, kind = int.from_bytes(first[at : at + 4], "big"), first[at + 4 : at + 8]
        if kind in INDEX_BOXES:
            return True
        if kind not in LEADING_BOXES or 1 < size < 8:
            return False  # not a box (an mdat first: the index comes at the end)
        if size == 1:  # a 64-bit size follows
            if len(first) < at + 16:
                break
            size = int.from_bytes(first[at + 8 : at + 16], "big")
        if size < 8:  # to the end of the file, or no size at all: nothing after it
            return False
        at += size
    if at > SNIFF_MAX:
        return True
    if complete:
        return at > 0  # whole leading boxes (an init segment's `ftyp` on its own)
    return None


def is_manifest(name: str) -> bool:
    """Whether a pushed name is a playlist or manifest (no media)."""
    return name.lower().endswith(MANIFEST_SUFFIXES)


def says_end(manifest: bytes) -> bool:
    """Whether a pushed playlist or MPD says the contribution is over."""
    return ENDLIST in manifest or (b"<MPD" in manifest and any(s in manifest for s in STATIC_MPD))


class PushFeed:
    """The stdin of one receiver. `write` blocks while the receiver is behind (backpressure
    to the encoder's request); it returns False once the feed has ended."""

    def __init__(
        self,
        pipe: IO[bytes],
        idle_s: float = IDLE_S,
        join_wait_s: float = JOIN_WAIT_S,
        long_s: float = IDLE_S,
    ) -> None:
        self._pipe = pipe
        self._lock = threading.Lock()  # the state below, and the order of writes to the pipe
        self.joiner = TrackJoiner(join_wait_s)
        self.idle_s = idle_s
        # a request that carried its track's init segment and media for longer than this is an
        # encoder's long push, not one file of a push of a file per request (whose first file
        # may hold the init segment too)
        self.long_s = long_s
        self._began: dict[str, float] = {}  # per track: when the request being received began
        self.received = 0  # media bytes written
        self._last_end = time.monotonic()
        self._receiving = 0  # requests whose body is being received
        self._turns: dict[str, threading.Lock] = {}  # per track: held while a body is received
        self._over: dict[str, bool] = {}  # tracks whose contribution ended: whether for good
        self.ended = threading.Event()
        self.final = False  # the broadcast ends with this feed: no waiting for a reconnect
        threading.Thread(target=self._watch, daemon=True, name="live-push-idle").start()

    def begin(self, track: str = "") -> bool:
        """A request's body for `track` starts (then call `finish_request` after it, whatever
        happens); False while another request of the track (of any track, once the
        contribution is known to be one track) is being received: one encoder at a time, and
        an encoder sends a track's files one after another."""
        with self._lock:
            if self.joiner.mode == "raw" and self._receiving:
                return False  # a contribution of one track: one request at a time
            turn = self._turns.setdefault(track, threading.Lock())
            if not turn.acquire(blocking=False):
                return False
            self._receiving += 1
            self._began[track] = time.monotonic()
            return True

    def finish_request(self, track: str = "", carried: PushedBoxes | None = None) -> None:
        """A request's body for `track` is over; `carried`: what it held, when the encoder
        ended it (a request cut short says nothing of the track)."""
        with self._lock:
            self._receiving -= 1
            self._last_end = now = time.monotonic()
            self._turns[track].release()
            long = now - self._began.pop(track, now) > self.long_s
            if carried is not None and (carried.last or (carried.whole_track and long)):
                self._over[track] = carried.last
            elif carried is not None and carried.media:
                self._over.pop(track, None)  # it goes on

    def _ended_by_tracks(self) -> bool | None:
        """Whether every track's contribution is over (call with the lock held): None while
        one goes on, else whether for good (every track sent its last segment)."""
        if self._receiving or not self._over or self.joiner.mode == "deciding":
            return None  # the joiner holds media back until it knows the tracks
        tracks = self.joiner.media_tracks() if self.joiner.mode == "joined" else set(self._over)
        if not tracks <= self._over.keys():
            return None
        return all(self._over[t] for t in tracks)

    def restarts(self, track: str, first: bytes) -> bool:
        """Whether a body that starts with `first` is an encoder starting again: a new init
        segment for a track that already had media."""
        if first[4:8] != b"ftyp":
            return False
        with self._lock:
            if self.joiner.mode == "raw":
                return self.received > 0
            return self.joiner.has_media(track)

    def write(self, data: bytes, track: str = "") -> bool:
        """Hand on a piece of `track`'s body; `FragmentError` if it cannot be joined."""
        if self.ended.is_set():
            return False
        with self._lock:
            ready = self.joiner.add(track, data, time.monotonic())
            if not self._put(ready):
                return False
            self.received += len(data)
        return True

    def tell_tracks(self, tracks: dict[str, str | None]) -> None:
        """An MPD came, listing the tracks of these init segments with their languages."""
        with self._lock:
            self.joiner.tell(tracks)

    def _put(self, data: bytes) -> bool:
        if not data:
            return True
        try:
            self._pipe.write(data)
            self._pipe.flush()
        except (BrokenPipeError, ValueError, OSError):  # the receiver is gone
            self.end()
            return False
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
            now = time.monotonic()
            with self._lock:
                try:
                    self._put(self.joiner.poll(now))  # a single track waited long enough
                except FragmentError as exc:
                    log.warning("a pushed contribution cannot be joined: %s", exc)
                    self.end(final=True)
                    return
                idle = not self._receiving and now - self._last_end > self.idle_s
                over = self._ended_by_tracks()
            if self.received and (idle or over is not None):
                self.end(final=idle or bool(over))


class PushSlot:
    """Where a stream's pushed requests go: the feed of its HTTP receiver, while one runs."""

    def __init__(self, stream_key: str) -> None:
        self.stream_key = stream_key
        self.feed: PushFeed | None = None
        self.on_air_by: str | None = None  # the protocol of the encoder on air, if any
