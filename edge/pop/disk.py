"""The POP's disk tier: responses in files under one directory, bounded in bytes by an eviction
policy, that survive a restart or a crash.

Layout under the cache directory:

    objects/ab/<name>.body   the body, exactly as received
    objects/ab/<name>.meta   JSON: URL, variant, status, headers, age clock, body length
    objects/ab/<url>.vary    for a response with Vary: the header names (its variants'
                             names are <url>-<values>)
    spool/<pid>.<start>-<n>  bodies being received (a dead process's are deleted on start)

`<url>` is SHA-256 of the URL; `<name>` is that, plus a hash of the request's values of the
headers the response varies on if it varies. A fill streams its body into a spool file; only a
complete body is published, by renaming the body and then the meta into `objects/`: a meta that
exists names a complete body of the length it records. On start the index is rebuilt from the
metas (oldest first, so the policy sees them in the order they were written); a meta whose body
is missing or of another length and a body without a meta are deleted.

With several workers (edge/pop/cluster.py) each keeps the index of the URLs it owns and evicts
only those; a worker reads another's responses straight from the files.

A hit reads its meta once: the parsed response (its headers encoded, ready to send) is kept for
the `PARSED_KEPT` most recently read metas, each checked against the meta file's identity
(inode, modification time, size) on every hit. Every rewrite of a meta is a new file renamed in
place, so a meta changed by any worker is read again, never served from an older parse.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import shutil
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from edge.eviction.policy import make_policy
from edge.pop.cluster import url_digest
from edge.pop.fill import Spool
from edge.pop.store import Entry, ResponseStore, StoreKey
from httprules.caching import AgeClock, vary_values

META_VERSION = 1
ORPHAN_AGE_S = 60.0  # with several workers, a body without a meta is left this long
# parsed metas kept per worker, the most recently read (a few KB each: about 3 MiB)
PARSED_KEPT = 1024


def digest(key: StoreKey) -> str:
    """The file name (without suffix) of the response stored under `key`: the URL's digest,
    and for a variant a hash of its values."""
    url, variant = key
    if not variant:
        return url_digest(url)
    values = hashlib.sha256(chr(0).join(variant).encode("utf-8", "surrogatepass")).hexdigest()
    return f"{url_digest(url)}-{values[:32]}"


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
        owns: Callable[[str], bool] = lambda digest: True,
        shared: bool = False,
        min_free_bytes: int | None = None,
    ) -> None:
        self.root = root
        # the URLs (by `url_digest`) whose files this process indexes and evicts
        self.owns = owns
        self.shared = shared  # other workers publish into the same directory
        self.objects = root / "objects"
        self.spools = root / "spool"
        self.objects.mkdir(parents=True, exist_ok=True)
        self.spools.mkdir(parents=True, exist_ok=True)
        self.capacity_bytes = capacity_bytes
        # kept free on the filesystem (other files share it, or the capacity is larger than
        # it): stored responses are shed to keep it; default the smaller of 1 GiB and 2%
        usage = shutil.disk_usage(root)
        default_free = min(1 << 30, usage.total // 50)
        self.min_free_bytes = default_free if min_free_bytes is None else min_free_bytes
        self.shed_bytes = 0  # shed for room on the filesystem, not by the policy
        self.index: ResponseStore[Record] = ResponseStore(
            make_policy(policy, capacity_bytes, clock=clock), on_forget=self._unlink
        )
        self._names = itertools.count()
        # meta path -> (the meta file's identity when read, the response it describes)
        self._parsed: OrderedDict[str, tuple[tuple[int, int, int], Entry]] = OrderedDict()
        self._tag = _process_tag(os.getpid()) or str(os.getpid())
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

    def _vary_path(self, url: str) -> Path:
        name = url_digest(url)
        return self.objects / name[:2] / f"{name}.vary"

    # -- reading --------------------------------------------------------------------------

    def lookup(self, url: str, request_headers: Mapping[str, str]) -> Entry | None:
        """The stored response for this request, its body left in its file; None if there is
        none (or its files went missing, when it is forgotten)."""
        if not self.owns(url_digest(url)):
            return self._read_files(url, request_headers)
        record = self.index.lookup(url, request_headers)
        if record is None:
            return None
        try:
            return self._parsed_entry((record.url, record.variant))
        except (OSError, ValueError, KeyError, TypeError):
            self.index.purge(url)
            return None

    def _read_files(self, url: str, request_headers: Mapping[str, str]) -> Entry | None:
        """Another worker's response, found by its file names alone."""
        try:
            return self._parsed_entry((url, ()))
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError):
            return None
        try:
            names = tuple(json.loads(self._vary_path(url).read_bytes())["vary"])
            return self._parsed_entry((url, vary_values(names, request_headers)))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _parsed_entry(self, key: StoreKey) -> Entry:
        """The response stored under `key` (its body left in its file), parsed from its meta
        or, if the meta has not changed since, as parsed before. Raises what reading it
        raises."""
        body, meta = self._paths(key)
        name = str(meta)
        stat = os.stat(name)  # before the read: a meta replaced meanwhile is read again later
        identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        kept = self._parsed.get(name)
        if kept is not None and kept[0] == identity:
            self._parsed.move_to_end(name)
            return kept[1]
        entry = _entry(json.loads(meta.read_bytes()), str(body))
        self._parsed[name] = (identity, entry)
        self._parsed.move_to_end(name)
        if len(self._parsed) > PARSED_KEPT:
            self._parsed.popitem(last=False)
        return entry

    # -- writing --------------------------------------------------------------------------

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    def make_room(self, size_bytes: int) -> bool:
        """Before `size_bytes` more are written: shed stored responses (the longest stored
        first) while the filesystem would have less than `min_free_bytes` free after them;
        whether they fit. A worker sheds only what it indexes."""
        short = self.min_free_bytes + size_bytes - self.free_bytes()
        if short <= 0:
            return True
        self.shed_bytes += self.index.shed(short)
        return self.free_bytes() >= size_bytes

    def spool(self) -> Spool:
        return Spool(self.spools / f"{self._tag}-{next(self._names)}", make_room=self.make_room)

    def store(self, body: bytes, entry: Entry) -> bool:
        """A whole body (pushed by the operator) stored as the 200 `entry` describes (its
        own body ignored); False if there is no room for it or the policy will not keep it."""
        if not self.make_room(len(body)):
            return False
        spool = self.spool()
        try:
            spool.write(body)
            return self.publish(spool, entry, {})
        except OSError:  # the filesystem filled meanwhile
            return False
        finally:
            spool.close()

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
        try:
            body.parent.mkdir(exist_ok=True)
            os.replace(spool.path, body)
            spool.published = True
            if entry.vary:
                stub = json.dumps({"url": entry.url, "vary": list(entry.vary)}).encode()
                _write_atomically(self._vary_path(entry.url), stub)
            _write_atomically(meta, text)
        except OSError:  # no room for the meta (or the disk failing): not stored
            body.unlink(missing_ok=True)
            return False
        if not self.owns(url_digest(entry.url)):
            return True  # the owner indexes it when told (`adopt`)
        if not self.index.put(record, request_headers):
            return False
        entry.path, entry.length = str(body), spool.length
        return True

    def _abandoned(self, path: Path) -> bool:
        if not self.shared:
            return True
        try:
            return path.stat().st_mtime < time.time() - ORPHAN_AGE_S
        except OSError:
            return False

    def adopt(self, url: str, vary: tuple[str, ...], variant: tuple[str, ...]) -> None:
        """Index a response another worker published for a URL this one owns."""
        record, _ = _read_record(self._paths((url, variant))[1])
        if record is not None and record.vary == vary:
            self.index.put(record, dict(zip(vary, variant, strict=True)))

    def missed(self, url: str, request_headers: Mapping[str, str]) -> None:
        """A request neither tier answers, for a URL this worker owns on disk."""
        if self.owns(url_digest(url)):
            self.index.missed(url, request_headers)

    def touch(self, url: str, variant: tuple[str, ...]) -> None:
        """Another worker served this response from disk: it counts in the policy."""
        if self.index.get((url, variant)) is not None:
            self.index.policy.touch((url, variant))

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
        paths = self._paths((record.url, record.variant))
        self._parsed.pop(str(paths[1]), None)  # a meta written later may reuse its inode
        for path in reversed(paths):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        if record.vary and not self.index.holds(record.url):
            self._vary_path(record.url).unlink(missing_ok=True)

    # -- start ----------------------------------------------------------------------------

    def rebuild(self) -> Rebuilt:
        """The index from what is on disk; deletes what could not be served."""
        started = time.perf_counter()
        dropped = 0
        for leftover in self.spools.iterdir():
            if not _alive(leftover.name.rpartition("-")[0]):
                leftover.unlink(missing_ok=True)
                dropped += 1
        found: list[tuple[float, Record]] = []
        for folder in self.objects.iterdir():
            for meta in folder.glob("*.meta"):
                if not self.owns(meta.stem.partition("-")[0]):
                    continue  # another worker's: it reads that one
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
                # a body whose meta never was written (another worker's may be on its way)
                if not body.with_suffix(".meta").exists() and self._abandoned(body):
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


def _process_tag(pid: int) -> str | None:
    """`pid.start-time` of a running process (not a zombie), so that a reused PID does not
    pass for the process that wrote a spool file; None if there is no such process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (OSError, ValueError):
        return None
    return None if fields[0] in ("Z", "X") else f"{pid}.{fields[19]}"


def _alive(tag: str) -> bool:
    """Whether the process that named a spool file `tag-n` is still running."""
    pid = tag.partition(".")[0]
    return pid.isdigit() and _process_tag(int(pid)) == tag


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(f".meta-{os.getpid()}")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise
