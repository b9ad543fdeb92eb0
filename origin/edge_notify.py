"""Tell the CDN's edges about changes: push a newly published video's playlists and first
segments to push targets, purge a deleted video from every known edge. Best effort: a slow
or dead edge is logged and never holds up a publish or a delete."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from manifests.records import Publication, StoredObject
from origin.assets import Entry, object_entry, playlist_entry
from storage import Storage

log = logging.getLogger("mediacdn.edges")


@dataclass(frozen=True, slots=True)
class EdgeTargets:
    purge: tuple[str, ...] = ()  # admin base URLs of every known edge
    push: tuple[str, ...] = ()  # admin base URLs of the push targets
    admin_key: str = ""
    push_segments: int = 3
    playlist_cache_control: str = "public, max-age=10"
    segment_cache_control: str = "public, max-age=31536000, immutable"
    timeout_s: float = 5.0

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    def purge_video(self, video_id: str) -> dict[str, str]:
        results = {}
        with httpx.Client(timeout=self.timeout_s) as http:
            for target in self.purge:
                try:
                    response = http.post(
                        target.rstrip("/") + "/admin/purge",
                        json={"prefixes": [f"/vod/{video_id}/"]},
                        headers=self._headers(),
                    )
                    results[target] = f"{response.status_code}"
                except httpx.HTTPError as exc:
                    results[target] = f"failed: {exc}"
                    log.warning("purge of %s on %s failed: %s", video_id, target, exc)
        return results

    def push_video(self, video_id: str, publication: Publication, storage: Storage) -> int:
        """PUT the playlists and each rendition's init + first segments; returns objects sent."""
        if not self.push:
            return 0
        objects = [o for o in publication.objects if self._pushes(o)]
        sent = 0
        with httpx.Client(timeout=self.timeout_s) as http:
            for target in self.push:
                base = f"{target.rstrip('/')}/admin/objects/vod/{video_id}/"
                try:
                    for path, text in publication.playlists.items():
                        entry = playlist_entry(path, text)
                        self._put(
                            http,
                            base + path,
                            entry.body or b"",
                            entry.content_type,
                            entry.etag,
                            self.playlist_cache_control,
                        )
                        sent += 1
                    for path, entry, data in self._objects(objects, storage):
                        self._put(
                            http,
                            base + path,
                            data,
                            entry.content_type,
                            entry.etag,
                            self.segment_cache_control,
                        )
                        sent += 1
                except httpx.HTTPError as exc:
                    log.warning("push of %s to %s failed: %s", video_id, target, exc)
        return sent

    def _pushes(self, obj: StoredObject) -> bool:
        stem = obj.name.split(".", 1)[0]
        return obj.name == "init.mp4" or (stem.isdigit() and int(stem) < self.push_segments)

    @staticmethod
    def _objects(
        objects: list[StoredObject], storage: Storage
    ) -> Iterable[tuple[str, Entry, bytes]]:
        for obj in objects:
            path, entry = object_entry(obj)
            yield path, entry, storage.get_bytes(obj.key)

    def _put(
        self,
        http: httpx.Client,
        url: str,
        body: bytes,
        content_type: str,
        etag: str,
        cache_control: str,
    ) -> None:
        response = http.put(
            url,
            content=body,
            headers={
                **self._headers(),
                "Content-Type": content_type,
                "ETag": etag,
                "Cache-Control": cache_control,
            },
        )
        response.raise_for_status()
