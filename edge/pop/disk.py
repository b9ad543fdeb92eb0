"""The POP's disk tier: responses in files under one directory, bounded in bytes by an eviction
policy, that survive a restart or a crash.

Layout under the cache directory:

    objects/ab/<digest>.body   the body, exactly as received
    objects/ab/<digest>.meta   JSON: URL, variant, status, headers, age clock, body length
    spool/                     bodies being received (deleted on start: never served)

`digest` is SHA-256 of the URL and the request's values of the headers the response varies
on. A fill streams its body into a spool file; only a complete body is published, by renaming
the body and then the meta into `objects/`: a meta that exists names a complete body of the
length it records. On start the index is rebuilt from the metas (oldest first, so the policy
sees them in the order they were written); a meta whose body is missing or of another length,
a body without a meta and every spool file are deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from edge.eviction.policy import make_policy
from edge.pop.fill import Spool
from edge.pop.store import Entry, ResponseStore, StoreKey
from httprules.caching import AgeClock, vary_values

META_VERSION = 1


def digest(key: StoreKey) -> str:
    url, variant = key
    return hashlib.sha256("\n".join((url, *variant)).encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(slots=True)
class Record:
    """What the disk tier's index keeps in memory per stored response (a few hundred bytes)."""

    url: str
    vary: tuple[str, ...]
    length: int
    meta_bytes: int
    variant: tuple[str, ...] = ()

    @property
    def size_bytes(self) -> int:
        return self.length + self.meta_bytes


@dataclass(frozen=True, slots=True)
class Rebuilt:
    objects: int
    bytes: int
    dropped: int
    seconds: float


