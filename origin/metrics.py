"""Prometheus text-format counters for the origin (no client library needed)."""

from __future__ import annotations

import threading
from collections import Counter


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.responses: Counter[tuple[str, int]] = Counter()
        self.bytes_sent: Counter[str] = Counter()
        self.upload_bytes = 0
        self.uploads: Counter[str] = Counter()

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

    def render(self, gauges: dict[str, float] | None = None) -> str:
        lines = [
            "# HELP mediacdn_origin_responses_total Responses sent, by route and status.",
            "# TYPE mediacdn_origin_responses_total counter",
        ]
        for (route, status), count in sorted(self.responses.items()):
            lines.append(
                f'mediacdn_origin_responses_total{{route="{route}",status="{status}"}} {count}'
            )
        lines += [
            "# HELP mediacdn_origin_sent_bytes_total Body bytes sent, by route.",
            "# TYPE mediacdn_origin_sent_bytes_total counter",
        ]
        for route, total in sorted(self.bytes_sent.items()):
            lines.append(f'mediacdn_origin_sent_bytes_total{{route="{route}"}} {total}')
        lines += [
            "# HELP mediacdn_origin_uploads_total Completed uploads, by kind.",
            "# TYPE mediacdn_origin_uploads_total counter",
        ]
        for kind, count in sorted(self.uploads.items()):
            lines.append(f'mediacdn_origin_uploads_total{{kind="{kind}"}} {count}')
        lines += [
            "# HELP mediacdn_origin_upload_bytes_total Bytes received in completed uploads.",
            "# TYPE mediacdn_origin_upload_bytes_total counter",
            f"mediacdn_origin_upload_bytes_total {self.upload_bytes}",
        ]
        for name, value in sorted((gauges or {}).items()):
            lines += [f"# TYPE {name} gauge", f"{name} {value:g}"]
        return "\n".join(lines) + "\n"
