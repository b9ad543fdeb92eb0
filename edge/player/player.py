"""`mediacdn play`: a headless HLS player. It fetches the master playlist, plays it through the
playback-session model the simulator uses (edge/player/session.py: ABR rule, buffer, stalls,
QoE), downloads segments in real time or faster, retries a failed fetch on the next POP, and
reports quality of experience."""

from __future__ import annotations

import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

from edge.player.abr_controller import DEFAULT_RULE, RULES
from edge.player.live_edge import (
    LIVE_START_BEHIND,
    Listed,
    LiveStart,
    catch_up_rate,
    classic_rate,
    listed,
    live_start,
    live_target_s,
    made_at,
    media_played,
    next_position,
    segment_made_at,
)
from edge.player.session import LIVE_LOOKAHEAD, PlaybackSession, PlaybackStats
from manifests.errors import ManifestError
from manifests.model import ByteRange, MasterPlaylist, MediaPart, MediaPlaylist, Segment
from manifests.parse import parse_master_playlist, parse_media_playlist

Playlist = TypeVar("Playlist", MasterPlaylist, MediaPlaylist)

LIVE_RELOAD_MIN_S = 0.5  # the shortest wait between two plain reloads of a live playlist
LIVE_TARGET_S = 2.0  # a live playlist's target duration when it says none and lists nothing
LIVE_STALL_TARGETS = 6  # target durations without a new segment: the live playlist has stopped
_TARGET = re.compile(r"^#EXT-X-TARGETDURATION:(\d+)\s*$", re.MULTILINE)


class PlaybackFailed(RuntimeError):
    pass


@dataclass
class SessionReport:
    """A playback over HTTP: the session's figures, plus who served it and what failed."""

    playback: PlaybackStats
    failed_fetches: int = 0
    served_by: Counter[str] = field(default_factory=Counter)
    cache: Counter[str] = field(default_factory=Counter)
    live: bool = False
    low_latency: bool = False  # played part by part (LL-HLS)
    # a live stream: how far behind the wall clock it played after each chunk (the playlist's
    # EXT-X-PROGRAM-DATE-TIME of what was on screen)
    behind_s: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        p = self.playback
        return {
            "rule": p.rule,
            "startup_s": round(p.startup_s, 3),
            "rebuffer_count": p.stalls,
            "rebuffer_s": round(p.stall_s, 3),
            "average_bitrate_bps": round(p.bitrate_bps),
            "switches": p.switches,
            "segments": p.chunks,
            "qoe_mean": round(p.qoe, 4),
            "failed_fetches": self.failed_fetches,
            "served_by": dict(self.served_by),
            "cache": dict(self.cache),
            "live": self.live,
            "low_latency": self.low_latency,
            "live_latency_s": (
                round(statistics.median(self.behind_s), 3) if self.behind_s else None
            ),
        }


@dataclass
class Rendition:
    """A media playlist as last loaded, and when (a live one is loaded again as it grows)."""

    url: str
    playlist: MediaPlaylist
    loaded_at: float
    target_s: float  # EXT-X-TARGETDURATION (else the longest segment listed)

    @classmethod
    def of(cls, url: str, text: str, loaded_at: float) -> Rendition:
        playlist = _parsed(url, parse_media_playlist, text)
        target = _TARGET.search(text)
        durations = [s.duration_s for s in playlist.segments]
        target_s = float(target[1]) if target else max(durations, default=LIVE_TARGET_S)
        return cls(url, playlist, loaded_at, max(target_s, LIVE_RELOAD_MIN_S))

    @property
    def first(self) -> int:
        """The number of the first segment listed."""
        return self.playlist.media_sequence

    @property
    def end(self) -> int:
        """The number after the last segment listed."""
        return self.playlist.media_sequence + len(self.playlist.segments)

    def at(self, number: int) -> Segment | None:
        if self.first <= number < self.end:
            return self.playlist.segments[number - self.first]
        return None


