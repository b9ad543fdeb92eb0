"""The simulated CDN's nodes: POPs (edges and shields) with the live edge's eviction policy,
request slots and a fill path to their parent, and the origin. Counters per node and per time
bin feed the report and the plots."""

from __future__ import annotations

from collections.abc import Callable

from edge.eviction.policy import EvictionPolicy, make_policy
from edge.router.routing import Pop, RoutingPolicy, great_circle_km, neighbours, rtt_ms
from edge.router.topology import Topology
from edge.sim.queueing import FifoServers
from edge.sim.scenario import Scenario
from edge.sim.workload import locate_object


class Counters:
    """Per node, in total and per time bin."""

    def __init__(self, bins: int) -> None:
        self.requests = 0
        self.hits = 0
        self.bytes = 0
        self.hit_bytes = 0
        self.collapsed = 0  # waited for a fill already on its way (counted as a miss)
        self.collapsed_bytes = 0
        # the eviction policy's own count, as a replay of the node's log makes it: every
        # request its cache was asked for (one whose fill then failed too), and those that
        # found their object admitted, its fill finished or still on its way
        self.policy_requests = 0
        self.policy_bytes = 0
        self.policy_hits = 0
        self.policy_hit_bytes = 0
        self.spilled = 0  # redirected to a neighbour: every request slot was busy
        self.failed = 0
        self.upstream_requests = 0
        self.upstream_bytes = 0
        self.sessions = 0
        self.peak_in_flight = 0
        self.request_bins = [0] * bins
        self.hit_bins = [0] * bins
        self.byte_bins = [0] * bins
        self.load_bins = [0] * bins  # the most requests in flight seen in the bin


class Node:
    """A POP, or the origin (no cache, no parent)."""

    def __init__(
        self,
        name: str,
        pop: Pop | None,
        *,
        bins: int,
        cache_bytes: int = 0,
        policy: str = "lru",
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.name = name
        self.pop = pop
        self.tier = "origin" if pop is None else pop.tier
        self.parent: Node | None = None
        self.neighbours: list[Node] = []  # where a full POP redirects (edge/routing.neighbours)
        self.half_rtt_up_s = 0.0  # one way to the parent (or the origin)
        self.policy_name = policy
        self.cache_bytes = cache_bytes
        self._clock = clock
        self.cache: EvictionPolicy | None = None if pop is None else self.new_cache()
        self.ready: dict[int, float] = {}  # objects whose fill is still on its way: when it lands
        self.queue = FifoServers(pop.max_in_flight if pop is not None else 1)
        self.alive = True
        self.routable = True  # what the router believes (it learns of a death late)
        self.counters = Counters(bins)
        # (time, object, size) of each request its cache was asked for, if exporting
        self.log: list[tuple[int, int, int]] | None = None

    def new_cache(self) -> EvictionPolicy:
        return make_policy(
            self.policy_name, self.cache_bytes, clock=self._clock, locate=locate_object
        )

    def fail(self) -> None:
        """The POP dies: its memory and its requests in flight are gone."""
        self.alive = False
        self.cache = self.new_cache()
        self.ready.clear()
        self.queue.clear()

    def restore(self) -> None:
        self.alive = True


def build_nodes(
    s: Scenario,
    topology: Topology,
    bins: int,
    routing: RoutingPolicy,
    clock: Callable[[], float],
    log_requests: bool,
) -> dict[str, Node]:
    """The scenario's POPs in their tiers under one origin, with caches sized and capacities
    scaled as it says, and each edge's spill neighbours as the router names them."""
    origin = Node("origin", None, bins=bins)
    nodes = {"origin": origin}
    for spec in topology.pops:
        pop = spec.pop
        scaled = Pop(
            pop.name,
            pop.lat,
            pop.lon,
            pop.tier,
            max(1, round(pop.max_in_flight * s.capacity_scale)),
            pop.max_mbps * s.capacity_scale,
        )
        mb = s.edge_cache_mb if pop.tier == "edge" else s.shield_cache_mb
        nodes[pop.name] = Node(
            pop.name,
            scaled,
            bins=bins,
            cache_bytes=int(mb * 1e6),
            policy=s.cache_policy,
            clock=clock,
        )
    for spec in topology.pops:
        node = nodes[spec.pop.name]
        parent = nodes[spec.parent] if (spec.parent and s.tiered) else origin
        node.parent = parent
        if parent.pop is not None:
            km = great_circle_km(spec.pop.lat, spec.pop.lon, parent.pop.lat, parent.pop.lon)
            node.half_rtt_up_s = rtt_ms(km, routing) / 2000
        else:
            node.half_rtt_up_s = 0.025  # to an origin in a nearby cloud region
        if log_requests:
            node.log = []
    # Spill targets as the router names them to an idle CDN (the live router refreshes
    # them every heartbeat; here they are fixed, skipping dead POPs when used).
    pops = [n.pop for n in nodes.values() if n.pop is not None]
    for node in nodes.values():
        if node.pop is not None and node.tier == "edge":
            node.neighbours = [nodes[p.name] for p in neighbours(node.pop, pops, {})]
    return nodes
