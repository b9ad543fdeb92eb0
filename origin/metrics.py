"""The origin's Prometheus metrics: playback and uploads, every route's HTTP figures
(httprules/observe.py) and the process's."""

from __future__ import annotations

import threading
from collections import Counter

from httprules.observe import HttpMetrics
from httprules.prometheus import Family, process_families, render


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.responses: Counter[tuple[str, int]] = Counter()
        self.bytes_sent: Counter[str] = Counter()
        self.upload_bytes = 0
        self.uploads: Counter[str] = Counter()
        self.http = HttpMetrics("mediacdn_origin")

    def count_response(self, route: str, status: int, body_bytes: int) -> None:
        self.responses[(route, status)] += 1
        if body_bytes:
            self.bytes_sent[route] += body_bytes

    def totals(self, route: str) -> tuple[int, int]:
        """(responses, body bytes) sent on `route` so far."""
        responses = sum(n for (r, _), n in list(self.responses.items()) if r == route)
        return responses, self.bytes_sent[route]

    def count_upload(self, kind: str, size_bytes: int) -> None:
        with self._lock:
            self.uploads[kind] += 1
            self.upload_bytes += size_bytes

    def render(self, gauges: dict[str, tuple[float, str]] | None = None) -> str:
        """The text exposition: playback and upload counts, the HTTP figures of every route,
        `gauges` (name → (value, help)) and the process's own."""
        responses = Family(
            "mediacdn_origin_playback_responses_total",
            "counter",
            "Playback responses, by route and status.",
        )
        for (route, status), count in sorted(self.responses.items()):
            responses.add(count, route=route, status=status)
        sent = Family(
            "mediacdn_origin_playback_sent_bytes_total", "counter", "Playback body bytes, by route."
        )
        for route, total in sorted(self.bytes_sent.items()):
            sent.add(total, route=route)
        uploads = Family("mediacdn_origin_uploads_total", "counter", "Completed uploads, by kind.")
        for kind, count in sorted(self.uploads.items()):
            uploads.add(count, kind=kind)
        upload_bytes = Family(
            "mediacdn_origin_upload_bytes_total", "counter", "Bytes received in completed uploads."
        ).add(self.upload_bytes)
        extra = [
            Family(name, "gauge", help).add(value)
            for name, (value, help) in sorted((gauges or {}).items())
        ]
        return render(
            [
                responses,
                sent,
                uploads,
                upload_bytes,
                *self.http.families(),
                *extra,
                *process_families(),
            ]
        )
