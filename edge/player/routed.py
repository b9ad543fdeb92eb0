"""Playing through a router: ask it (or the next of several) which POP serves a client's
location, then play from that POP with the router's alternatives to fail over to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from edge.player.player import HeadlessPlayer, PlaybackFailed, SessionReport
from edge.wire import RouteDecision


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
