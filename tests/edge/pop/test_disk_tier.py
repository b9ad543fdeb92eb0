"""The POP's disk tier: what a POP stored is still there, with its headers, validators, age and
variants, for the next POP process on the same directory; what could not be served (a fill cut
short, a half-written pair) is deleted on start; eviction and purge remove the files."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.pop.app import Edge, EdgeConfig
from edge.pop.disk import DiskTier, digest
from edge.pop.store import Entry
from httprules.caching import age_clock
from tests.support.asgi_server import serve_in_thread
from tests.support.clock import FakeClock
from tests.support.scripted_origin import Route, ScriptedOrigin
from tests.support.servers import wait_until

FRESH = {"cache-control": "max-age=600"}


@contextmanager
def pop(
    origin_url: str, cache_dir: Path, clock: FakeClock, **options: Any
) -> Iterator[httpx.Client]:
    """A POP process's lifetime: started on `cache_dir`, stopped when the block ends."""
    config = EdgeConfig(
        name="disk-pop",
        upstream=origin_url,
        admin_keys=("admin",),
        cache_dir=str(cache_dir),
        disk_capacity_bytes=options.pop("disk_capacity_bytes", 64 << 20),
        capacity_bytes=options.pop("capacity_bytes", 8),  # every hit from disk
        **options,
    )
    edge = Edge(config, clock=clock)
    with (
        serve_in_thread(edge, lifespan="on") as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        yield http


def files(cache_dir: Path, suffix: str) -> list[Path]:
    return sorted((cache_dir / "objects").glob(f"*/*{suffix}"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(time.time())


def test_a_restarted_pop_serves_what_it_stored_without_asking_upstream(
    tmp_path: Path, clock: FakeClock
) -> None:
    big = bytes(range(256)) * 12_000  # 3 MB
    routes = {
        "/seg/1.m4s": Route(big, headers=FRESH),
        "/list.m3u8": Route(b"#EXTM3U\n", headers=FRESH | {"content-type": "x/m3u8"}),
        "/lang": Route(headers=FRESH | {"vary": "accept-language"}, vary_body="accept-language"),
    }
    origin = ScriptedOrigin(routes, clock=clock)
    cache = tmp_path / "cache"
    with serve_in_thread(origin) as origin_url:
        with pop(origin_url, cache, clock) as http:
            assert http.get("/seg/1.m4s").content == big
            assert http.get("/list.m3u8").headers["x-cache"] == "MISS"
            for language in ("en", "fr"):
                assert http.get("/lang", headers={"accept-language": language}).text == language
        clock.advance(30)
        with pop(origin_url, cache, clock) as http:
            segment = http.get("/seg/1.m4s")
            assert (segment.headers["x-cache"], segment.content) == ("HIT", big)
            assert 29 <= int(segment.headers["age"]) <= 31  # the age went on across the restart
            assert segment.headers["cache-control"] == "max-age=600"
            listing = http.get("/list.m3u8")
            assert (listing.headers["x-cache"], listing.headers["content-type"]) == (
                "HIT",
                "x/m3u8",
            )
            for language in ("fr", "en"):
                answer = http.get("/lang", headers={"accept-language": language})
                assert (answer.headers["x-cache"], answer.text) == ("HIT", language)
            part = http.get("/seg/1.m4s", headers={"range": "bytes=1000-1999"})
            assert (part.status_code, part.content) == (206, big[1000:2000])
            stats = http.get("/stats").json()
            assert stats["disk_objects"] == 4
            assert stats["upstream_requests"] == 0
    assert origin.hits["/seg/1.m4s"] == origin.hits["/list.m3u8"] == 1
    assert origin.hits["/lang"] == 2


def test_validators_survive_a_restart_and_a_304_is_kept_on_disk(
    tmp_path: Path, clock: FakeClock
) -> None:
    routes = {"/e": Route(b"E" * 5000, headers={"cache-control": "max-age=10"}, etag='"e1"')}
    origin = ScriptedOrigin(routes, clock=clock)
    cache = tmp_path / "cache"
    with serve_in_thread(origin) as origin_url:
        with pop(origin_url, cache, clock) as http:
            http.get("/e")
        clock.advance(60)  # stale by the time the next POP starts
        with pop(origin_url, cache, clock) as http:
            again = http.get("/e")
            assert (again.headers["x-cache"], again.content) == ("REVALIDATED", b"E" * 5000)
            assert origin.seen_headers[-1].get("if-none-match") == '"e1"'
        with pop(origin_url, cache, clock) as http:  # the 304's new age clock was kept
            assert http.get("/e").headers["x-cache"] == "HIT"
    assert origin.hits["/e"] == 2


def test_what_could_not_be_served_is_deleted_on_start(tmp_path: Path, clock: FakeClock) -> None:
    routes = {f"/o{i}": Route(bytes([i]) * 10_000, headers=FRESH) for i in range(4)}
    origin = ScriptedOrigin(routes, clock=clock)
    cache = tmp_path / "cache"
    with serve_in_thread(origin) as origin_url:
        with pop(origin_url, cache, clock) as http:
            for i in range(4):
                http.get(f"/o{i}")
        bodies, metas = files(cache, ".body"), files(cache, ".meta")
        by_url = {f"/o{i}": digest((f"/o{i}", ())) for i in range(4)}
        body_of = {url: next(p for p in bodies if p.stem == name) for url, name in by_url.items()}
        meta_of = {url: next(p for p in metas if p.stem == name) for url, name in by_url.items()}
        with body_of["/o0"].open("r+b") as cut:  # a body shorter than its meta says
            cut.truncate(5_000)
        meta_of["/o1"].unlink()  # a body whose meta never was written
        body_of["/o2"].unlink()  # a meta whose body is gone
        (cache / "spool" / "999999999-0").write_bytes(b"half a fill")
        (meta_of["/o3"].parent / "x.meta-77").write_bytes(b"{")  # a meta rewrite cut short
        tier = DiskTier(cache, 64 << 20, "lru")
        assert (tier.rebuilt.objects, tier.rebuilt.dropped) == (1, 6)
        assert list((cache / "spool").iterdir()) == []
        assert [p.stem for p in files(cache, ".body")] == [by_url["/o3"]]
        with pop(origin_url, cache, clock) as http:
            for i in range(4):
                answer = http.get(f"/o{i}")
                assert answer.content == bytes([i]) * 10_000
                assert answer.headers["x-cache"] == ("HIT" if i == 3 else "MISS")


def test_eviction_and_purge_remove_the_files(tmp_path: Path, clock: FakeClock) -> None:
    routes = {f"/o{i}": Route(bytes([i]) * 300_000, headers=FRESH) for i in range(8)}
    origin = ScriptedOrigin(routes, clock=clock)
    cache = tmp_path / "cache"
    with (
        serve_in_thread(origin) as origin_url,
        pop(origin_url, cache, clock, disk_capacity_bytes=1_000_000, policy="lru") as http,
    ):
        for i in range(8):
            http.get(f"/o{i}")
        stats = http.get("/stats").json()
        assert stats["disk_used_bytes"] <= 1_000_000
        assert stats["disk_objects"] == 3
        assert len(files(cache, ".body")) == len(files(cache, ".meta")) == 3
        assert http.get("/o7").headers["x-cache"] == "HIT"
        admin = {"authorization": "Bearer admin"}
        purge = http.post("/admin/purge", json={"urls": ["/o7"]}, headers=admin)
        assert purge.json()["purged"] == 1
        assert len(files(cache, ".body")) == 2
        assert http.get("/o7").headers["x-cache"] == "MISS"


def test_a_filling_filesystem_sheds_the_oldest_and_a_body_without_room_still_goes_out_whole(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache directory is on a filesystem of 4 MiB (its free space is what the files under
    it leave of that): its capacity of 64 MiB cannot be reached; stored responses are shed,
    the longest stored first, to keep 512 KiB free; an 8 MiB body that cannot fit is sent
    whole from a scratch file and not kept on disk."""
    cache = tmp_path / "cache"
    size, min_free = 4 << 20, 512 << 10

    def used() -> int:
        return sum(f.stat().st_size for f in cache.rglob("*") if f.is_file())

    monkeypatch.setattr(DiskTier, "free_bytes", lambda tier: max(0, size - used()))
    routes = {f"/o{i}": Route(bytes([i]) * (1 << 20), headers=FRESH) for i in range(5)}
    routes["/big"] = Route(b"b" * (8 << 20), headers=FRESH)
    origin = ScriptedOrigin(routes, clock=clock)
    with (
        serve_in_thread(origin) as origin_url,
        pop(origin_url, cache, clock, disk_min_free_bytes=min_free, policy="lru") as http,
    ):
        for i in range(5):
            answer = http.get(f"/o{i}")
            assert answer.content == bytes([i]) * (1 << 20)
        stored = {digest((f"/o{i}", ())) for i in (2, 3, 4)}  # 0 and 1 shed
        # a body is published once it is whole, just after its client has it
        wait_until(lambda: {p.stem for p in files(cache, ".body")} == stored, 10, "o4 stored")
        assert size - used() >= min_free
        stats = http.get("/stats").json()
        assert stats["disk_shed_bytes"] >= 2 << 20
        assert http.get("/o4").headers["x-cache"] == "HIT"

        for _ in range(2):
            big = http.get("/big")
            assert big.status_code == 200
            assert big.content == b"b" * (8 << 20)
        assert origin.hits["/big"] == 2  # not kept: each asks upstream
        assert {p.stem for p in files(cache, ".body")} <= stored
        assert list((cache / "spool").iterdir()) == []


def test_a_hit_reads_its_meta_again_only_when_it_changed(tmp_path: Path) -> None:
    """Hits reuse a meta's parse; a refreshed, evicted or republished meta is read again, by
    the worker that owns it and by one that reads the files of another's."""
    now = time.time()
    owner = DiskTier(tmp_path, 64 << 20, "lru")
    reader = DiskTier(tmp_path, 64 << 20, "lru", owns=lambda digest: False, shared=True)

    def publish(body: bytes, headers: dict[str, str]) -> None:
        spool = owner.spool()
        try:
            spool.write(body)
            entry = Entry("/s", 200, headers, b"", age_clock(headers, now, now))
            assert owner.publish(spool, entry, {})
        finally:
            spool.close()

    publish(b"a" * 1000, {"cache-control": "max-age=60", "etag": '"1"'})
    for tier in (owner, reader):
        first = tier.lookup("/s", {})
        assert first is not None
        assert first.headers["etag"] == '"1"'
        assert tier.lookup("/s", {}) is first  # parsed once
    refreshed = owner.lookup("/s", {})
    assert refreshed is not None
    refreshed.refresh({"cache-control": "max-age=60", "etag": '"2"'}, refreshed.clock)
    owner.refresh(refreshed)
    seen = reader.lookup("/s", {})
    assert seen is not None
    assert seen.headers["etag"] == '"2"'
    assert owner.purge("/s") == 1
    assert owner.lookup("/s", {}) is None
    assert reader.lookup("/s", {}) is None
    publish(b"b" * 2000, {"cache-control": "max-age=60", "etag": '"3"'})
    for tier in (owner, reader):
        again = tier.lookup("/s", {})
        assert again is not None
        assert (again.headers["etag"], again.length) == ('"3"', 2000)
