"""Eviction policies (pure), shared by the POP and the simulator."""
