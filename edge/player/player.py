"""`mediacdn play`: a headless HLS player. It fetches the master playlist, plays it through the
playback-session model the simulator uses (edge/player/session.py: ABR rule, buffer, stalls,
QoE), downloads segments in real time or faster, retries a failed fetch on the next POP, and
reports quality of experience."""

from __future__ import annotations

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
from manifests.model import ByteRange, MasterPlaylist, MediaPlaylist
from manifests.parse import parse_master_playlist, parse_media_playlist

Playlist = TypeVar("Playlist", MasterPlaylist, MediaPlaylist)


class PlaybackFailed(RuntimeError):
    pass


@dataclass
class SessionReport:
    """A playback over HTTP: the session's figures, plus who served it and what failed."""

    playback: PlaybackStats
    failed_fetches: int = 0
    served_by: Counter[str] = field(default_factory=Counter)
    cache: Counter[str] = field(default_factory=Counter)

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
        }


class HeadlessPlayer:
    def __init__(
        self,
        client: httpx.Client,
        *,
        rule: str = DEFAULT_RULE,
        speed: float = 1.0,
        max_buffer_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rule not in RULES:
            raise ValueError(f"unknown ABR rule {rule!r} (one of {', '.join(RULES)})")
        self.client = client
        self.rule = rule
        self.speed = speed
        self.max_buffer_s = max_buffer_s
        self.clock = clock
        self.sleep = sleep

    def play(self, url: str, alternatives: Sequence[str] = ()) -> SessionReport:
        """Play the playlist at `url`: a master playlist, or a media playlist on its own (one
        rendition). `alternatives` are other base URLs (POPs) to fail over to: a URL on the
        host being played from is fetched from the next of them when it fails. URIs in
        playlists may be relative or absolute, segments whole or byte ranges of a file."""
        parts = urlsplit(url)
        bases = [f"{parts.scheme}://{parts.netloc}", *(a.rstrip("/") for a in alternatives)]
        report = SessionReport(PlaybackStats(self.rule))
        self._bases, self._base, self._report = bases, 0, report
        started = self.clock()
        top = self._text(url)
        media: list[tuple[str, MediaPlaylist]]
        audio: tuple[str, MediaPlaylist] | None = None
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
            media = [(url, _parsed(url, parse_media_playlist, top))]
        count = min(len(playlist.segments) for _, playlist in media)
        if not count:
            raise PlaybackFailed(f"{url}: no segments to play")
        level = 0
        resumed = self.clock()  # when the last wait for buffer room ended
        init_loaded: set[int] = set()
        audio_init = False
        for n in range(count):
            segment_s = media[level][1].segments[n].duration_s
            if session is not None:
                level = session.choose(
                    segment_s,
                    remaining=count - n,
                    speed=self.speed,
                    waited_s=(self.clock() - resumed) * self.speed,
                )
            path, playlist = media[level]
            fetched = 0
            download_started = self.clock()
            if level not in init_loaded and playlist.init_uri:
                init = urljoin(path, playlist.init_uri)
                fetched += len(self._get(init, part=playlist.init_byterange))
                init_loaded.add(level)
            segment = playlist.segments[n]
            chunk = len(self._get(urljoin(path, segment.uri), part=segment.byterange, count=True))
            fetched += chunk
            if audio is not None and n < len(audio[1].segments):
                track_path, track = audio
                if not audio_init and track.init_uri:
                    init = urljoin(track_path, track.init_uri)
                    fetched += len(self._get(init, part=track.init_byterange))
                    audio_init = True
                sound = track.segments[n]
                fetched += len(self._get(urljoin(track_path, sound.uri), part=sound.byterange))
            now = self.clock()
            if session is None:
                measured = [max(1, round(8 * chunk / segment_s)) if segment_s > 0 else 1]
                session = PlaybackSession(
                    self.rule, measured, max_buffer_s=self.max_buffer_s, started_s=started
                )
            idle_s = session.add(
                level,
                segment.duration_s,
                elapsed_s=(now - resumed) * self.speed,
                took_s=now - download_started,
                size_bytes=fetched,
                now_s=now,
            )
            resumed = now + idle_s / self.speed
            if idle_s > 0:
                self.sleep(idle_s / self.speed)
        report.playback = session.stats() if session is not None else report.playback
        return report

    def _text(self, url: str) -> str:
        return self._get(url).decode("utf-8", "replace")

    def _media(self, url: str) -> tuple[str, MediaPlaylist]:
        return url, _parsed(url, parse_media_playlist, self._text(url))

    def _get(self, url: str, *, part: ByteRange | None = None, count: bool = False) -> bytes:
        """The body at `url` (its `part` only, if given). A URL on the host being played from
        is fetched from the current POP; on failure the next one is tried."""
        parts = urlsplit(url)
        host = f"{parts.scheme}://{parts.netloc}"
        on_pops = host in self._bases
        headers = {"range": part.header} if part is not None else {}
        for _ in range(len(self._bases) if on_pops else 1):
            target = self._bases[self._base] + url[len(host) :] if on_pops else url
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
