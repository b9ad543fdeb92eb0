"""The POP registry: heartbeats keep a POP in rotation; silence takes it out, and later
forgets it; a planned POP is routed to at its planned URL only; nothing a beat says can grow
the registry past its bounds or be replayed."""

from __future__ import annotations

import pytest

from edge.router.registry import PopRegistry, Refused, parse_heartbeat
from edge.router.routing import Pop, choose_pop
from edge.wire import WireError

BEAT = {
    "name": "paris",
    "url": "http://127.0.0.1:9001",
    "lat": 48.86,
    "lon": 2.35,
    "in_flight": 3,
    "bytes_per_s": 1_250_000,
}


def test_heartbeats_keep_a_pop_in_rotation_and_silence_removes_it() -> None:
    registry = PopRegistry(timeout_s=3, allow_enrollment=True)
    registry.heartbeat(parse_heartbeat(BEAT, now=100.0))
    registry.heartbeat(
        parse_heartbeat({**BEAT, "name": "london", "lat": 51.5, "lon": -0.1}, now=100.0)
    )
    pops, loads, urls = registry.snapshot(102.9)
    assert loads["paris"].healthy
    assert loads["paris"].mbps == pytest.approx(10.0)
    assert urls["paris"] == "http://127.0.0.1:9001"
    route = choose_pop(48.85, 2.30, pops, loads)
    assert route is not None
    assert route.pop.name == "paris"
    registry.heartbeat(
        parse_heartbeat({**BEAT, "name": "london", "lat": 51.5, "lon": -0.1}, now=102.0)
    )
    pops, loads, _ = registry.snapshot(103.5)  # paris silent for 3.5 s
    assert not loads["paris"].healthy
    route = choose_pop(48.85, 2.30, pops, loads)
    assert route is not None
    assert route.pop.name == "london"
    registry.heartbeat(parse_heartbeat(BEAT, now=104.0))  # back
    pops, loads, _ = registry.snapshot(104.1)
    assert loads["paris"].healthy


@pytest.mark.parametrize(
    "bad",
    [
        {"url": "http://x"},
        {**BEAT, "lat": 95},
        {**BEAT, "url": "ftp://x"},
        {**BEAT, "tier": "core"},
        {**BEAT, "in_flight": "many"},
    ],
)
def test_bad_heartbeats_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(WireError):
        parse_heartbeat(bad, now=0)


def test_topology_pops_keep_their_planned_capacity_and_url() -> None:
    planned = Pop("paris", 48.86, 2.35, max_in_flight=50, max_mbps=100)
    registry = PopRegistry()
    registry.plan(planned, "https://paris.cdn.example/")
    registry.plan(Pop("tokyo", 35.68, 139.69), None)
    beat = {**BEAT, "max_in_flight": 9999, "url": "http://attacker.example"}
    registry.heartbeat(parse_heartbeat(beat, now=1.0))
    pops, _, urls = registry.snapshot(1.5)
    assert pops == [planned]  # the heartbeat's own capacity does not override the plan
    assert urls == {"paris": "https://paris.cdn.example"}  # nor its URL
    listed = {p["name"]: p for p in registry.describe(1.5)}
    assert listed["tokyo"]["healthy"] is False  # planned but never heard from
    assert listed["paris"]["healthy"] is True


def healthy(registry: PopRegistry, now: float) -> set[str]:
    _, loads, _ = registry.snapshot(now)
    return {name for name, load in loads.items() if load.healthy}


def test_failed_probes_take_a_pop_out_unless_every_probe_fails() -> None:
    registry = PopRegistry(timeout_s=3, allow_enrollment=True)
    for name, lat in (("a", 10.0), ("b", 20.0)):
        registry.heartbeat(parse_heartbeat({**BEAT, "name": name, "lat": lat}, now=0.0))
    registry.probe_result("a", False)
    assert healthy(registry, 1.0) == {"a", "b"}  # one failure is not enough
    registry.probe_result("a", False)
    registry.probe_result("b", True)
    assert healthy(registry, 1.0) == {"b"}
    registry.probe_result("b", False)
    registry.probe_result("b", False)
    assert healthy(registry, 1.0) == {"a", "b"}  # every probe failing: the prober is broken
    registry.probe_result("a", True)
    assert healthy(registry, 1.0) == {"a"}
    assert healthy(registry, 10.0) == set()  # heartbeats still rule


def test_unplanned_pops_join_only_by_enrollment_and_within_the_bound() -> None:
    closed = PopRegistry()
    with pytest.raises(Refused) as refused:
        closed.heartbeat(parse_heartbeat(BEAT, now=0.0))
    assert refused.value.code == "not_planned"
    assert closed.snapshot(0.0) == ([], {}, {})
    bounded = PopRegistry(allow_enrollment=True, max_enrolled=2)
    for name in ("a", "b"):
        bounded.heartbeat(parse_heartbeat({**BEAT, "name": name}, now=0.0))
    with pytest.raises(Refused) as full:
        bounded.heartbeat(parse_heartbeat({**BEAT, "name": "c"}, now=0.0))
    assert full.value.status == 503
    bounded.heartbeat(parse_heartbeat({**BEAT, "name": "a"}, now=1.0))  # known ones still beat
    assert set(bounded.snapshot(1.0)[2]) == {"a", "b"}


def test_a_planned_pop_without_a_url_is_never_routed_to() -> None:
    registry = PopRegistry()
    registry.plan(Pop("paris", 48.86, 2.35), None)
    with pytest.raises(Refused) as refused:
        registry.heartbeat(parse_heartbeat(BEAT, now=0.0))
    assert refused.value.code == "no_url"
    assert registry.snapshot(0.0)[0] == []


def test_a_replayed_or_older_signature_is_refused() -> None:
    registry = PopRegistry(allow_enrollment=True)
    registry.heartbeat(parse_heartbeat(BEAT, now=0.0), signed_at=1000.0)
    for signed_at in (1000.0, 999.0):
        with pytest.raises(Refused) as refused:
            registry.heartbeat(parse_heartbeat({**BEAT, "in_flight": 999}, now=1.0), signed_at)
        assert refused.value.code == "replayed"
    assert registry.snapshot(1.0)[1]["paris"].in_flight == 3
    registry.heartbeat(parse_heartbeat(BEAT, now=1.0), signed_at=1001.0)


def test_silent_pops_are_forgotten() -> None:
    registry = PopRegistry(allow_enrollment=True, expire_s=30)
    registry.plan(Pop("tokyo", 35.68, 139.69), "http://tokyo.example")
    registry.heartbeat(parse_heartbeat(BEAT, now=0.0))
    registry.heartbeat(parse_heartbeat({**BEAT, "name": "tokyo", "url": "http://x"}, now=0.0))
    assert set(registry.probe_targets(29.0)) == {"paris", "tokyo"}
    assert registry.probe_targets(31.0) == {}
    assert registry.snapshot(31.0) == ([], {}, {})
    listed = {p["name"]: p for p in registry.describe(31.0)}
    assert set(listed) == {"tokyo"}  # planned: still listed, as silent
    assert listed["tokyo"]["healthy"] is False
