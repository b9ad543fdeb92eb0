"""Answers kept for repeated request heads (edge/pop/quick.py): given again only while the
full decision would give the same, with the entry touched in the eviction policy and the Age
worked out again; against a real store and policy with a fake clock, and through a real
`mediacdn edge` process whose stored objects are purged, replaced and go stale."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from edge.eviction.policy import make_policy
from edge.pop.metrics import EdgeMetrics
from edge.pop.quick import KEPT_BYTES, QuickAnswers
from edge.pop.store import Entry, ResponseStore
from httprules.caching import AgeClock
from tests.support.asgi_server import serve_in_thread
from tests.support.clock import FakeClock
from tests.support.edges import edge_process
from tests.support.scripted_origin import Route, ScriptedOrigin

PREFIX = b"HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ncontent-length: 4\r\n"
HEAD_A = b"GET /a HTTP/1.1\r\nHost: pop"
HEAD_B = b"GET /b HTTP/1.1\r\nHost: pop"


def _entry(url: str, clock: FakeClock, body: bytes = b"body", max_age: int = 60) -> Entry:
    now = clock()
    return Entry(
        url, 200, {"cache-control": f"max-age={max_age}"}, body, AgeClock(now, now, None, 0)
    )


def _answers(capacity: int = 1 << 20) -> tuple[QuickAnswers, ResponseStore[Entry], FakeClock]:
    clock = FakeClock()
    store: ResponseStore[Entry] = ResponseStore(make_policy("lru", capacity, clock=clock))
    return QuickAnswers(store, EdgeMetrics(), clock), store, clock


def _keep(quick: QuickAnswers, head: bytes, entry: Entry) -> None:
    quick.keep(head, entry, PREFIX, b"\r\n", True)


def test_a_kept_answer_is_given_again_with_its_age_worked_out_again() -> None:
    quick, store, clock = _answers()
    entry = _entry("/a", clock)
    store.put(entry, {})
    _keep(quick, HEAD_A, entry)
    assert quick.answer(HEAD_A) == [PREFIX + b"age: 0\r\n\r\nbody"]
    clock.advance(7.9)
    assert quick.answer(HEAD_A) == [PREFIX + b"age: 7\r\n\r\nbody"]
    assert quick.answer(HEAD_B) is None  # another head: nothing kept for it
    assert quick.metrics.results["HIT"] == 2
    assert quick.metrics.bytes_sent == 8


def test_a_kept_answer_goes_once_its_entry_is_stale_purged_replaced_or_refreshed() -> None:
    quick, store, clock = _answers()
    entry = _entry("/a", clock, max_age=10)
    store.put(entry, {})
    _keep(quick, HEAD_A, entry)
    clock.advance(10)
    assert quick.answer(HEAD_A) is None  # stale: the full path validates it

    entry = _entry("/a", clock)
    store.put(entry, {})
    _keep(quick, HEAD_A, entry)
    store.purge("/a")
    assert quick.answer(HEAD_A) is None

    store.put(entry, {})
    _keep(quick, HEAD_A, entry)
    store.put(_entry("/a", clock, b"new!"), {})  # a new response under the same key
    assert quick.answer(HEAD_A) is None

    entry = _entry("/a", clock)
    store.put(entry, {})
    _keep(quick, HEAD_A, entry)
    now = clock()
    entry.refresh(dict(entry.headers), AgeClock(now, now, None, 0))  # validated by a 304
    assert quick.answer(HEAD_A) is None
    _keep(quick, HEAD_A, entry)  # kept again as the full path answers it
    assert quick.answer(HEAD_A) is not None


def test_answers_given_again_count_as_hits_in_the_eviction_policy() -> None:
    """Room for two: the one asked for again (through its kept answer) stays, the other goes."""
    size = _entry("/a", FakeClock()).size_bytes
    quick, store, clock = _answers(capacity=2 * size)
    a, b = _entry("/a", clock), _entry("/b", clock)
    store.put(a, {})
    store.put(b, {})
    _keep(quick, HEAD_A, a)
    assert quick.answer(HEAD_A) is not None  # /a is now the most recently used
    store.put(_entry("/c", clock), {})
    assert store.get(a.key) is a
    assert store.get(b.key) is None


def test_only_small_bodies_from_memory_are_kept_and_within_a_budget() -> None:
    quick, store, clock = _answers(capacity=1 << 30)
    large = _entry("/a", clock, b"x" * (64 << 10))
    store.put(large, {})
    _keep(quick, HEAD_A, large)
    assert quick.answer(HEAD_A) is None
    on_disk = _entry("/b", clock)
    on_disk.path = "/nonexistent"
    store.put(on_disk, {})
    _keep(quick, HEAD_B, on_disk)
    assert quick.answer(HEAD_B) is None
    not_stored = _entry("/c", clock)
    _keep(quick, b"GET /c HTTP/1.1", not_stored)
    assert quick.answer(b"GET /c HTTP/1.1") is None

    body = b"y" * (16 << 10)
    heads = [b"GET /%d HTTP/1.1" % i for i in range(KEPT_BYTES // len(body))]
    for head in heads:
        entry = _entry(head.split()[1].decode(), clock, body)
        store.put(entry, {})
        _keep(quick, head, entry)
    # what is kept stays within the budget: the first ones were forgotten to make room
    assert quick.answer(heads[0]) is None
    assert quick.answer(heads[-1]) is not None


def test_a_pop_gives_kept_answers_only_while_they_hold(tmp_path: Path) -> None:
    """Through a real POP: repeated hits are answered at once with the Age going up; after a
    purge the new object comes from the origin; a stale one is validated, never sent as a
    fresh hit."""
    routes = {"/v/index.m3u8": Route(b"#EXTM3U\nv1\n", headers={"cache-control": "max-age=3"})}
    origin = ScriptedOrigin(routes)
    admin = {"Authorization": "Bearer admin"}
    with (
        serve_in_thread(origin) as origin_url,
        edge_process(tmp_path, origin_url) as url,
        httpx.Client(base_url=url, timeout=10) as http,
    ):
        assert http.get("/v/index.m3u8").headers["x-cache"] == "MISS"
        before = int(http.get("/stats").json()["answered_at_once"])
        ages = []
        for _ in range(3):
            hit = http.get("/v/index.m3u8")
            assert (hit.headers["x-cache"], hit.content) == ("HIT", b"#EXTM3U\nv1\n")
            ages.append(int(hit.headers["age"]))
            time.sleep(0.6)
        assert int(http.get("/stats").json()["answered_at_once"]) == before + 3
        assert ages == sorted(ages), ages
        assert ages[-1] >= 1, ages

        routes["/v/index.m3u8"] = Route(b"#EXTM3U\nv2\n", headers={"cache-control": "max-age=3"})
        purged = http.post("/admin/purge", json={"urls": ["/v/index.m3u8"]}, headers=admin)
        assert purged.json()["purged"] == 1
        again = http.get("/v/index.m3u8")
        assert (again.headers["x-cache"], again.content) == ("MISS", b"#EXTM3U\nv2\n")
        assert http.get("/v/index.m3u8").content == b"#EXTM3U\nv2\n"

        time.sleep(3.2)  # stale now
        stale = http.get("/v/index.m3u8")
        assert stale.headers["x-cache"] != "HIT", stale.headers
        assert stale.content == b"#EXTM3U\nv2\n"
