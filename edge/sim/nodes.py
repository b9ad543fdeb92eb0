"""The simulated CDN's nodes: POPs (edges and shields) with the live edge's eviction policy,
request slots and a fill path to their parent, and the origin. Counters per node and per time
bin feed the report and the plots."""

from __future__ import annotations

from collections.abc import Callable

from edge.eviction.policy import EvictionPolicy, make_policy
from edge.router.routing import Pop
from edge.sim.queueing import FifoServers
from edge.sim.workload import locate_object


class Counters:
    """Per node, in total and per time bin."""

    def __init__(self, bins: int) -> None:
        self.requests = 0
        self.hits = 0
        self.bytes = 0
        self.hit_bytes = 0
        self.collapsed = 0  # waited for a fill already on its way (counted as a miss)
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
        self.log: list[tuple[int, int, int]] | None = None  # (time, object, size) if exporting

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
