"""The router: POP registry, routing decision (pure), content steering, coverage zones,
topology, and the router app."""
