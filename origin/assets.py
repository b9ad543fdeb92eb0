"""In-memory view of published videos for the playback hot path: playlists and object index.

A published video never changes (only deletion), so entries live for `ttl_s`; misses are
remembered briefly so a burst of requests for an unknown id costs one DB query.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import anyio.to_thread

from manifests.catalog import Catalog
from manifests.records import StoredObject

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mp4": "video/mp4",
    ".m4s": "video/iso.segment",
    ".vtt": "text/vtt; charset=utf-8",
    ".jpg": "image/jpeg",
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One servable file: a playlist held in memory, or an object in storage."""

    content_type: str
    etag: str
    size_bytes: int
    body: bytes | None = None
    key: str | None = None
    immutable: bool = False


@dataclass(frozen=True, slots=True)
class VideoAssets:
    video_id: str
    modified_at: float
    entries: dict[str, Entry]
    signed: bool = False  # playback needs a token


def content_type(path: str) -> str:
    dot = path.rfind(".")
    return CONTENT_TYPES.get(path[dot:], "application/octet-stream")


def playlist_entry(path: str, text: str) -> Entry:
    body = text.encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Entry(content_type(path), etag, len(body), body=body)


def object_entry(obj: StoredObject) -> tuple[str, Entry]:
    path = f"{obj.rendition}/{obj.name}"
    return path, Entry(
        content_type(path), f'"{obj.sha256[:32]}"', obj.size_bytes, key=obj.key, immutable=True
    )


def load_assets(catalog: Catalog, video_id: str) -> VideoAssets | None:
    video = catalog.get_video(video_id)
    if video is None or video.status != "ready":
        return None
    entries = {
        path: playlist_entry(path, text) for path, text in catalog.playlists(video_id).items()
    }
    entries.update(object_entry(obj) for obj in catalog.objects(video_id))
    if "master.m3u8" not in entries:
        return None
    return VideoAssets(video_id, video.updated_at, entries, signed=video.access == "signed")


class AssetCache:
    def __init__(
        self,
        catalog: Catalog,
        *,
        ttl_s: float = 30.0,
        miss_ttl_s: float = 0.5,
        max_videos: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.catalog = catalog
        self.ttl_s = ttl_s
        self.miss_ttl_s = miss_ttl_s
        self.max_videos = max_videos
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, VideoAssets | None]] = OrderedDict()
        self._loading: dict[str, asyncio.Future[VideoAssets | None]] = {}

    async def get(self, video_id: str) -> VideoAssets | None:
        now = self.clock()
        cached = self._entries.get(video_id)
        if cached is not None and cached[0] > now:
            self._entries.move_to_end(video_id)
            return cached[1]
        pending = self._loading.get(video_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[VideoAssets | None] = asyncio.get_running_loop().create_future()
        self._loading[video_id] = future
        try:
            assets = await anyio.to_thread.run_sync(load_assets, self.catalog, video_id)
            ttl = self.ttl_s if assets is not None else self.miss_ttl_s
            self._entries[video_id] = (self.clock() + ttl, assets)
            self._entries.move_to_end(video_id)
            while len(self._entries) > self.max_videos:
                self._entries.popitem(last=False)
            future.set_result(assets)
            return assets
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            del self._loading[video_id]

    def invalidate(self, video_id: str) -> None:
        self._entries.pop(video_id, None)
