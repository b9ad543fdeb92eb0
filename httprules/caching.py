"""HTTP caching rules for a shared cache (RFC 9111, with RFC 5861's stale extensions). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from httprules.serving import parse_http_date

# RFC 9111 §4.2.2 / RFC 9110 §15.1: status codes that are heuristically cacheable.
HEURISTIC_STATUSES = frozenset({200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501})
# Statuses we store at all (the heuristically cacheable ones; others only with explicit
# freshness, which §3 allows, but an edge has no use for storing e.g. 500s).
STORABLE_STATUSES = HEURISTIC_STATUSES | frozenset({302, 307})
HEURISTIC_FRACTION = 0.1  # §4.2.2: "a typical setting of this fraction might be 10%"
HEURISTIC_MAX_S = 24 * 3600.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})  # RFC 9110 §9.2.1; others unsafe
# RFC 9213 and the W3C Edge Architecture note: fields that speak to CDNs (targeted caches) only;
# when one is present it is what a CDN obeys instead of Cache-Control.
TARGETED_FIELDS = ("cdn-cache-control", "surrogate-control")
# Surrogate-Control as upstream sent it, kept beside a stored response whose Surrogate-Control
# was reduced to what applies to this surrogate: what a surrogate downstream is sent
RECEIVED_SURROGATE_CONTROL = "surrogate-control-received"
# the surrogate removes these before clients see them (a surrogate downstream, a POP of a lower
# tier that says so by its Surrogate-Capability, gets Surrogate-Control as received)
CDN_ONLY_FIELDS = ("surrogate-control", RECEIVED_SURROGATE_CONTROL)


@dataclass(frozen=True, slots=True)
class CacheControl:
    directives: Mapping[str, str | None]

    def seconds(self, name: str) -> float | None:
        if name not in self.directives:
            return None
        try:
            return max(0.0, float(int(self.directives[name] or "")))
        except ValueError:
            return 0.0  # §4.2.1: an invalid value is treated as stale

    def has(self, name: str) -> bool:
        return name in self.directives


def parse_cache_control(value: str | None) -> CacheControl:
    directives: dict[str, str | None] = {}
    for part in (value or "").split(","):
        name, sep, arg = part.strip().partition("=")
        if not name:
            continue
        directives[name.lower()] = arg.strip().strip('"') if sep else None
    return CacheControl(directives)


def response_cache_control(headers: Mapping[str, str]) -> CacheControl:
    """The directives this cache obeys: those of a CDN-targeted field when the response has
    one (untargeted directives only: `max-age=60;other-device` is for someone else), else
    Cache-Control's."""
    for name in TARGETED_FIELDS:
        if name in headers:
            parts = (p for p in headers[name].split(",") if ";" not in p)
            return parse_cache_control(",".join(parts))
    return parse_cache_control(headers.get("cache-control"))


def surrogate_control_for(headers: dict[str, str], device: str) -> dict[str, str]:
    """Response headers with Surrogate-Control reduced to what applies to the surrogate named
    `device`: its untargeted directives, those targeted at it (`max-age=60;device`, the token
    dropped) in place of any of the same name; directives targeted at others go. The value as
    received is kept beside it for surrogates downstream (`downstream_surrogate_control`)."""
    value = headers.get("surrogate-control")
    if value is None:
        return headers
    if ";" not in value:
        return headers | {RECEIVED_SURROGATE_CONTROL: value}
    general: dict[str, str] = {}
    own: dict[str, str] = {}
    for part in value.split(","):
        directive, targeted, target = (x.strip() for x in part.partition(";"))
        name = directive.partition("=")[0].strip().lower()
        if not name:
            continue
        if not targeted:
            general[name] = directive
        elif target == device:
            own[name] = directive
    reduced = ", ".join((general | own).values())
    return headers | {"surrogate-control": reduced, RECEIVED_SURROGATE_CONTROL: value}


