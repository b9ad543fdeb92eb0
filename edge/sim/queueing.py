"""A POP's request slots as a first-come-first-served queue with c servers (pure).

Each request holds a slot from its start until its response has been sent; a request that
finds every slot busy waits for the earliest one to free. With arrivals offered in time order
this is the G/G/c FIFO queue computed directly (Kiefer–Wolfowitz): a heap of the times the
busy slots free up, never more than c entries, so no simulation events are needed for it."""

from __future__ import annotations

import heapq


class FifoServers:
    def __init__(self, servers: int) -> None:
        if servers < 1:
            raise ValueError("a queue needs at least one server")
        self.servers = servers
        self._busy_until: list[float] = []
        self.waited_s = 0.0
        self.admitted = 0
        self.queued = 0

    def start(self, arrival_s: float) -> float:
        """When a request arriving at `arrival_s` gets a slot; call `hold` with its end next."""
        busy = self._busy_until
        while busy and busy[0] <= arrival_s:
            heapq.heappop(busy)
        self.admitted += 1
        if len(busy) < self.servers:
            return arrival_s
        self.queued += 1
        start = heapq.heappop(busy)
        self.waited_s += start - arrival_s
        return start

    def hold(self, until_s: float) -> None:
        heapq.heappush(self._busy_until, until_s)

    def in_flight(self, now_s: float) -> int:
        """Requests started or waiting that have not finished by `now_s`."""
        busy = self._busy_until
        while busy and busy[0] <= now_s:
            heapq.heappop(busy)
        return len(busy)

    def clear(self) -> None:
        self._busy_until.clear()

    @property
    def mean_wait_s(self) -> float:
        return self.waited_s / self.admitted if self.admitted else 0.0
