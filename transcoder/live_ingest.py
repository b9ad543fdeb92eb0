"""Run one live stream: wait for its encoder (SRT, RTMP or an HTTP push,
transcoder/live_receive.py), then one ffmpeg transcodes the contribution into the live ladder
and writes each rendition to a pipe; a thread per pipe cuts the fragments and packages them.
When the encoder leaves, the segment being made is closed and the stream waits `reconnect_s`
for it: an encoder that comes back continues the broadcast on the same timeline. Then every
playlist ends, and the recording is published as a video with the stream's id, playable like
an upload."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from manifests.catalog import Catalog
from manifests.live_streams import LiveRendition, LiveStream
from storage import Storage
from transcoder.fragments import FragmentError, FragmentReader, Init
from transcoder.live_colour import made_colour
from transcoder.live_command import (
    KeptPicture,
    LiveEncode,
    build_live_argv,
    live_sizes,
    output_fps,
    part_length_s,
)
from transcoder.live_packager import EncoderChanged, Resumption, TrackPackager, WallClock
from transcoder.live_push import PushSlot
from transcoder.live_receive import Listener, Receiver, StreamKey, listeners, wait_for_encoder
from transcoder.live_recording import publish_recording
from transcoder.live_tracks import (
    UNTOLD,
    audio_names,
    matched_tracks,
    say_what_is_left_out,
    say_what_sound_goes_on,
)
from transcoder.runner import kill_group, tool_process

log = logging.getLogger("mediacdn.live")
READ_BYTES = 64 << 10
CHECK_S = 1.0  # how often a running ingest checks that its stream was not ended
SILENCE_AFTER_S = 1.0  # silence made for a contribution without sound ends this after it


@dataclass(frozen=True, slots=True)
class IngestConfig:
    ffmpeg: str
    encode: LiveEncode
    listen_host: str = "127.0.0.1"
    memory_mb: int | None = 4096
    rtmp: bool = True  # listen for RTMP (TCP) as well as SRT (UDP) on a stream's port
    # how long a broadcast whose encoder left waits for it to come back (a dropped
    # connection, an encoder restarted) before it ends; 0: it ends at once
    reconnect_s: float = 10.0

    @property
    def memory_bytes(self) -> int | None:
        """Each ffmpeg's memory limit."""
        return self.memory_mb << 20 if self.memory_mb else None


def _read_pipe(
    fd: int,
    packager: TrackPackager,
    on_part: Callable[[int, bool], None],
    failures: list[FragmentError],
) -> None:
    """Packages one rendition's output; `on_part(position, on air)` after each part until the
    rendition is on air. What cannot be packaged ends the rendition (and so the transcoder:
    its pipe closes), noted in `failures`."""
    reader = FragmentReader()
    on_air = False
    with os.fdopen(fd, "rb", buffering=0) as pipe:
        while chunk := pipe.read(READ_BYTES):
            try:
                for item in reader.feed(chunk):
                    if isinstance(item, Init):
                        packager.on_init(item)
                    else:
                        packager.on_fragment(item)
                        if not on_air:
                            on_air = packager.track.on_air
                            on_part(packager.position, on_air)
            except FragmentError as exc:
                if not isinstance(exc, EncoderChanged):
                    log.exception("live rendition %s: unreadable output", packager.name)
                failures.append(exc)
                return