def downstream_surrogate_control(
    stored: Mapping[str, str], request: Mapping[str, str]
) -> str | None:
    """The Surrogate-Control to send with a stored or filled response (its headers `stored`)
    to the sender of `request`: as upstream sent it to a surrogate downstream (a request with
    Surrogate-Capability: a POP of a lower tier, which obeys it in turn), none to a client."""
    if "surrogate-capability" not in request:
        return None
    return stored.get(RECEIVED_SURROGATE_CONTROL)


def is_storable(
    method: str,
    status: int,
    request_headers: Mapping[str, str],
    response_headers: Mapping[str, str],
) -> bool:
    """RFC 9111 §3, for a shared cache."""
    if method not in ("GET", "HEAD") or status not in STORABLE_STATUSES:
        return False
    response_cc = response_cache_control(response_headers)
    request_cc = parse_cache_control(request_headers.get("cache-control"))
    if response_cc.has("no-store") or request_cc.has("no-store"):
        return False
    if is_personal(response_headers):
        return False
    # §3.5: a shared cache stores responses to authorized requests only when allowed.
    if "authorization" in request_headers and not any(
        response_cc.has(d) for d in ("public", "s-maxage", "must-revalidate")
    ):
        return False
    explicit = (
        response_cc.has("s-maxage")
        or response_cc.has("max-age")
        or "expires" in response_headers
        or response_cc.has("public")
        or response_cc.has("no-cache")
    )
    return explicit or (status in HEURISTIC_STATUSES and "last-modified" in response_headers)


def is_personal(response_headers: Mapping[str, str]) -> bool:
    """A response meant for one user only: private (§5.2.2.7: a shared cache must not store
    it), varying on everything (§4.1), or setting a cookie (stored, the cookie would be
    replayed to every other user; nginx and Varnish do not store such responses by default
    either). Never stored, and never sent to anyone else who asked at the same time.
    `private` counts in Cache-Control even when a CDN-targeted field overrides it (the stricter
    reading: a response its origin calls private is not shared), and in that field too."""
    private = parse_cache_control(response_headers.get("cache-control")).has("private")
    return (
        "set-cookie" in response_headers
        or private
        or response_cache_control(response_headers).has("private")
        or "*" in vary_names(response_headers)
    )


def freshness_lifetime_s(status: int, headers: Mapping[str, str]) -> float:
    """§4.2.1: s-maxage, then max-age, then Expires − Date, then the §4.2.2 heuristic."""
    cc = response_cache_control(headers)
    for directive in ("s-maxage", "max-age"):
        value = cc.seconds(directive)
        if value is not None:
            return value
    if "expires" in headers:
        expires = parse_http_date(headers.get("expires"))
        date = parse_http_date(headers.get("date"))
        if expires is None or date is None:
            return 0.0  # §5.3: an invalid Expires means "already expired"
        return max(0.0, expires - date)
    last_modified = parse_http_date(headers.get("last-modified"))
    date = parse_http_date(headers.get("date"))
    if status in HEURISTIC_STATUSES and last_modified is not None and date is not None:
        return min(HEURISTIC_MAX_S, max(0.0, (date - last_modified) * HEURISTIC_FRACTION))
    return 0.0


@dataclass(frozen=True, slots=True)
class AgeClock:
    """What §4.2.3 needs to know about a stored response."""

    request_time: float
    response_time: float
    date: float | None
    age_value: float

    # worked out once: `corrected_initial_age - response_time`, so the age is that plus now
    _age_base: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        apparent_age = max(0.0, self.response_time - (self.date or self.response_time))
        response_delay = self.response_time - self.request_time
        corrected_age_value = self.age_value + response_delay
        corrected_initial_age = max(apparent_age, corrected_age_value)
        object.__setattr__(self, "_age_base", corrected_initial_age - self.response_time)

    def current_age_s(self, now: float) -> float:
        return self._age_base + now


UNKNOWN_AGE_S = float(2**31)  # RFC 9111 §1.2.2: the largest delta-seconds a cache need keep


