"""The live streams this origin runs: one ingest thread per unfinished stream (whichever origin
binds a stream's port runs it; the others keep trying, so one takes over if it stops), and the
wake-ups of playlist and part requests that wait for what a stream makes next."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import socket
import threading
from collections import defaultdict

from manifests.catalog import Catalog
from manifests.live_streams import LiveStream
from origin.settings import Settings
from storage import Storage
from transcoder.ladder import LadderPolicy
from transcoder.live_command import LiveEncode, live_rungs
from transcoder.live_ingest import IngestConfig, run_live
from transcoder.live_push import PushSlot
from transcoder.live_receive import StreamKey
from transcoder.live_recording import recover_recording
from transcoder.tools import ffmpeg_path

log = logging.getLogger("mediacdn.live")
RETRY_S = 2.0  # an ingest that could not listen (the port is another origin's) tries again
POLL_S = 0.1  # how often a waiting request looks at a stream another origin ingests


def ingest_config(settings: Settings) -> IngestConfig:
    encode = LiveEncode(
        settings.live_segment_s,
        settings.live_part_s,
        live_rungs(LadderPolicy.parse(settings.live_ladder)),
        audio_bitrate_bps=settings.audio_bitrate_kbps * 1000,
        x264_preset=settings.x264_preset,
    )
    return IngestConfig(
        ffmpeg_path(),
        encode,
        listen_host=settings.live_listen,
        reconnect_s=settings.live_reconnect_s,
    )


class LiveHub:
    def __init__(self, catalog: Catalog, storage: Storage, config: IngestConfig) -> None:
        self.catalog, self.storage, self.config = catalog, storage, config
        self._stops: dict[str, threading.Event] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._shutdown = threading.Event()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._events: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._live_here: set[str] = set()
        self._slots: dict[str, PushSlot] = {}  # by stream key: where pushed requests go
        self._keys: dict[str, StreamKey] = {}  # by stream id: the key its ingest listens for

    # -- ingest -------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Take up every unfinished stream. One marked live had its broadcast cut by a stop
        of the origin that ran it: it ends, and what it recorded becomes its video."""
        self._loop = loop
        for stream in self.catalog.unfinished_live():
            if stream.status == "live" and self._may_take_over(stream):
                threading.Thread(
                    target=self._recover, args=(stream,), name=f"live-{stream.id}", daemon=True
                ).start()
                continue
            self.watch(stream)

    def _recover(self, stream: LiveStream) -> None:
        try:
            recover_recording(stream, self.catalog, self.storage)
        except Exception:  # another origin recovered it first, or storage is away
            log.exception("live stream %s: its recording could not be recovered", stream.id)
            if (current := self.catalog.get_live(stream.id)) and current.status != "ended":
                self.catalog.set_live_status(stream.id, "ended")
        self.changed(stream.id)

    def _may_take_over(self, stream: LiveStream) -> bool:
        """Whether no origin is ingesting it now: its port is free here."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind((self.config.listen_host, stream.ingest_port))
            except OSError:
                return False
        return True

    def watch(self, stream: LiveStream) -> None:
        with self._lock:
            if stream.id in self._threads or self._shutdown.is_set():
                return
            stop = threading.Event()
            slot = self._slots[stream.stream_key] = PushSlot(stream.stream_key)
            key = self._keys[stream.id] = StreamKey(stream.stream_key)
            thread = threading.Thread(
                target=self._run,
                args=(stream, stop, slot, key),
                name=f"live-{stream.id}",
                daemon=True,
            )
            self._stops[stream.id], self._threads[stream.id] = stop, thread
        thread.start()

    def _run(
        self, stream: LiveStream, stop: threading.Event, slot: PushSlot, key: StreamKey
    ) -> None:
        try:
            while not stop.is_set() and not self._shutdown.is_set():
                self._live_here.add(stream.id)
                try:
                    args = (self.catalog, self.storage, self.config, stop, self.changed)
                    if run_live(stream, *args, lambda: self._ended(stream.id), slot, key):
                        return
                except Exception:
                    log.exception("live stream %s: the ingest failed", stream.id)
                finally:
                    self._live_here.discard(stream.id)
                current = self.catalog.get_live(stream.id)
                if current is None or current.status == "ended":
                    return
                stop.wait(RETRY_S)
        finally:
            with self._lock:
                self._threads.pop(stream.id, None)
                self._stops.pop(stream.id, None)
                self._slots.pop(slot.stream_key, None)
                self._keys.pop(stream.id, None)

    def push_slot(self, stream_key: str) -> PushSlot | None:
        """Where requests pushing this key's contribution go, if this origin ingests it."""
        for key, slot in list(self._slots.items()):
            if hmac.compare_digest(key.encode(), stream_key.encode()):
                return slot
        return None

    def _ended(self, stream_id: str) -> bool:
        """Whether the stream was ended (through any origin's API); a key replaced through
        another origin's API is taken up here."""
        current = self.catalog.get_live(stream_id)
        if current is None or current.status == "ended":
            return True
        self.rekey(stream_id, current.stream_key)
        return False

    def rekey(self, stream_id: str, new_key: str) -> None:
        """The stream's key was replaced: pushes and listeners take the new one only, and an
        encoder on air with the old one is cut (the broadcast waits for it to come back)."""
        with self._lock:
            key = self._keys.get(stream_id)
            if key is None or key.value == new_key:
                return
            slot = self._slots.pop(key.value, None)
            if slot is not None:
                slot.stream_key = new_key
                self._slots[new_key] = slot
            key.replace(new_key)
        log.info("live stream %s: its key was replaced", stream_id)

    def end(self, stream_id: str) -> bool:
        """Stop the stream's ingest here (its broadcast ends and is recorded); False if this
        origin was not running it."""
        with self._lock:
            stop, thread = self._stops.get(stream_id), self._threads.get(stream_id)
        if stop is None or thread is None:
            return False
        stop.set()
        thread.join(60)
        return True

    def close(self) -> None:
        self._shutdown.set()
        with self._lock:
            stops, threads = list(self._stops.values()), list(self._threads.values())
        for stop in stops:
            stop.set()
        for thread in threads:
            thread.join(60)

    # -- wake-ups -----------------------------------------------------------------------

    def changed(self, stream_id: str) -> None:
        """Called from an ingest thread after the catalog has the stream's new state."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake, stream_id)

    def _wake(self, stream_id: str) -> None:
        event = self._events.pop(stream_id, None)
        if event is not None:
            event.set()

    async def wait(self, stream_id: str, timeout_s: float) -> None:
        """Until the stream changes (or `timeout_s`); for a stream another origin ingests,
        no longer than one poll interval."""
        if stream_id not in self._live_here:
            timeout_s = min(timeout_s, POLL_S)
        event = self._events[stream_id]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), max(0.0, timeout_s))
