"""Ports for servers started later: the local CDN's router and POPs, the demo's origin, test
servers. A port from `bind(0)` is only free until the kernel hands it out again, to another
`bind(0)` or to an outgoing connection's local end, which then takes what was meant for the
server that binds it later; so ports are picked below the kernel's ephemeral range, where
the kernel hands out none, and checked free over TCP and UDP (an ingest and the router's DNS
take both)."""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Set
from pathlib import Path

BELOW_EPHEMERAL = 12_000  # how many ports below the ephemeral range are picked from
TRIES = 200
_RANDOM = random.Random(os.urandom(16))  # its own: a program that seeds `random` does not steer it


def ephemeral_low() -> int:
    """Where the kernel's ephemeral ports start: it takes the ports of `bind(("", 0))` and of
    outgoing connections from there up."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def pickable_range() -> range:
    """The ports `free_port` picks from by default."""
    top = ephemeral_low()
    return range(max(1024, top - BELOW_EPHEMERAL), top)


def bindable(host: str, port: int) -> bool:
    """Whether `port` on `host` can be bound now over TCP and over UDP."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(family, kind) as s:
            try:
                s.bind((host, port))
            except OSError:
                return False
    return True


def free_port(
    host: str = "127.0.0.1", among: range | None = None, avoid: Set[int] = frozenset()
) -> int:
    """A port of `among` (by default `pickable_range()`) free now on `host`, not in `avoid`;
    the kernel's choice if none is found in a few hundred tries."""
    ports = among if among is not None else pickable_range()
    for _ in range(TRIES if len(ports) else 0):
        port = _RANDOM.choice(ports)
        if port not in avoid and bindable(host, port):
            return port
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
