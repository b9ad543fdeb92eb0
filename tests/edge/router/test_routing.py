"""Routing decisions: nearest healthy POP, load spill with bounded loads, metro affinity."""

from __future__ import annotations

from collections import Counter

import pytest

from edge.router.routing import Pop, PopLoad, RoutingPolicy, choose_pop, great_circle_km

PARIS = Pop("paris", 48.86, 2.35)
LONDON = Pop("london", 51.51, -0.13)
NEW_YORK = Pop("new-york", 40.71, -74.01)
PARIS_2 = Pop("paris-2", 48.80, 2.45)
SHIELD = Pop("shield", 50.11, 8.68, tier="shield")
POPS = (PARIS, LONDON, NEW_YORK, SHIELD)
BERLIN_CLIENT = (52.52, 13.40)


def test_great_circle() -> None:
    assert great_circle_km(48.86, 2.35, 51.51, -0.13) == pytest.approx(344, abs=5)
    assert great_circle_km(0, 0, 0, 180) == pytest.approx(20015, abs=5)


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        pytest.param((48.85, 2.30), "paris", id="paris"),
        pytest.param((53.48, -2.24), "london", id="manchester"),
        pytest.param((42.36, -71.06), "new-york", id="boston"),
        pytest.param(BERLIN_CLIENT, "paris", id="berlin"),
    ],
)
def test_nearest_healthy_pop(client: tuple[float, float], expected: str) -> None:
    route = choose_pop(*client, POPS, {})
    assert route is not None
    assert route.pop.name == expected
    assert "shield" not in {p.name for p in (route.pop, *route.alternatives)}


def test_unhealthy_pops_get_no_routes() -> None:
    route = choose_pop(48.85, 2.30, POPS, {"paris": PopLoad(healthy=False)})
    assert route is not None
    assert route.pop.name == "london"
    down = {p.name: PopLoad(healthy=False) for p in POPS}
    assert choose_pop(48.85, 2.30, POPS, down) is None


def test_load_above_capacity_spills_to_the_next() -> None:
    loads = {"paris": PopLoad(in_flight=PARIS.max_in_flight)}
    route = choose_pop(48.85, 2.30, POPS, loads)
    assert route is not None
    assert route.pop.name == "london"
    assert route.alternatives[-1].name == "paris"  # still there as a last resort


def test_bounded_load_spills_before_capacity() -> None:
    loads = {
        "paris": PopLoad(in_flight=600),
        "london": PopLoad(in_flight=100),
        "new-york": PopLoad(in_flight=100),
    }
    route = choose_pop(48.85, 2.30, POPS, loads, RoutingPolicy(bounded_load=1.25))
    assert route is not None
    assert route.pop.name == "london"  # 0.6 > 1.25 × mean(0.6, 0.1, 0.1)


def test_every_pop_overloaded_still_routes_to_the_least_bad() -> None:
    loads = {p.name: PopLoad(in_flight=p.max_in_flight * 2) for p in POPS}
    route = choose_pop(48.85, 2.30, POPS, loads)
    assert route is not None
    assert route.pop.name == "paris"


def test_metro_affinity_keeps_a_video_on_one_pop() -> None:
    pops = (PARIS, PARIS_2, LONDON)
    chosen = {
        choose_pop(48.85 + i * 0.01, 2.30, pops, {}, content_key="video-1").pop.name  # type: ignore[union-attr]
        for i in range(20)
    }
    assert len(chosen) == 1
    spread = Counter(
        choose_pop(48.85, 2.30, pops, {}, content_key=f"video-{i}").pop.name  # type: ignore[union-attr]
        for i in range(400)
    )
    assert set(spread) == {"paris", "paris-2"}  # London is not in the metro
    assert min(spread.values()) > 120  # videos spread over the metro's POPs


def test_affinity_respects_bounded_load() -> None:
    pops = (PARIS, PARIS_2, LONDON)
    home = choose_pop(48.85, 2.30, pops, {}, content_key="video-7")
    assert home is not None
    other = "paris-2" if home.pop.name == "paris" else "paris"
    loads = {
        home.pop.name: PopLoad(in_flight=900),
        other: PopLoad(in_flight=100),
        "london": PopLoad(in_flight=100),
    }
    moved = choose_pop(48.85, 2.30, pops, loads, content_key="video-7")
    assert moved is not None
    assert moved.pop.name == other