def run_live(
    stream: LiveStream,
    catalog: Catalog,
    storage: Storage,
    config: IngestConfig,
    stop: threading.Event,
    on_update: Callable[[str], None] = lambda _: None,
    ended_elsewhere: Callable[[], bool] = lambda: False,
    slot: PushSlot | None = None,
    key: StreamKey | None = None,
) -> bool:
    """One broadcast of `stream`, from the encoder's connection to its end; returns whether
    anything was broadcast (False: stopped before any encoder came, or nothing came of it).
    `slot`: where the origin hands requests that push the contribution over HTTP (None: no
    HTTP ingest). `key`: the stream's key, which may be replaced meanwhile (then the
    listeners listen for the new one, and an encoder on air with the old one is cut). The
    stream is cut into the segments and parts it was made with, whatever lengths the origin
    is set to now."""
    made = stream.settings
    config = replace(
        config, encode=replace(config.encode, segment_s=made.segment_s, part_s=made.part_s)
    )
    checked = time.monotonic()

    def should_stop(wait_s: float) -> bool:
        nonlocal checked
        if stop.wait(wait_s):
            return True
        if time.monotonic() - checked >= CHECK_S:  # ended through another origin's API
            checked = time.monotonic()
            return ended_elsewhere()
        return False

    push, key = slot is not None, key or StreamKey(stream.stream_key)
    current: list[Receiver] = []

    def failed(listener: Listener, why: str) -> None:
        """A contribution that came and could not be broadcast: the API shows why."""
        try:
            catalog.note_ingest_error(stream.id, listener.protocol, why)
        except Exception:  # the catalog away: the log has it
            log.exception("live stream %s: noting an ingest error", stream.id)

    def encoder(within_s: float | None) -> Receiver | None:
        """The next encoder with the key, waiting at most `within_s` (None: until stopped)."""
        if current:
            current.pop().stop()
        if slot is not None:
            slot.on_air_by = None
        deadline = None if within_s is None else time.monotonic() + within_s

        def give_up(wait_s: float) -> bool:
            late = deadline is not None and time.monotonic() > deadline
            return should_stop(wait_s) or late or key.changed.is_set()

        while True:  # once more each time the key is replaced meanwhile
            key.changed.clear()
            where = listeners(config.listen_host, stream.ingest_port, key.value, config.rtmp, push)
            receiver = wait_for_encoder(
                config.ffmpeg, where, give_up, config.memory_bytes, slot, failed
            )
            if receiver is not None or not key.changed.is_set():
                break
        if receiver is None:
            return None
        current.append(receiver)
        if slot is not None:
            slot.on_air_by = receiver.listener.protocol
        log.info(
            "live stream %s: an encoder is here by %s (%s; picture %s at %s fps)",
            stream.id,
            receiver.listener.protocol,
            ", ".join(receiver.kinds),
            receiver.picture or "of unknown size",
            f"{receiver.fps:g}" if receiver.fps else "an unknown",
        )
        return receiver

    try:
        if encoder(None) is None:
            return False
        return _broadcast(
            stream, catalog, storage, config, current, encoder, should_stop, on_update, key.changed
        )
    finally:
        for receiver in current:
            receiver.stop()
        if slot is not None:
            slot.feed, slot.on_air_by = None, None


@dataclass
class _Session:
    """What one encoder's connection came to."""

    stopped: bool  # the stream was ended (DELETE, or the origin stops)
    failures: list[FragmentError]
    tail: str  # the transcoder's last words


def _broadcast(
    stream: LiveStream,
    catalog: Catalog,
    storage: Storage,
    config: IngestConfig,
    current: list[Receiver],
    encoder: Callable[[float | None], Receiver | None],
    should_stop: Callable[[float], bool],
    on_update: Callable[[str], None],
    cut: threading.Event,
) -> bool:
    """Transcode and package what `current[0]` receives; when its encoder leaves (or is cut:
    its key was replaced), wait `reconnect_s` for it to come back (with any picture, fitted
    into the renditions' sizes and rate; without sound, silence is made in its place), and go
    on where it left off: the same renditions, segment numbers and timeline. Then end and
    publish the recording."""
    encode = config.encode
    languages = list(current[0].languages)  # the broadcast's audio tracks, the first default
    wall = WallClock()

    def publish(position: int, rendition: LiveRendition) -> None:
        catalog.put_live_rendition(stream.id, position, rendition)
        on_update(stream.id)

    first, fps = current[0].looks, current[0].fps
    # what the renditions are made as, for an encoder back with another picture
    kept = KeptPicture(
        live_sizes(encode, current[0].picture),
        output_fps(fps, encode.max_fps) if fps else None,
        made_colour(current[0].colour, current[0].hdr),
    )
    # the parts the encoder makes at that rate are the playlists' part target
    settings = replace(stream.settings, part_s=part_length_s(encode, kept.fps))
    names = [r.name for r in encode.rungs] + audio_names(len(languages))
    infos = [
        {"bandwidth": int(r.bitrate_bps * encode.maxrate_ratio), "height": r.max_height}
        for r in encode.rungs
    ] + [{"bandwidth": encode.audio_bitrate_bps, "language": code} for code in languages]
    packagers = [
        TrackPackager(
            stream.id,
            name,
            "video" if position < len(encode.rungs) else "audio",
            position,
            settings,
            storage,
            publish,
            wall,
            info,
        )
        for position, (name, info) in enumerate(zip(names, infos, strict=True))
    ]
    # every rendition is known from the start, empty until it has parts
    catalog.reset_live_renditions(stream.id, [p.rendition() for p in packagers])
    started: set[int] = set()  # renditions with a part
    on_air: set[int] = set()  # renditions players may join
    started_lock = threading.Lock()

    original = current[0]
    untold = [n for n, code in enumerate(languages) if code == UNTOLD]

    def learn_languages() -> None:
        """Audio renditions whose track said no language take the one the encoder's MPD
        gives it, once it has come (an HTTP push's, after its first segment): from their
        next part on, playlists name it and so will the recording."""
        told = original.told_languages()
        for n in [n for n in untold if told[n] != UNTOLD]:
            languages[n] = told[n]
            packagers[len(encode.rungs) + n].info["language"] = told[n]
            untold.remove(n)

    def on_part(position: int, rendition_on_air: bool) -> None:
        """Live once players may join every rendition."""
        with started_lock:
            if untold and original.feed is not None:
                learn_languages()
            started.add(position)
            if not rendition_on_air or position in on_air:
                return
            on_air.add(position)
            if len(on_air) < len(packagers):
                return
        wall.settle()  # players see the program dates from now on
        catalog.set_live_status(stream.id, "live")
        on_update(stream.id)
        log.info("live stream %s: the encoder is on air", stream.id)

    keep: KeptPicture | None = None
    sources = matched_tracks(languages, languages)  # each audio track in its own rendition
    say_what_is_left_out(stream.id, current[0].left_out)
    while True:
        session = _transcode(
            config, current[0], packagers, on_part, should_stop, cut, keep, sources
        )
        final = current[0].feed is not None and current[0].feed.final  # an HTTP push's end
        if session.stopped or final or not started or config.reconnect_s <= 0:
            break
        if session.failures:
            log.warning("live stream %s: ended: %s", stream.id, session.failures[0])
            break
        for p in packagers:
            p.pause()
        log.info("live stream %s: the encoder left; waiting for it to come back", stream.id)
        receiver = encoder(config.reconnect_s)
        if receiver is None:
            break
        say_what_is_left_out(stream.id, receiver.left_out)
        sources = matched_tracks(languages, receiver.languages)
        say_what_sound_goes_on(stream.id, languages, receiver.languages, sources)
        # the same picture is made as it was; another one is fitted into what was made
        keep = None if receiver.looks == first else kept
        wall.reset()
        resumption = Resumption(max(p.end_s for p in packagers))
        for p in packagers:
            p.resume(resumption)
    if not started:
        what = session.tail or " | ".join(current[0].tail)
        log.warning("live stream %s: the broadcast ended before any media: %s", stream.id, what)
        return False
    with started_lock:  # an MPD may come only with the end (ffmpeg's -streaming -single_file)
        if untold and original.feed is not None:
            learn_languages()
    for p in packagers:
        p.finish()
    publish_recording(stream, catalog, [p.recorded_track() for p in packagers])
    on_update(stream.id)
    return True


