"""A POP: the edge cache node server (shared HTTP cache and reverse proxy), its admin listener
and its heartbeats to the router."""
