"""Waiting for a live stream's encoder: one receiving ffmpeg per protocol listens on the
stream's port (SRT on UDP, RTMP on TCP, both at once), and one reads what is pushed over HTTP
(transcoder/live_push.py); the first encoder to arrive with the stream key is the
contribution, and the other receivers are stopped.

What a receiver prints when an encoder connects says which streams it brought (a contribution
without audio is broadcast without audio; one without video is refused) and, for RTMP, whether
the encoder published under the stream key: ffmpeg's RTMP server accepts any stream name and
only warns, so that check is made here, before any of its media is used. SRT checks the key
itself: it is the passphrase, and a wrong one fails the handshake."""

from __future__ import annotations

import logging
import re
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from transcoder.languages import is_language_code
from transcoder.live_colour import Colour, colour_of
from transcoder.live_command import (
    MAX_AUDIO_TRACKS,
    Picture,
    receive_argv,
    rtmp_url,
    srt_listener_url,
)
from transcoder.live_push import PushFeed, PushSlot
from transcoder.live_tracks import UNTOLD
from transcoder.probe import HDR_TRANSFERS
from transcoder.runner import kill_group, tool_process

log = logging.getLogger("mediacdn.live")
POLL_S = 0.1
RESTART_S = 0.5  # a listener that ended (a refused or vanished encoder) listens again after
RESTART_MAX_S = 10.0  # this, twice as long after each time, at most this
# ffmpeg's RTMP server, when the encoder names another stream or application
WRONG_NAME = re.compile(r"Unexpected stream|App field don't match up")
# libsrt, when a caller's passphrase is not the listener's (the stream key)
WRONG_PASSPHRASE = re.compile(r"Incorrect passphrase")
REJECTED = "the encoder's passphrase is not the stream key"
INPUT_STREAM = re.compile(
    r"^\s+Stream #0:(\d+)(?:\[\w+\])?(?:\(([^)]*)\))?\S*: (Video|Audio|Subtitle|Data|Attachment):"
)
PICTURE = re.compile(r"(?<=, )(\d+)x(\d+)(?: \[SAR (\d+):(\d+) DAR \d+:\d+\])?")  # size, pixels
# a video's frame rate: the one ffmpeg encodes it at ("tbr", from the stream's timing), else
# the average it measured ("fps": over fragmented MP4's first fragment, 29.77 for 30)
NOMINAL_RATE = re.compile(r", (\d+(?:\.\d+)?) tbr\b")
FRAME_RATE = re.compile(r", (\d+(?:\.\d+)?) fps\b")
# its field order, where its frames are interlaced (`yuv420p(tv, bt709, top first)`)
INTERLACED = re.compile(r"\([^)]*\b(top|bottom) (coded )?first\b")
# a stream the receiver found no packet of while it learnt the contribution's streams
UNREAD_STREAM = re.compile(r"Could not find codec parameters for stream (\d+) \((Video|Audio)")
# ffmpeg could not start passing the contribution on (it says "Stream mapping:" after this)
OUTPUT_FAILED = re.compile(r"Could not write header|Error initializing output stream")
SECRET = re.compile(r"(passphrase=)[^&\s]+")  # a key that got into a message some other way


def picture_of(line: str) -> Picture | None:
    """A video stream's picture from ffmpeg's line for it (None: it gives no size)."""
    if not (found := PICTURE.search(line)):
        return None
    width, height, across, down = found.groups()
    if int(width) <= 0 or int(height) <= 0:
        return None
    wide = int(across or 0) > 0 and int(down or 0) > 0
    return Picture(
        int(width), int(height), Fraction(int(across), int(down)) if wide else Fraction(1)
    )


def frame_rate(line: str) -> float | None:
    """A video stream's frame rate from ffmpeg's line for it (None: it prints none)."""
    rate = NOMINAL_RATE.search(line) or FRAME_RATE.search(line)
    return float(rate.group(1)) if rate else None


class StreamKey:
    """A stream's key as it is now. Replacing it sets `changed` until the listeners are
    made again with the new one; an encoder that came with the old key is cut meanwhile."""

    def __init__(self, key: str) -> None:
        self.value = key
        self.changed = threading.Event()

    def replace(self, key: str) -> None:
        if key != self.value:
            self.value = key
            self.changed.set()


@dataclass(frozen=True, slots=True)
class Listener:
    protocol: str  # "srt", "rtmp" or "http"
    url: str