class DiskTier:
    def __init__(
        self,
        root: Path,
        capacity_bytes: int,
        policy: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root
        self.objects = root / "objects"
        self.spools = root / "spool"
        self.objects.mkdir(parents=True, exist_ok=True)
        self.spools.mkdir(parents=True, exist_ok=True)
        self.capacity_bytes = capacity_bytes
        self.index: ResponseStore[Record] = ResponseStore(
            make_policy(policy, capacity_bytes, clock=clock), on_forget=self._unlink
        )
        self._names = itertools.count()
        self.rebuilt = self.rebuild()

    def __len__(self) -> int:
        return len(self.index)

    @property
    def used_bytes(self) -> int:
        return self.index.used_bytes

    @property
    def evictions(self) -> int:
        return self.index.evictions

    def _paths(self, key: StoreKey) -> tuple[Path, Path]:
        name = digest(key)
        folder = self.objects / name[:2]
        return folder / f"{name}.body", folder / f"{name}.meta"

    # -- reading --------------------------------------------------------------------------

    def lookup(self, url: str, request_headers: Mapping[str, str]) -> Entry | None:
        """The stored response for this request, its body left in its file; None if there is
        none (or its files went missing, when it is forgotten)."""
        record = self.index.lookup(url, request_headers)
        if record is None:
            return None
        body, meta = self._paths((record.url, record.variant))
        try:
            data = json.loads(meta.read_bytes())
        except (OSError, ValueError):
            self.index.purge(url)
            return None
        return _entry(data, str(body))

    # -- writing --------------------------------------------------------------------------

    def spool(self) -> Spool:
        return Spool(self.spools / f"{os.getpid()}-{next(self._names)}")

    def publish(self, spool: Spool, entry: Entry, request_headers: Mapping[str, str]) -> bool:
        """Make a complete spooled body the stored response `entry` describes (its `body` and
        `path` are ignored): False if the policy will not keep it."""
        record = Record(entry.url, entry.vary, spool.length, 0)
        record.variant = entry.variant = vary_values(entry.vary, request_headers)
        body, meta = self._paths((entry.url, entry.variant))
        text = _meta(entry, spool.length)
        record.meta_bytes = len(text)
        if record.size_bytes > self.capacity_bytes:
            return False
        # forget what these files held first (unlinking them), then put the new ones there
        self.index.remove(entry.url, entry.vary, entry.variant)
        body.parent.mkdir(exist_ok=True)
        os.replace(spool.path, body)
        spool.published = True
        _write_atomically(meta, text)
        if not self.index.put(record, request_headers):
            return False
        entry.path, entry.length = str(body), spool.length
        return True

    def refresh(self, entry: Entry) -> None:
        """New headers and age clock for a stored response (after a 304), kept on disk."""
        if self.index.get((entry.url, entry.variant)) is None:
            return
        meta = self._paths((entry.url, entry.variant))[1]
        with contextlib.suppress(OSError):
            _write_atomically(meta, _meta(entry, entry.length))

    def purge(self, url: str) -> int:
        return self.index.purge(url)

    def purge_prefix(self, prefix: str) -> int:
        return self.index.purge_prefix(prefix)

    def _unlink(self, record: Record) -> None:
        """Forget a response's files: the meta first, so a half-deleted pair is never read."""
        for path in reversed(self._paths((record.url, record.variant))):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    # -- start ----------------------------------------------------------------------------

    def rebuild(self) -> Rebuilt:
        """The index from what is on disk; deletes what could not be served."""
        started = time.perf_counter()
        dropped = 0
        for leftover in self.spools.iterdir():
            leftover.unlink(missing_ok=True)
            dropped += 1
        found: list[tuple[float, Record]] = []
        for folder in self.objects.iterdir():
            for meta in folder.glob("*.meta"):
                record, mtime = _read_record(meta)
                if record is None:
                    meta.unlink(missing_ok=True)
                    dropped += 1
                else:
                    found.append((mtime, record))
            for temporary in folder.glob("*.meta-*"):  # a meta rewrite cut short
                temporary.unlink(missing_ok=True)
                dropped += 1
            for body in folder.glob("*.body"):
                if not body.with_suffix(".meta").exists():  # published body, meta never was
                    body.unlink(missing_ok=True)
                    dropped += 1
        found.sort(key=lambda pair: pair[0])
        for _, record in found:
            self.index.put(record, dict(zip(record.vary, record.variant, strict=True)))
        return Rebuilt(len(self.index), self.used_bytes, dropped, time.perf_counter() - started)


def _meta(entry: Entry, length: int) -> bytes:
    clock = entry.clock
    return json.dumps(
        {
            "v": META_VERSION,
            "url": entry.url,
            "vary": list(entry.vary),
            "variant": list(entry.variant),
            "status": entry.status,
            "headers": entry.headers,
            "clock": [clock.request_time, clock.response_time, clock.date, clock.age_value],
            "length": length,
        }
    ).encode()


def _entry(data: dict[str, object], body_path: str) -> Entry:
    clock = data["clock"]
    assert isinstance(clock, list)
    entry = Entry(
        str(data["url"]),
        int(data["status"]),  # type: ignore[call-overload]
        dict(data["headers"]),  # type: ignore[call-overload]
        b"",
        AgeClock(*clock),
        path=body_path,
        length=int(data["length"]),  # type: ignore[call-overload]
    )
    entry.variant = tuple(data["variant"])  # type: ignore[arg-type]
    return entry


def _read_record(meta: Path) -> tuple[Record | None, float]:
    """The index record of a meta file whose body is complete, else None."""
    try:
        raw = meta.read_bytes()
        data = json.loads(raw)
        length = int(data["length"])
        body = meta.with_suffix(".body").stat()
        vary, variant = tuple(data["vary"]), tuple(data["variant"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, 0.0
    if data.get("v") != META_VERSION or body.st_size != length or len(vary) != len(variant):
        return None, 0.0
    record = Record(str(data["url"]), vary, length, len(raw), variant)
    return record, body.st_mtime


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(f".meta-{os.getpid()}")
    temporary.write_bytes(data)
    os.replace(temporary, path)
