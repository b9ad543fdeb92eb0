"""The edge's response stores: an index of stored responses (by URL and the request's values of
the headers they vary on) bounded in bytes by an eviction policy. The memory tier keeps whole
`Entry`s; the disk tier (edge/pop/disk.py) keeps small records and the bodies in files."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from edge.eviction.policy import EvictionPolicy
from httprules.caching import (
    CDN_ONLY_FIELDS,
    AgeClock,
    StoredPolicy,
    stored_policy,
    vary_names,
    vary_values,
)
from httprules.headers import encode
from httprules.serving import parse_http_date

StoreKey = tuple[str, tuple[str, ...]]  # (URL, the request's values of the Vary headers)


class Stored(Protocol):
    """What a store indexes: set `vary` before `put`; `put` sets `variant`."""

    url: str
    vary: tuple[str, ...]
    variant: tuple[str, ...]

    @property
    def size_bytes(self) -> int: ...


@dataclass(slots=True)
class Entry:
    url: str
    status: int
    headers: dict[str, str]  # lower-case names, end-to-end headers only
    body: bytes  # b"" when the body is in a file (`path`)
    clock: AgeClock
    vary: tuple[str, ...] = ()
    variant: tuple[str, ...] = ()
    path: str | None = None  # the disk tier's body file
    length: int = -1  # the body's length (worked out from `body` when not given)
    policy: StoredPolicy = field(init=False)
    encoded: list[tuple[bytes, bytes]] = field(init=False)  # headers as sent, minus Age etc.
    last_modified: float | None = field(init=False)
    via: bytes = b""  # the Via header this edge sends with it, worked out once
    # as HTTP/1.1 up to its Age: status line, `encoded`, X-Cache: HIT, Via, Content-Length
    wire_head: bytes = b""

    def __post_init__(self) -> None:
        self.refresh(self.headers, self.clock)
        if self.length < 0:
            self.length = len(self.body)

    def refresh(self, headers: dict[str, str], clock: AgeClock) -> None:
        """New headers and age clock (after a 304): everything derived is worked out again."""
        self.headers, self.clock = headers, clock
        self.wire_head = b""
        self.policy = stored_policy(self.status, headers)
        self.vary = vary_names(headers)
        self.last_modified = parse_http_date(headers.get("last-modified"))
        sent = ("age", "via", "content-length", "x-cache", *CDN_ONLY_FIELDS)
        self.encoded = encode({k: v for k, v in headers.items() if k not in sent})

    @property
    def key(self) -> StoreKey:
        return (self.url, self.variant)

    @property
    def size_bytes(self) -> int:
        """What it takes in the memory tier: its body (by `length`, so the tier can make room
        before the body is read in) and headers."""
        return self.length + sum(len(k) + len(v) for k, v in self.headers.items()) + 64


S = TypeVar("S", bound=Stored)


class ResponseStore(Generic[S]):
    def __init__(
        self, policy: EvictionPolicy, on_forget: Callable[[S], None] | None = None
    ) -> None:
        self.policy = policy
        self.on_forget = on_forget  # called for every entry evicted, purged or replaced
        self._entries: dict[StoreKey, S] = {}
        self._by_url: dict[str, set[StoreKey]] = {}
        self._vary: dict[str, tuple[str, ...]] = {}
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def used_bytes(self) -> int:
        return self.policy.used_bytes

    def _key(self, url: str, request_headers: Mapping[str, str]) -> StoreKey | None:
        names = self._vary.get(url)
        return None if names is None else (url, vary_values(names, request_headers))

    def lookup(self, url: str, request_headers: Mapping[str, str]) -> S | None:
        """The stored response for this request (touching it in the policy), or None."""
        key = self._key(url, request_headers)
        entry = self._entries.get(key) if key is not None else None
        if entry is not None:
            self.policy.touch(key)
        return entry

    def missed(self, url: str, request_headers: Mapping[str, str]) -> None:
        """A request nothing stored answers: the policy counts it too (the popularity and
        viewer models learn from every request, not only from hits)."""
        key = self._key(url, request_headers)
        self.policy.touch(key if key is not None else (url, ()))

    def touch(self, key: StoreKey, entry: S) -> bool:
        """Touch `entry` in the policy if it is still what is stored under `key`."""
        if self._entries.get(key) is not entry:
            return False
        self.policy.touch(key)
        return True

    def put(self, entry: S, request_headers: Mapping[str, str]) -> bool:
        """Store (or replace) a response; False if it is too large to keep."""
        entry.variant = vary_values(entry.vary, request_headers)
        if self._vary.get(entry.url, entry.vary) != entry.vary:
            self.purge(entry.url)  # the resource's Vary changed: old variants are unusable
        key = (entry.url, entry.variant)
        self._drop(key)
        for old in self.policy.insert(key, entry.size_bytes):
            self.evictions += 1
            self._forget(old)  # type: ignore[arg-type]
        if key not in self.policy:
            if self.on_forget is not None:
                self.on_forget(entry)
            return False
        self._entries[key] = entry
        self._by_url.setdefault(entry.url, set()).add(key)
        self._vary[entry.url] = entry.vary
        return True

    def _forget(self, key: StoreKey) -> None:
        entry = self._entries.pop(key, None)
        keys = self._by_url.get(key[0])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_url[key[0]]
                self._vary.pop(key[0], None)
        if entry is not None and self.on_forget is not None:
            self.on_forget(entry)

    def plainly_stored(self, url: str) -> bool:
        """Whether a response for `url` is stored that varies on no request header (so the
        request's header values do not matter to finding it)."""
        return self._vary.get(url) == ()

    def holds(self, url: str) -> bool:
        """Whether any variant of `url` is stored."""
        return url in self._by_url

    def remove(self, url: str, vary: tuple[str, ...], variant: tuple[str, ...]) -> None:
        """Make room for a response varying on `vary`: drop the entry under (url, variant),
        and every variant of `url` if it varied on other headers."""
        if self._vary.get(url, vary) != vary:
            self.purge(url)
        self._drop((url, variant))

    def get(self, key: StoreKey) -> S | None:
        """The entry under `key`, without touching it in the policy."""
        return self._entries.get(key)

    def _drop(self, key: StoreKey) -> None:
        if key in self._entries:
            self.policy.remove(key)
            self._forget(key)

    def shed(self, size_bytes: int) -> int:
        """Drop entries, the longest stored first, until `size_bytes` are freed or none is
        left (room made outside the policy's capacity: a disk filling up); bytes freed."""
        freed = 0
        for key in list(self._entries):
            if freed >= size_bytes:
                break
            freed += self._entries[key].size_bytes
            self.evictions += 1
            self._drop(key)
        return freed

    def purge(self, url: str) -> int:
        keys = list(self._by_url.get(url, ()))
        for key in keys:
            self._drop(key)
        return len(keys)

    def purge_prefix(self, prefix: str) -> int:
        return sum(self.purge(url) for url in [u for u in self._by_url if u.startswith(prefix)])