def age_value_s(headers: Mapping[str, str]) -> float:
    """§5.1: Age is one non-negative integer. None is 0; anything else (a list, a sign, a
    fraction, a parameter, several fields) says nothing trustworthy, so the response is taken
    as old as can be: stale, never fresher than it may be."""
    raw = headers.get("age")
    if raw is None:
        return 0.0
    raw = raw.strip()
    return float(min(int(raw), 2**31)) if raw.isdigit() and raw.isascii() else UNKNOWN_AGE_S


def age_clock(headers: Mapping[str, str], request_time: float, response_time: float) -> AgeClock:
    date = parse_http_date(headers.get("date"))
    return AgeClock(request_time, response_time, date, age_value_s(headers))


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    """What a stored response's own headers say about reusing it, worked out once at store
    time so that a hit is arithmetic only."""

    lifetime_s: float
    no_cache: bool
    strict: bool  # must-revalidate, proxy-revalidate or s-maxage: never used stale
    swr_s: float | None
    sie_s: float | None


def stored_policy(status: int, headers: Mapping[str, str]) -> StoredPolicy:
    cc = response_cache_control(headers)
    return StoredPolicy(
        lifetime_s=freshness_lifetime_s(status, headers),
        # §5.2.2.4: no-cache means every use must be validated first (stored, never fresh).
        no_cache=cc.has("no-cache"),
        # §5.2.2.2 must-revalidate, §5.2.2.8 proxy-revalidate, §5.2.2.10 s-maxage.
        strict=cc.has("must-revalidate") or cc.has("proxy-revalidate") or cc.has("s-maxage"),
        swr_s=cc.seconds("stale-while-revalidate"),
        sie_s=cc.seconds("stale-if-error"),
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    fresh: bool
    age_s: float
    may_serve_stale_while_revalidating: bool
    may_serve_stale_on_error: bool
    must_revalidate: bool


def judge(
    policy: StoredPolicy,
    clock: AgeClock,
    now: float,
    request_cache_control: str | None = None,
) -> Verdict:
    """Can a stored response be used for this request now, and if stale, how?"""
    age = clock.current_age_s(now)
    staleness = age - policy.lifetime_s
    fresh = staleness < 0 and not policy.no_cache
    if request_cache_control:
        request_cc = parse_cache_control(request_cache_control)
        request_max_age = request_cc.seconds("max-age")
        if request_cc.has("no-cache") or (request_max_age is not None and age > request_max_age):
            fresh = False
    swr, sie = policy.swr_s, policy.sie_s
    return Verdict(
        fresh=fresh,
        age_s=age,
        may_serve_stale_while_revalidating=(
            not fresh
            and not policy.strict
            and not policy.no_cache
            and swr is not None
            and staleness <= swr
        ),
        may_serve_stale_on_error=not policy.strict and sie is not None and staleness <= sie,
        must_revalidate=policy.strict,
    )


def vary_names(headers: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(
        sorted({h.strip().lower() for h in headers.get("vary", "").split(",") if h.strip()})
    )


def vary_values(names: tuple[str, ...], request_headers: Mapping[str, str]) -> tuple[str, ...]:
    """§4.1: the request's values of the headers the response varies on, normalised."""
    if not names:
        return ()
    return tuple(" ".join(request_headers.get(n, "").split()) for n in names)


# Fields that describe the stored body itself: its framing, its validator and its digests. A
# 304 does not send the body again, so it cannot change them (a 304 with another ETag would
# otherwise label the old body with a new validator).
KEPT_ON_304 = frozenset(
    {
        "content-length", "content-encoding", "transfer-encoding", "content-range", "etag",
        "content-md5", "digest", "content-digest", "repr-digest",
    }
)  # fmt: skip


def merge_304(stored: Mapping[str, str], fresh: Mapping[str, str]) -> dict[str, str]:
    """§4.3.4: update the stored headers with those of a 304, but for what describes the body
    (`KEPT_ON_304`)."""
    merged = dict(stored)
    for name, value in fresh.items():
        if name not in KEPT_ON_304:
            merged[name] = value
    return merged