def listeners(
    host: str, port: int, key: str, rtmp: bool = True, push: bool = False
) -> list[Listener]:
    """Where a stream's encoder may push: SRT on its UDP port, RTMP on the same number over
    TCP, and (`push`) HTTP requests to the origin, which it hands to a receiver's stdin."""
    found = [Listener("srt", srt_listener_url(host, port, key))]
    found += [Listener("rtmp", rtmp_url(host, port, key))] if rtmp else []
    return found + ([Listener("http", "pipe:0")] if push else [])


class Receiver:
    """One listening ffmpeg. Its stdout is the contribution once `arrived`. An HTTP
    receiver's stdin is the `feed` that pushed requests are written to (put in `slot`)."""

    def __init__(
        self,
        ffmpeg: str,
        listener: Listener,
        memory_bytes: int | None,
        slot: PushSlot | None = None,
    ) -> None:
        self.listener = listener
        options = tool_process(memory_bytes)
        pushed = listener.protocol == "http"
        if pushed:
            options["stdin"] = subprocess.PIPE
        self.proc = subprocess.Popen(
            receive_argv(ffmpeg, listener.protocol, listener.url),
            stdout=subprocess.PIPE,
            **options,
        )
        self.feed: PushFeed | None = None
        if pushed:
            assert self.proc.stdin is not None
            assert slot is not None
            self.feed = slot.feed = PushFeed(self.proc.stdin)
        self.kinds: list[str] = []  # the contribution's streams: "video", "audio", ...
        self.languages: list[str] = []  # its audio tracks' (those passed on), "und" if untold
        self.left_out: list[str] = []  # its audio tracks' without a packet in its first second
        self.fps: float | None = None  # its video's frame rate, if ffmpeg says
        self.picture: Picture | None = None  # its video's size and pixel shape, if ffmpeg says
        self.colour = Colour()  # what its video says of its colours
        self.interlaced = False  # its video's frames are interlaced
        self.refusal: str | None = None
        self.unread: str | None = None  # "video" or "audio": found, but not one packet of it
        self._unread: set[int] = set()  # its streams' numbers, of those
        self._audio_streams: list[int] = []  # the numbers of its audio tracks passed on
        self.rejected = 0  # lines saying a caller's passphrase was not the stream key
        self.tail: deque[str] = deque(maxlen=20)
        self.known = threading.Event()  # the encoder's streams are known, or it was refused
        self._reader = threading.Thread(target=self._read, daemon=True, name="live-receive")
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        in_input = False
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            self.tail.append(line)
            if self.known.is_set():
                continue
            if WRONG_NAME.search(line):
                self.refusal = "the encoder did not publish under the stream key"
                kill_group(self.proc)
                self.known.set()
            elif WRONG_PASSPHRASE.search(line):  # libsrt refused a caller and listens on
                self.rejected += 1
            elif unread := UNREAD_STREAM.search(line):
                self.unread = unread.group(2).lower()
                self._unread.add(int(unread.group(1)))
            elif OUTPUT_FAILED.search(line):
                self.refusal = self._not_passed_on(line)
                kill_group(self.proc)
                self.known.set()
            elif line.startswith("Input #0"):
                in_input = True
            elif in_input and (match := INPUT_STREAM.match(line)):
                number, tag, kind = int(match.group(1)), (match.group(2) or "").lower(), match[3]
                self.kinds.append(kind.lower())
                language = tag if is_language_code(tag) else UNTOLD
                if kind == "Audio" and number in self._unread:  # not passed on (`0:a:u`)
                    self.left_out.append(language)
                elif kind == "Audio" and len(self.languages) < MAX_AUDIO_TRACKS:
                    self.languages.append(language)
                    self._audio_streams.append(number)
                if kind == "Video" and "video" not in self.kinds[:-1]:
                    self.fps = frame_rate(line)
                    self.picture = picture_of(line)
                    self.colour = colour_of(line)
                    self.interlaced = bool(INTERLACED.search(line))
            elif in_input and line.startswith(("Stream mapping:", "Output #0")):
                if self.left_out and not self.languages:  # sound, none of it passed on
                    self.refusal = self._not_passed_on(line)
                    kill_group(self.proc)
                self.known.set()
        self.known.set()

    def told_languages(self) -> list[str]:
        """Its audio tracks' languages, with those an HTTP push's MPD has given by now to
        tracks that said none (ffmpeg's dash muxer names them only there, after its first
        segment, so after the streams are known)."""
        joiner = self.feed.joiner if self.feed is not None else None
        return [
            (joiner.told_language(number) if joiner and code == UNTOLD else None) or code
            for code, number in zip(self.languages, self._audio_streams, strict=True)
        ]

    def _not_passed_on(self, line: str) -> str:
        """Why ffmpeg could not pass the contribution on: a stream it found no packet of
        (a sound that starts seconds after the picture, a muted track) cannot be copied (an
        audio track is left out where another one can be passed on)."""
        if self.unread:
            return (
                f"the contribution's {self.unread} did not start within its first second, "
                "which the receiver reads to learn its streams"
            )
        return "the contribution could not be passed on: " + SECRET.sub(r"\1…", line.strip())

    @property
    def arrived(self) -> bool:
        """An encoder with the key is here and its streams are known."""
        return self.known.is_set() and self.refusal is None and bool(self.kinds)

    @property
    def ended(self) -> bool:
        return self.proc.poll() is not None

    @property
    def hdr(self) -> bool:
        """Its video is HDR (PQ or HLG), by the transfer it says."""
        return self.colour.transfer in HDR_TRANSFERS

    @property
    def looks(self) -> tuple[Picture | None, float | None, bool, Colour]:
        """What its video looks like, as far as the renditions made of it depend on it (HDR
        or not is its colours')."""
        return self.picture, self.fps, self.interlaced, self.colour

    def why_not(self, *, whole: bool = False) -> str:
        """Why this listener ended without a contribution: ffmpeg's last word (`whole`: its
        last lines), with the listening URL, which holds the stream key, named instead."""
        if self.refusal:
            return self.refusal
        if self.kinds and "video" not in self.kinds:
            return f"a contribution without video ({', '.join(self.kinds)}) is not broadcast"
        said = [line for line in self.tail if line.strip()]
        text = " | ".join(said) if whole else (said[-1].strip() if said else "")
        text = text.replace(self.listener.url, f"the {self.listener.protocol} listener")
        return SECRET.sub(r"\1…", text) or "the listener ended"

    def stop(self) -> None:
        kill_group(self.proc)
        self.proc.wait()
        if self.feed is not None:
            self.feed.end()
        self._reader.join(timeout=5)
        self.close()

    def close_stdout(self) -> None:
        """Once another process reads the contribution, this one lets go of it."""
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def close(self) -> None:
        self.close_stdout()
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def wait_for_encoder(
    ffmpeg: str,
    where: list[Listener],
    stop: Callable[[float], bool],
    memory_bytes: int | None = None,
    slot: PushSlot | None = None,
    on_failed: Callable[[Listener, str], None] = lambda listener, why: None,
) -> Receiver | None:
    """Listen at every place in `where` until an encoder arrives with the key (its receiver
    is returned, the others stopped) or `stop(seconds)` says to stop waiting (None). A
    listener that ends without a contribution (a refused encoder, one that left before its
    streams were known, one without video, one that sent what ffmpeg cannot read) is
    reported to `on_failed` with the reason, and listens again."""
    receivers = {w: Receiver(ffmpeg, w, memory_bytes, slot) for w in where}
    restart_at: dict[Listener, float] = {}
    failures: dict[Listener, int] = dict.fromkeys(where, 0)
    rejected: dict[Receiver, int] = {}
    try:
        while not stop(POLL_S):
            for listener, receiver in list(receivers.items()):
                if receiver.rejected > rejected.get(receiver, 0):  # SRT refused the caller
                    rejected[receiver] = receiver.rejected
                    log.warning("live %s listener: %s", listener.protocol, REJECTED)
                    on_failed(listener, REJECTED)
                if receiver.arrived:
                    if "video" in receiver.kinds:
                        del receivers[listener]
                        return receiver
                    kill_group(receiver.proc)  # nothing to broadcast: it listens again
                if receiver.ended and listener not in restart_at:
                    why = receiver.why_not(whole=True)
                    log.warning("live %s listener: no broadcast: %s", listener.protocol, why)
                    on_failed(listener, receiver.why_not())
                    failures[listener] += 1  # one that cannot listen at all is retried less
                    pause = min(RESTART_MAX_S, RESTART_S * 2 ** (failures[listener] - 1))
                    restart_at[listener] = time.monotonic() + pause
                elif listener in restart_at and time.monotonic() >= restart_at[listener]:
                    del restart_at[listener]
                    receiver.stop()
                    receivers[listener] = Receiver(ffmpeg, listener, memory_bytes, slot)
        return None
    finally:
        for receiver in receivers.values():
            receiver.stop()