def _transcode(
    config: IngestConfig,
    receiver: Receiver,
    packagers: list[TrackPackager],
    on_part: Callable[[int, bool], None],
    should_stop: Callable[[float], bool],
    cut: threading.Event,
    keep: KeptPicture | None,
    sources: list[int | None],
) -> _Session:
    """One ffmpeg transcodes what `receiver` receives into every rendition's pipe (at the
    sizes and rate in `keep`, if given; each audio rendition from its track of `sources`,
    or silence), until the encoder leaves, is `cut` (the transcoder
    then ends with what it was given), or the stream is stopped."""
    encode = config.encode
    pipes = [os.pipe() for _ in packagers]
    write_fds = [w for _, w in pipes]
    video_fds, audio_fds = write_fds[: len(encode.rungs)], write_fds[len(encode.rungs) :]
    silence = None in sources  # a track is made of silence
    argv = build_live_argv(
        config.ffmpeg,
        encode,
        video_fds,
        audio_fds,
        receiver.fps,
        hdr=receiver.hdr,
        interlaced=receiver.interlaced,
        keep=keep,
        sources=sources,
        picture=receiver.picture,
        colour=receiver.colour,
    )
    options = tool_process(config.memory_bytes, tuple(write_fds))
    options["stdin"] = receiver.proc.stdout
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, **options)
    receiver.close_stdout()  # the transcoder holds it now: the encoder's end reaches it
    for w in write_fds:
        os.close(w)
    failures: list[FragmentError] = []
    readers = [
        threading.Thread(
            target=_read_pipe, args=(r, p, on_part, failures), daemon=True, name=f"live-{p.name}"
        )
        for (r, _), p in zip(pipes, packagers, strict=True)
    ]
    for t in readers:
        t.start()
    tail: deque[str] = deque(maxlen=20)

    def drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            tail.append(line.decode(errors="replace"))

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    stopped = cutting = False
    received_until: float | None = None  # when the contribution ended, with silence made
    while proc.poll() is None:
        if should_stop(0.2):
            kill_group(proc)
            receiver.stop()
            stopped = True
            break
        if cut.is_set() and not cutting:
            receiver.stop()
            cutting = True
        # silence never ends by itself: once the contribution has, and the transcoder has
        # had time to encode its last frames, it is told to stop (SIGINT: ffmpeg then ends
        # every output whole)
        if silence and receiver.ended:
            received_until = received_until or time.monotonic()
            if time.monotonic() - received_until > SILENCE_AFTER_S:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGINT)
                silence = False
        if failures:  # a rendition cannot go on: neither can the others
            kill_group(proc)
    proc.wait()
    for t in (*readers, drainer):
        t.join(timeout=10)
    if proc.stderr is not None:
        proc.stderr.close()
    return _Session(stopped, failures, "".join(tail).strip())