class HeadlessPlayer:
    def __init__(
        self,
        client: httpx.Client,
        *,
        rule: str = DEFAULT_RULE,
        speed: float = 1.0,
        max_buffer_s: float = 30.0,
        duration_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if rule not in RULES:
            raise ValueError(f"unknown ABR rule {rule!r} (one of {', '.join(RULES)})")
        self.client = client
        self.rule = rule
        self.speed = speed
        self.max_buffer_s = max_buffer_s
        self.duration_s = duration_s  # of media to play at most (None: to the end)
        self.clock = clock
        self.sleep = sleep
        self.wall = wall  # to compare with a live playlist's program dates

    def play(self, url: str, alternatives: Sequence[str] = ()) -> SessionReport:
        """Play the playlist at `url`: a master playlist, or a media playlist on its own (one
        rendition). `alternatives` are other base URLs (POPs) to fail over to: a URL on the
        host being played from is fetched from the next of them when it fails. URIs in
        playlists may be relative or absolute, segments whole or byte ranges of a file. A live
        playlist (no EXT-X-ENDLIST) is played in real time, loaded again as it grows, until it
        ends (or `duration_s` of media played): part by part from PART-HOLD-BACK behind its
        newest part where it lists parts (LL-HLS), else from three segments behind its
        newest; holding more than that, it plays faster until it is back (`catch_up_rate`)."""
        parts = urlsplit(url)
        bases = [f"{parts.scheme}://{parts.netloc}", *(a.rstrip("/") for a in alternatives)]
        report = SessionReport(PlaybackStats(self.rule))
        self._bases, self._base, self._report = bases, 0, report
        started = self.clock()
        top = self._text(url)
        media: list[Rendition]
        audio: Rendition | None = None
        bitrates: list[int] = []  # of a master playlist's variants
        if "#EXT-X-STREAM-INF:" in top:
            master = _parsed(url, parse_master_playlist, top)
            variants = sorted(master.variants, key=lambda v: v.bandwidth_bps)
            if not variants:
                raise PlaybackFailed(f"{url}: the master playlist lists no variants")
            media = [self._media(urljoin(url, v.uri)) for v in variants]
            audio_track = next((m for m in master.media if m.type == "AUDIO" and m.default), None)
            audio = self._media(urljoin(url, audio_track.uri)) if audio_track else None
            bitrates = [v.bandwidth_bps for v in variants]
        else:  # one rendition: its bitrate is measured on its first segment
            media = [Rendition.of(url, top, started)]
        first = media[0].playlist
        live = not first.ended
        lists_parts = bool(first.pending_parts) or any(s.parts for s in first.segments)
        low_latency = live and first.part_hold_back_s is not None and lists_parts
        report.live, report.low_latency = live, low_latency
        session = (  # its ABR plans LL-HLS parts as fetched while they are made
            PlaybackSession(
                self.rule,
                bitrates,
                max_buffer_s=self.max_buffer_s,
                started_s=started,
                live=low_latency,
            )
            if bitrates
            else None
        )
        if low_latency:
            session = self._play_parts(media, audio, session, started)
            if session is None:
                raise PlaybackFailed(f"{url}: no part was played")
            report.playback = session.stats()
            return report
        speed = 1.0 if live else self.speed  # a live stream comes no faster than real time
        # the segment to play first, and (a VOD) the number after the last
        number = media[0].first
        last = min(r.end for r in media)
        if live:  # no nearer its newest segment than three (RFC 8216 §6.3.3): wait for them
            media[0] = self._listing(media[0], media[0].first + LIVE_START_BEHIND - 1)
            number = max(media[0].first, media[0].end - LIVE_START_BEHIND)
        elif last <= number:
            raise PlaybackFailed(f"{url}: no segments to play")
        level, played_s = 0, 0.0
        rate, resumed = 1.0, self.clock()  # how fast it plays; when a wait for room ended
        inits: set[str] = set()  # the init segments fetched, by their playlist's URL
        while self.duration_s is None or played_s < self.duration_s:
            if not live and number >= last:
                break
            if session is not None:
                listed = media[level].at(number)
                level = session.choose(
                    listed.duration_s if listed else media[level].target_s,
                    remaining=last - number if not live else LIVE_LOOKAHEAD,
                    speed=speed,
                    waited_s=(self.clock() - resumed) * speed,
                )
            rendition = media[level] = self._listing(media[level], number)
            segment = rendition.at(number)
            if segment is None:
                if number < rendition.first:  # fell behind the live window: on to its start
                    number = rendition.first
                    continue
                break  # the stream ended
            download_started = self.clock()
            playlist = rendition.playlist
            fetched = self._init(rendition, inits)
            chunk = len(
                self._get(urljoin(rendition.url, segment.uri), part=segment.byterange, count=True)
            )
            fetched += chunk
            if audio is not None:
                audio = self._listing(audio, number)
                fetched += self._init(audio, inits)
                if (sound := audio.at(number)) is not None:
                    fetched += len(self._get(urljoin(audio.url, sound.uri), part=sound.byterange))
            now = self.clock()
            if session is None:  # one rendition: its bitrate measured on its first segment
                session = self._measured(chunk, segment.duration_s, started)
            wall_s = now - resumed
            idle_s = session.add(
                level,
                segment.duration_s,
                elapsed_s=media_played(wall_s, session.buffer_s, rate) if live else wall_s * speed,
                took_s=now - download_started,
                size_bytes=fetched,
                now_s=now,
            )
            if live:
                self._behind(segment_made_at(playlist, number), session)
                held_s, stalls = session.buffer_s, session.stats().stalls
                rate = classic_rate(held_s, segment.duration_s, stalls, rendition.target_s)
            played_s += segment.duration_s
            number += 1
            resumed = now + idle_s / speed
            if idle_s > 0:
                self.sleep(idle_s / speed)
        if session is None:
            raise PlaybackFailed(f"{url}: no segment was played")
        report.playback = session.stats()
        return report

    def _play_parts(
        self,
        media: list[Rendition],
        audio: Rendition | None,
        session: PlaybackSession | None,
        started: float,
    ) -> PlaybackSession | None:
        """A low-latency live stream, part by part: shown from the part PART-HOLD-BACK behind
        the newest (fetched from the independent part before it), each next part asked for
        with a blocking reload as it is made; the ABR chooses a rendition at each segment's
        start; the audio's parts are fetched up to the same position with each. Holding more
        than the hold back (it joined from a playlist a cache had kept, or parts came in a
        burst after a stall), it plays faster until it is back (`catch_up_rate`), as hls.js
        does; each stall moves its aim a second further back (`live_target_s`).

        The link is measured a segment at a time, on its parts' bytes over their transfers'
        summed time, once before each choice: a part of a fraction of a second on a fast link
        takes a few milliseconds, which per-request costs and the estimate's 50 ms floor
        dominate, so a part's own sample follows its size (an encoder's last part of a
        segment can be a quarter of the others), and the rule read that spread as a forecast
        gone wrong."""
        level, played_s, inits, rate = 0, 0.0, set[str](), 1.0
        media[0], joined = self._live_start(media[0])
        (msn, index), audio_at = joined.key, joined.start
        measured_bytes, measured_s = 0, 0.0  # the current segment's parts' transfers so far
        resumed = self.clock()
        while self.duration_s is None or played_s < self.duration_s:
            if index == 0 and session is not None:  # a segment starts: a rendition may
                if measured_s > 0:
                    session.observe(measured_s, measured_bytes)
                measured_bytes, measured_s = 0, 0.0
                level = session.choose(  # change there (each segment starts independent)
                    media[level].target_s,
                    remaining=LIVE_LOOKAHEAD,
                    waited_s=self.clock() - resumed,
                )
            media[level], found = self._part_at(media[level], msn, index)
            if found is Listed.ENDED:
                break
            if found is Listed.NEXT:
                msn, index = msn + 1, 0
                continue
            if found is Listed.GONE:  # fell behind the parts listed: to the live edge again
                media[level], joined = self._live_start(media[level])
                (msn, index), audio_at = joined.key, joined.start
                measured_bytes, measured_s, rate = 0, 0.0, 1.0
                if session is not None:
                    session.seek()
                continue
            assert isinstance(found, MediaPart)
            rendition, download_started = media[level], self.clock()
            playlist = rendition.playlist
            fetched = self._init(rendition, inits)
            url = urljoin(rendition.url, found.uri)
            chunk = len(self._get(url, part=found.byterange, count=True))
            # the link is measured on the video: the audio's part may not be made yet, and
            # the wait for it is no transfer
            measured_bytes += fetched + chunk
            measured_s += self.clock() - download_started
            if (msn, index) < joined.start:  # decoded from, not shown: the start is later
                index += 1
                continue
            if audio is not None:
                self._init(audio, inits)
                audio, audio_at = self._audio_parts(audio, audio_at, (msn, index))
            now = self.clock()
            if session is None:  # one rendition: its bitrate measured on its first part
                session = self._measured(chunk, found.duration_s, started)
            elapsed_s = media_played(now - resumed, session.buffer_s, rate)
            idle_s = session.add(level, found.duration_s, elapsed_s=elapsed_s, now_s=now)
            self._behind(made_at(playlist, msn, index), session)
            if playlist.part_hold_back_s is not None:  # the rate until the next part comes
                aim_s = live_target_s(
                    playlist.part_hold_back_s, session.stats().stalls, rendition.target_s
                )
                rate = catch_up_rate(session.buffer_s, aim_s)
            played_s += found.duration_s
            index += 1
            resumed = now + idle_s
            if idle_s > 0:
                self.sleep(idle_s)
        return session

    def _init(self, rendition: Rendition, fetched: set[str]) -> int:
        """The bytes of `rendition`'s init segment (EXT-X-MAP), fetched the first time only."""
        playlist = rendition.playlist
        if rendition.url in fetched or not playlist.init_uri:
            return 0
        fetched.add(rendition.url)
        init = urljoin(rendition.url, playlist.init_uri)
        return len(self._get(init, part=playlist.init_byterange))

    def _measured(self, size: int, duration_s: float, started: float) -> PlaybackSession:
        """The session of a media playlist played on its own: one rendition, at the bitrate
        its first chunk (`size` bytes of `duration_s`) shows."""
        bps = max(1, round(8 * size / duration_s)) if duration_s > 0 else 1
        return PlaybackSession(self.rule, [bps], max_buffer_s=self.max_buffer_s, started_s=started)

    def _audio_parts(
        self, audio: Rendition, at: tuple[int, int], upto: tuple[int, int]
    ) -> tuple[Rendition, tuple[int, int]]:
        """The audio's parts from position `at` through `upto` fetched: the rendition as last
        loaded, and the position after them."""
        while at <= upto:
            audio, found = self._part_at(audio, *at)
            if found is Listed.ENDED:
                break
            if found is Listed.NEXT:
                at = (at[0] + 1, 0)
            elif found is Listed.GONE:  # no longer listed: the audio goes on from the video
                at = (upto[0], upto[1] + 1)
            else:
                assert isinstance(found, MediaPart)
                self._get(urljoin(audio.url, found.uri), part=found.byterange)
                at = (at[0], at[1] + 1)
        return audio, at

    def _live_start(self, rendition: Rendition) -> tuple[Rendition, LiveStart]:
        """Where a low-latency live stream starts (`live_start`), loading its playlist again
        until it lists enough parts; past its end if it ends first."""
        since = self.clock()
        while (start := live_start(rendition.playlist)) is None:
            if rendition.playlist.ended:
                end = next_position(rendition.playlist)
                return rendition, LiveStart(end, end)
            self._check_growing(rendition, since)
            rendition = self._reloaded(rendition, *next_position(rendition.playlist))
        return rendition, start

    def _part_at(
        self, rendition: Rendition, msn: int, index: int
    ) -> tuple[Rendition, MediaPart | Listed]:
        """Part `index` of segment `msn` of `rendition` (loaded again, with blocking reloads,
        until it is listed), or what to do instead (`Listed`)."""
        since = self.clock()
        while (found := listed(rendition.playlist, msn, index)) is Listed.NOT_YET:
            self._check_growing(rendition, since)
            rendition = self._reloaded(rendition, msn, index)
        return rendition, found

    def _listing(self, rendition: Rendition, number: int) -> Rendition:
        """`rendition` listing segment `number`: a live playlist that does not list it yet is
        loaded again until it does or ends."""
        since = self.clock()
        while number >= rendition.end and not rendition.playlist.ended:
            self._check_growing(rendition, since)
            rendition = self._reloaded(rendition, number)
        return rendition

    def _check_growing(self, rendition: Rendition, since: float) -> None:
        """A live playlist that has not grown for `LIVE_STALL_TARGETS` target durations since
        `since` fails the playback."""
        if self.clock() - since > LIVE_STALL_TARGETS * rendition.target_s:
            raise PlaybackFailed(f"{rendition.url}: the live playlist stopped growing")

    def _reloaded(self, rendition: Rendition, msn: int, part: int | None = None) -> Rendition:
        """`rendition` loaded again: held by the server until segment `msn` (part `part` of
        it) is listed where it offers blocking reloads, else half a target duration (half a
        part target for a part) after it was last loaded."""
        if rendition.playlist.can_block_reload:  # held by the server until it is listed
            query = f"_HLS_msn={msn}" + ("" if part is None else f"&_HLS_part={part}")
            text = self._held(f"{rendition.url}{'&' if '?' in rendition.url else '?'}{query}")
            if text is not None:
                return Rendition.of(rendition.url, text, self.clock())
        part_target = rendition.playlist.part_target_s
        wait_s = (part_target if part is not None and part_target else rendition.target_s) / 2
        self.sleep(max(0.0, rendition.loaded_at + wait_s - self.clock()))
        return self._media(rendition.url)

    def _behind(self, made: float | None, session: PlaybackSession) -> None:
        """How far behind the wall clock the picture is once a chunk made by `made` (epoch
        seconds) is in: the chunk's end, less what is buffered ahead of the picture."""
        if made is not None:
            self._report.behind_s.append(self.wall() - made + session.buffer_s)

    def _held(self, url: str) -> str | None:
        """A blocking reload's playlist from the POP being played from; None if it failed (a
        plain reload follows)."""
        try:
            response = self.client.get(self._on_current_pop(url))
        except httpx.HTTPError:
            return None
        return response.text if response.status_code == 200 else None

    def _text(self, url: str) -> str:
        return self._get(url).decode("utf-8", "replace")

    def _media(self, url: str) -> Rendition:
        return Rendition.of(url, self._text(url), self.clock())

    def _on_current_pop(self, url: str) -> str:
        """`url`, on the POP being played from if it names one of the POPs (else as it is)."""
        parts = urlsplit(url)
        host = f"{parts.scheme}://{parts.netloc}"
        return self._bases[self._base] + url[len(host) :] if host in self._bases else url

    def _get(self, url: str, *, part: ByteRange | None = None, count: bool = False) -> bytes:
        """The body at `url` (its `part` only, if given). A URL on the host being played from
        is fetched from the current POP; on failure the next one is tried."""
        parts = urlsplit(url)
        on_pops = f"{parts.scheme}://{parts.netloc}" in self._bases
        headers = {"range": part.header} if part is not None else {}
        why = ""  # the last failure's reason
        for _ in range(len(self._bases) if on_pops else 1):
            target = self._on_current_pop(url)
            try:
                response = self.client.get(target, headers=headers)
                if response.status_code < 500:
                    response.raise_for_status()
                    if count:
                        via = response.headers.get("via", "")
                        self._report.served_by[via.rsplit(" ", 1)[-1] or "origin"] += 1
                        self._report.cache[response.headers.get("x-cache", "NONE")] += 1
                    body = response.content
                    if part is not None and response.status_code == 200:  # a server that
                        body = body[part.offset : part.offset + part.length]  # sent it all
                    return body
                why = f"{target}: {response.status_code}"
            except httpx.HTTPStatusError as exc:
                raise PlaybackFailed(f"{target}: {exc.response.status_code}") from exc
            except httpx.HTTPError as exc:
                why = f"{target}: {str(exc) or type(exc).__name__}"
            self._report.failed_fetches += 1
            if on_pops:
                self._base = (self._base + 1) % len(self._bases)
        if on_pops and len(self._bases) > 1:
            raise PlaybackFailed(f"no POP could serve {url} (the last: {why})")
        raise PlaybackFailed(why)


def _parsed(url: str, parse: Callable[[str], Playlist], text: str) -> Playlist:
    """A playlist parsed, or PlaybackFailed naming what is wrong with it."""
    try:
        return parse(text)
    except ManifestError as exc:
        raise PlaybackFailed(f"{url}: not a playlist we can play: {exc}") from None
