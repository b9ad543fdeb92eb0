"""`mediacdn play`: a headless HLS player. It fetches the master playlist, picks renditions
with an ABR rule from edge/abr.py (the simulator's own), downloads segments in real time or
faster, retries a failed fetch on the next POP, and reports quality of experience."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

from edge.abr import Chunk, qoe_scores
from edge.abr_controller import DEFAULT_RULE, RULES, AbrController
from manifests.model import MediaPlaylist
from manifests.parse import parse_master_playlist, parse_media_playlist


class PlaybackFailed(RuntimeError):
    pass


@dataclass
class SessionReport:
    rule: str
    startup_s: float = 0.0
    rebuffer_count: int = 0
    rebuffer_s: float = 0.0
    chunks: list[Chunk] = field(default_factory=list)
    switches: int = 0
    failed_fetches: int = 0
    served_by: Counter[str] = field(default_factory=Counter)
    cache: Counter[str] = field(default_factory=Counter)

    @property
    def average_bitrate_bps(self) -> float:
        return sum(c.bitrate_bps for c in self.chunks) / len(self.chunks) if self.chunks else 0.0

    @property
    def qoe_mean(self) -> float:
        scores = qoe_scores(self.chunks)
        return sum(scores) / len(scores) if scores else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "startup_s": round(self.startup_s, 3),
            "rebuffer_count": self.rebuffer_count,
            "rebuffer_s": round(self.rebuffer_s, 3),
            "average_bitrate_bps": round(self.average_bitrate_bps),
            "switches": self.switches,
            "segments": len(self.chunks),
            "qoe_mean": round(self.qoe_mean, 4),
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

    def play(self, master_url: str, alternatives: Sequence[str] = ()) -> SessionReport:
        """Play `master_url`; `alternatives` are other base URLs (POPs) to fail over to."""
        parts = urlsplit(master_url)
        bases = [f"{parts.scheme}://{parts.netloc}", *(a.rstrip("/") for a in alternatives)]
        report = SessionReport(self.rule)
        self._bases, self._base, self._report = bases, 0, report
        started = self.clock()
        master = parse_master_playlist(self._get(parts.path).text)
        variants = sorted(master.variants, key=lambda v: v.bandwidth_bps)
        if not variants:
            raise PlaybackFailed("the master playlist lists no variants")
        playlist_dir = parts.path.rsplit("/", 1)[0] + "/"
        media = [self._media(urljoin(playlist_dir, v.uri)) for v in variants]
        audio_track = next((m for m in master.media if m.type == "AUDIO" and m.default), None)
        audio = self._media(urljoin(playlist_dir, audio_track.uri)) if audio_track else None
        bitrates = [v.bandwidth_bps for v in variants]
        abr = AbrController(self.rule, bitrates, max_buffer_s=self.max_buffer_s)
        count = len(media[0][1].segments)
        level, buffer_s, last, playing = 0, 0.0, self.clock(), False
        init_loaded: set[int] = set()
        audio_init = False
        for n in range(count):
            now = self.clock()
            if playing:
                buffer_s -= (now - last) * self.speed
                if buffer_s < 0:
                    report.rebuffer_count += 1
                    stall = -buffer_s
                    buffer_s = 0.0
                else:
                    stall = 0.0
            else:
                stall = 0.0
            last = now
            segment_s = media[level][1].segments[n].duration_s
            choice = abr.choose(buffer_s, playing, segment_s, remaining=count - n, speed=self.speed)
            if n and choice != level:
                report.switches += 1
            level = choice
            path, playlist = media[level]
            fetched = 0
            download_started = self.clock()
            if level not in init_loaded and playlist.init_uri:
                fetched += len(self._get(urljoin(path, playlist.init_uri)).content)
                init_loaded.add(level)
            fetched += len(self._get(urljoin(path, playlist.segments[n].uri), count=True).content)
            if audio is not None and n < len(audio[1].segments):
                if not audio_init and audio[1].init_uri:
                    fetched += len(self._get(urljoin(audio[0], audio[1].init_uri)).content)
                    audio_init = True
                fetched += len(self._get(urljoin(audio[0], audio[1].segments[n].uri)).content)
            took = self.clock() - download_started
            abr.observe(took, fetched)
            now = self.clock()
            if playing:
                buffer_s -= (now - last) * self.speed
                if buffer_s < 0:  # the buffer ran dry while this segment downloaded
                    report.rebuffer_count += 0 if stall else 1
                    stall += -buffer_s
                    buffer_s = 0.0
            else:
                playing = True
                report.startup_s = now - started
            last = now
            report.rebuffer_s += stall
            report.chunks.append(Chunk(bitrates[level], stall))
            buffer_s += playlist.segments[n].duration_s
            if buffer_s > self.max_buffer_s:
                self.sleep((buffer_s - self.max_buffer_s) / self.speed)
        return report

    def _media(self, path: str) -> tuple[str, MediaPlaylist]:
        return path, parse_media_playlist(self._get(path).text)

    def _get(self, path: str, *, count: bool = False) -> httpx.Response:
        """GET from the current POP; on failure move to the next one and try again."""
        for _ in range(len(self._bases)):
            url = self._bases[self._base] + path
            try:
                response = self.client.get(url)
                if response.status_code < 500:
                    response.raise_for_status()
                    if count:
                        via = response.headers.get("via", "")
                        self._report.served_by[via.rsplit(" ", 1)[-1] or "origin"] += 1
                        self._report.cache[response.headers.get("x-cache", "NONE")] += 1
                    return response
            except httpx.HTTPStatusError as exc:
                raise PlaybackFailed(f"{url}: {exc.response.status_code}") from exc
            except httpx.HTTPError:
                pass
            self._report.failed_fetches += 1
            self._base = (self._base + 1) % len(self._bases)
        raise PlaybackFailed(f"no POP could serve {path}")


@dataclass(frozen=True)
class RoutedSession:
    pop: str
    distance_km: float
    report: SessionReport


def play_via_router(
    client: httpx.Client,
    router_url: str,
    geo: tuple[float, float],
    path: str,
    player: HeadlessPlayer,
) -> RoutedSession:
    """Ask the router which POP serves a client at `geo` for `path` (a master playlist path),
    then play from that POP, failing over to the router's alternatives."""
    answer = client.get(
        router_url.rstrip("/") + "/route", params={"geo": f"{geo[0]},{geo[1]}", "path": path}
    )
    if answer.status_code != 200:
        raise PlaybackFailed(f"the router said {answer.status_code}: {answer.text}")
    route = answer.json()
    alternatives = [
        f"{urlsplit(a['url']).scheme}://{urlsplit(a['url']).netloc}" for a in route["alternatives"]
    ]
    report = player.play(route["url"], alternatives)
    return RoutedSession(route["pop"], float(route["distance_km"]), report)
