"""Who may be served by this POP, decided before the cache and without asking upstream.

- A playback token in the path (or the `X-Playback-Token` header) is verified with the keys the
  POP was given and taken out of the URL: the cache key and the upstream URL never hold it, so
  every viewer of a video shares one cached copy and one upstream fetch.
- A response of a signed video (`X-Playback-Access: signed`, set by the origin) is only sent to
  a request a token granted, whether it comes from the store or from a fill.
- The POP's own fills carry a token for the whole site, minted with the same keys, so the
  origin (or a parent POP) serves them what it would refuse a viewer without a token.
- Each client address has a rate limit (requests a second and a burst); requests that a
  site-wide header token granted, i.e. fills from a child POP, are not counted, nor those
  from the addresses the limit exempts (child POPs that fill without playback keys).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.pop.config import EdgeConfig
from httprules.addresses import Network, client_key, networks, within
from httprules.asgi import Scope
from httprules.playback_tokens import (
    ACCESS_HEADER,
    TOKEN_HEADER,
    KeyFile,
    admit_request,
    grants_site,
    mint,
)
from httprules.ratelimit import Decision, Rate, RateLimit, open_limit
from httprules.targets import without_dot_segments

FILL_TOKEN_TTL_S = 300
FILL_TOKEN_RENEW_S = 60  # mint a new one when the current one has less than this left


PLAIN_KEPT = 4096  # admissions of plain paths kept (forgotten all at once)


@dataclass(frozen=True, slots=True)
class Admission:
    url: str  # the request's path (and query) without its token
    granted: bool  # a token granted it
    by_header: bool  # a site-wide token in the header: a POP's fill, not a viewer
    plain: bool = False  # decided by the path alone: no keys, no token (the same every time)


class PlaybackGate:
    def __init__(
        self,
        keys: KeyFile | None,
        limit: RateLimit | None,
        clock: Callable[[], float] = time.time,
        exempt: tuple[Network, ...] = (),
    ) -> None:
        self.keys = keys
        self.limit = limit
        self.exempt = exempt
        self.clock = clock
        self._fill_token: tuple[str, float, str] | None = None  # token, expiry, key id
        self._plain: dict[str, Admission] = {}  # admissions of plain paths lately asked for

    @classmethod
    def of(cls, config: EdgeConfig, clock: Callable[[], float] = time.time) -> PlaybackGate:
        """The gate a POP's configuration asks for."""
        keys = KeyFile(Path(config.playback_keys)) if config.playback_keys else None
        rate = Rate.per_second(config.rate_per_s, config.rate_burst)
        limit = open_limit(rate, "pop", config.redis_url)
        return cls(keys, limit, clock, networks(config.rate_exempt))

    def admit(self, scope: Scope) -> Admission:
        """The request's URL without its token; raises `TokenRejected` for a token that does
        not grant it."""
        raw = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        # dot segments resolved before anything is judged by the path
        raw = without_dot_segments(raw)
        query = scope.get("query_string")
        if self.keys is None and "/~" not in raw:  # the common case without signing: no token
            if query:
                return Admission(raw + "?" + query.decode("latin-1"), False, False, True)
            admission = self._plain.get(raw)
            if admission is None:
                if len(self._plain) >= PLAIN_KEPT:
                    self._plain.clear()
                admission = self._plain[raw] = Admission(raw, False, False, True)
            return admission
        path, granted, header = admit_request(self.keys, scope, raw, self.clock())
        # a POP's fill: its header token grants the whole site (a viewer's grants one video)
        by_header = (
            granted
            and path == raw
            and self.keys is not None
            and header is not None
            and grants_site(self.keys.current(), header, self.clock())
        )
        if query:
            path += "?" + query.decode("latin-1")
        return Admission(path, granted, by_header)

    async def over_limit(self, scope: Scope, admission: Admission) -> Decision | None:
        """The refusal when this client is over its rate limit, else None."""
        if self.limit is None or admission.by_header:
            return None
        client = scope.get("client")
        address = client[0] if client else None
        if within(address, self.exempt):
            return None
        decision = await self.limit.hit(client_key(address))
        return None if decision.allowed else decision

    @staticmethod
    def withheld(headers: dict[str, str], admission: Admission) -> bool:
        """A signed video's response that this request may not have."""
        return not admission.granted and headers.get(ACCESS_HEADER) == "signed"

    def fill_headers(self) -> dict[str, str]:
        """What this POP's upstream requests carry: a token for the whole site, if it has keys."""
        if self.keys is None:
            return {}
        now = self.clock()
        ring = self.keys.current()
        cached = self._fill_token
        if cached is None or cached[1] - now < FILL_TOKEN_RENEW_S or cached[2] != ring.signing:
            expires = int(now) + FILL_TOKEN_TTL_S
            cached = self._fill_token = (mint(ring, "/", expires), expires, ring.signing)
        return {TOKEN_HEADER: cached[0]}

    async def aclose(self) -> None:
        if self.limit is not None:
            await self.limit.aclose()
