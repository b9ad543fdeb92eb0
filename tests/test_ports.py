"""Ports picked for servers started later: below the kernel's ephemeral range, free over TCP
and UDP, never one held either way or one asked to be avoided."""

from __future__ import annotations

import socket

from mediacdn.ports import bindable, ephemeral_low, free_port, pickable_range


def test_ports_are_picked_below_the_ephemeral_range() -> None:
    ports = pickable_range()
    assert ports.stop == ephemeral_low()
    assert ports.start >= 1024
    for _ in range(50):
        assert free_port() in ports


def test_a_port_held_over_udp_or_tcp_is_not_free() -> None:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as held:
            held.bind(("127.0.0.1", 0))
            port = held.getsockname()[1]
            assert not bindable("127.0.0.1", port)
            assert free_port(among=range(port, port + 1)) != port  # the kernel's choice then
        assert bindable("127.0.0.1", port)


def test_avoided_ports_are_not_picked() -> None:
    below = pickable_range().start  # ports no test server is handed
    ports = range(below - 40, below - 20)
    free = [p for p in ports if bindable("127.0.0.1", p)]
    avoid = set(free[1:])
    assert all(free_port(among=ports, avoid=avoid) == free[0] for _ in range(20))
