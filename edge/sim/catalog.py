"""The simulated catalog: videos with Zipf popularity and exponential durations, all cut on one
ladder. Segment sizes vary around bitrate x duration, or repeat a real transcoded video's sizes
imported from the catalog database (`ladder_from = "DATABASE_URL#VIDEO_ID"`)."""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass

from edge.sim.workload import object_id, stable_noise
from manifests.catalog import Catalog as ManifestCatalog
from manifests.db import open_database


@dataclass(frozen=True, slots=True)
class Ladder:
    bitrates_bps: tuple[int, ...]  # ascending: the levels the players choose from
    segment_s: float
    sizes: tuple[tuple[int, ...], ...] = ()  # real sizes per level and segment, if imported
    duration_s: float = 0.0  # the imported video's duration

    def __post_init__(self) -> None:
        if not self.bitrates_bps or list(self.bitrates_bps) != sorted(self.bitrates_bps):
            raise ValueError("a ladder's bitrates must be non-empty and ascending")


class Catalog:
    """`videos` ranked by popularity, plus one more (the last id): a new release that nobody has
    watched yet, for flash crowds."""

    def __init__(
        self,
        ladder: Ladder,
        *,
        videos: int,
        zipf_alpha: float,
        mean_duration_s: float,
        seed: int,
    ) -> None:
        rng = random.Random(seed)
        self.ladder = ladder
        self.videos = videos
        self.new_release = videos
        if ladder.sizes:
            self.durations_s = [ladder.duration_s] * (videos + 1)
        else:
            self.durations_s = [
                max(60.0, rng.expovariate(1 / mean_duration_s)) for _ in range(videos + 1)
            ]
        total = 0.0
        self._cumulative = []
        for rank in range(videos):
            total += 1 / (rank + 1) ** zipf_alpha
            self._cumulative.append(total)

    def pick(self, rng: random.Random) -> int:
        """A video, by popularity."""
        cumulative = self._cumulative
        i = bisect.bisect_left(cumulative, rng.random() * cumulative[-1])
        return min(i, self.videos - 1)

    def segments(self, video: int) -> int:
        return max(1, math.ceil(self.durations_s[video] / self.ladder.segment_s - 1e-9))

    def size(self, video: int, level: int, segment: int) -> int:
        sizes = self.ladder.sizes
        if sizes:
            row = sizes[level]
            return row[segment % len(row)]
        base = self.ladder.bitrates_bps[level] * self.ladder.segment_s / 8
        return int(base * (0.75 + 0.5 * stable_noise(object_id(video, level, segment))))


def ladder_from_catalog(database_url: str, video_id: str) -> Ladder:
    """A transcoded video's real ladder: its video renditions' BANDWIDTH and media segment
    sizes and durations, from the catalog database."""
    catalog = ManifestCatalog(open_database(database_url))
    renditions = sorted(
        (r for r in catalog.renditions(video_id) if r.kind == "video"),
        key=lambda r: r.bandwidth_bps,
    )
    if not renditions:
        raise ValueError(f"video {video_id!r} has no published video renditions")
    objects = catalog.objects(video_id)
    sizes, durations = [], []
    for rendition in renditions:
        media = [o for o in objects if o.rendition == rendition.name and o.duration_s]
        if not media:
            raise ValueError(f"rendition {rendition.name!r} has no media segments")
        sizes.append(tuple(o.size_bytes for o in media))
        durations.append(math.fsum(o.duration_s or 0.0 for o in media))
    segment_s = durations[0] / len(sizes[0])
    return Ladder(tuple(r.bandwidth_bps for r in renditions), segment_s, tuple(sizes), durations[0])
