"""`mediacdn play`: a headless HLS player. It fetches the master playlist, plays it through the
playback-session model the simulator uses (edge/player/session.py: ABR rule, buffer, stalls,
QoE), downloads segments in real time or faster, retries a failed fetch on the next POP, and
reports quality of experience."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

from edge.player.abr_controller import DEFAULT_RULE, RULES
from edge.player.session import PlaybackSession, PlaybackStats
from edge.wire import RouteDecision
from manifests.errors import ManifestError
from manifests.model import ByteRange, MasterPlaylist, MediaPlaylist, Segment
from manifests.parse import parse_master_playlist, parse_media_playlist

Playlist = TypeVar("Playlist", MasterPlaylist, MediaPlaylist)

LIVE_START_BEHIND = 3  # a live stream starts this many segments behind its newest (RFC 8216 §6.3.3)
LIVE_LOOKAHEAD = 5  # segments the ABR rule plans ahead in a live stream
LIVE_RELOAD_MIN_S = 0.5  # the shortest wait between two plain reloads of a live playlist
LIVE_TARGET_S = 2.0  # a live playlist's target duration when it says none and lists nothing
LIVE_STALL_TARGETS = 6  # target durations without a new segment: the live playlist has stopped
_TARGET = re.compile(r"^#EXT-X-TARGETDURATION:(\d+)\s*$", re.MULTILINE)
_BLOCKING = re.compile(r"^#EXT-X-SERVER-CONTROL:.*CAN-BLOCK-RELOAD=YES", re.MULTILINE)


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
        }


@dataclass
class Rendition:
    """A media playlist as last loaded, and when (a live one is loaded again as it grows)."""

    url: str
    playlist: MediaPlaylist
    loaded_at: float
    target_s: float  # EXT-X-TARGETDURATION (else the longest segment listed)
    blocking: bool  # the server holds a reload until a segment is listed (LL-HLS)

    @classmethod
    def of(cls, url: str, text: str, loaded_at: float) -> Rendition:
        playlist = _parsed(url, parse_media_playlist, text)
        target = _TARGET.search(text)
        durations = [s.duration_s for s in playlist.segments]
        target_s = float(target[1]) if target else max(durations, default=LIVE_TARGET_S)
        blocking = _BLOCKING.search(text) is not None
        return cls(url, playlist, loaded_at, max(target_s, LIVE_RELOAD_MIN_S), blocking)

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

    def play(self, url: str, alternatives: Sequence[str] = ()) -> SessionReport:
        """Play the playlist at `url`: a master playlist, or a media playlist on its own (one
        rendition). `alternatives` are other base URLs (POPs) to fail over to: a URL on the
        host being played from is fetched from the next of them when it fails. URIs in
        playlists may be relative or absolute, segments whole or byte ranges of a file. A live
        playlist (no EXT-X-ENDLIST) is played in real time from three segments behind its
        newest, loaded again as it grows, until it ends (or `duration_s` of media played)."""
        parts = urlsplit(url)
        bases = [f"{parts.scheme}://{parts.netloc}", *(a.rstrip("/") for a in alternatives)]
        report = SessionReport(PlaybackStats(self.rule))
        self._bases, self._base, self._report = bases, 0, report
        started = self.clock()
        top = self._text(url)
        media: list[Rendition]
        audio: Rendition | None = None
        session: PlaybackSession | None = None
        if "#EXT-X-STREAM-INF:" in top:
            master = _parsed(url, parse_master_playlist, top)
            variants = sorted(master.variants, key=lambda v: v.bandwidth_bps)
            if not variants:
                raise PlaybackFailed(f"{url}: the master playlist lists no variants")
            media = [self._media(urljoin(url, v.uri)) for v in variants]
            audio_track = next((m for m in master.media if m.type == "AUDIO" and m.default), None)
            audio = self._media(urljoin(url, audio_track.uri)) if audio_track else None
            bitrates = [v.bandwidth_bps for v in variants]
            session = PlaybackSession(
                self.rule, bitrates, max_buffer_s=self.max_buffer_s, started_s=started
            )
        else:  # one rendition: its bitrate is measured on its first segment
            media = [Rendition.of(url, top, started)]
        live = not media[0].playlist.ended
        report.live = live
        speed = 1.0 if live else self.speed  # a live stream comes no faster than real time
        # the segment to play first, and (a VOD) the number after the last
        number = media[0].first
        last = min(r.end for r in media)
        if live:  # no nearer its newest segment than three (RFC 8216 §6.3.3): wait for them
            media[0] = self._listing(media[0], media[0].first + LIVE_START_BEHIND - 1)
            number = max(media[0].first, media[0].end - LIVE_START_BEHIND)
        elif last <= number:
            raise PlaybackFailed(f"{url}: no segments to play")
        level = 0
        played_s = 0.0
        resumed = self.clock()  # when the last wait for buffer room ended
        init_loaded: set[int] = set()
        audio_init = False
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
            fetched = 0
            playlist = rendition.playlist
            if level not in init_loaded and playlist.init_uri:
                init = urljoin(rendition.url, playlist.init_uri)
                fetched += len(self._get(init, part=playlist.init_byterange))
                init_loaded.add(level)
            chunk = len(
                self._get(urljoin(rendition.url, segment.uri), part=segment.byterange, count=True)
            )
            fetched += chunk
            if audio is not None:
                audio = self._listing(audio, number)
                track = audio.playlist
                if not audio_init and track.init_uri:
                    init = urljoin(audio.url, track.init_uri)
                    fetched += len(self._get(init, part=track.init_byterange))
                    audio_init = True
                if (sound := audio.at(number)) is not None:
                    fetched += len(self._get(urljoin(audio.url, sound.uri), part=sound.byterange))
            now = self.clock()
            if session is None:
                measured = [
                    max(1, round(8 * chunk / segment.duration_s)) if segment.duration_s > 0 else 1
                ]
                session = PlaybackSession(
                    self.rule, measured, max_buffer_s=self.max_buffer_s, started_s=started
                )
            idle_s = session.add(
                level,
                segment.duration_s,
                elapsed_s=(now - resumed) * speed,
                took_s=now - download_started,
                size_bytes=fetched,
                now_s=now,
            )
            played_s += segment.duration_s
            number += 1
            resumed = now + idle_s / speed
            if idle_s > 0:
                self.sleep(idle_s / speed)
        if session is None:
            raise PlaybackFailed(f"{url}: no segment was played")
        report.playback = session.stats()
        return report

    def _listing(self, rendition: Rendition, number: int) -> Rendition:
        """`rendition` listing segment `number`: a live playlist that does not list it yet is
        loaded again until it does or ends (with a blocking reload where the server offers
        one, else every half a target duration); one that stops growing for
        `LIVE_STALL_TARGETS` target durations fails the playback."""
        since = self.clock()
        while number >= rendition.end and not rendition.playlist.ended:
            if self.clock() - since > LIVE_STALL_TARGETS * rendition.target_s:
                raise PlaybackFailed(f"{rendition.url}: the live playlist stopped growing")
            if rendition.blocking:  # held by the server until the segment is listed
                held = f"{rendition.url}{'&' if '?' in rendition.url else '?'}_HLS_msn={number}"
                text = self._held(held)
                if text is not None:
                    rendition = Rendition.of(rendition.url, text, self.clock())
                    continue
            wait_s = rendition.target_s / 2
            self.sleep(max(0.0, rendition.loaded_at + wait_s - self.clock()))
            rendition = self._media(rendition.url)
        return rendition

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
            except httpx.HTTPStatusError as exc:
                raise PlaybackFailed(f"{target}: {exc.response.status_code}") from exc
            except httpx.HTTPError:
                pass
            self._report.failed_fetches += 1
            if on_pops:
                self._base = (self._base + 1) % len(self._bases)
        raise PlaybackFailed(f"no POP could serve {url}" if on_pops else f"{url} failed")


def _parsed(url: str, parse: Callable[[str], Playlist], text: str) -> Playlist:
    """A playlist parsed, or PlaybackFailed naming what is wrong with it."""
    try:
        return parse(text)
    except ManifestError as exc:
        raise PlaybackFailed(f"{url}: not a playlist we can play: {exc}") from None


@dataclass(frozen=True)
class RoutedSession:
    pop: str
    distance_km: float
    report: SessionReport


def route_via(
    client: httpx.Client, routers: Sequence[str], geo: tuple[float, float], path: str
) -> RouteDecision:
    """The first answer of `routers`, asked in turn: a router that is down or failing is
    skipped; one that answers with a refusal (no POP, a bad location) is believed."""
    failures = []
    for router in routers:
        try:
            answer = client.get(
                router.rstrip("/") + "/route",
                params={"geo": f"{geo[0]},{geo[1]}", "path": path},
            )
        except httpx.HTTPError as exc:
            failures.append(f"{router}: {exc}")
            continue
        if answer.status_code >= 500 and answer.status_code != 503:
            failures.append(f"{router}: {answer.status_code}")
            continue
        if answer.status_code != 200:
            raise PlaybackFailed(f"the router said {answer.status_code}: {answer.text}")
        try:
            return RouteDecision.from_json(answer.json())
        except ValueError as exc:  # not JSON, or a WireError
            failures.append(f"{router}: the answer does not decode: {exc}")
    raise PlaybackFailed("no router answered: " + "; ".join(failures))


def play_via_router(
    client: httpx.Client,
    routers: str | Sequence[str],
    geo: tuple[float, float],
    path: str,
    player: HeadlessPlayer,
) -> RoutedSession:
    """Ask a router which POP serves a client at `geo` for `path` (a master playlist path;
    the next router if one is down), then play from that POP, failing over to the router's
    alternatives."""
    route = route_via(client, [routers] if isinstance(routers, str) else routers, geo, path)
    alternatives = [
        f"{urlsplit(a.url).scheme}://{urlsplit(a.url).netloc}" for a in route.alternatives
    ]
    report = player.play(route.chosen.url, alternatives)
    return RoutedSession(route.chosen.pop, route.distance_km, report)
