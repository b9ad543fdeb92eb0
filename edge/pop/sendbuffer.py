"""How much of a response the kernel may hold, copied, for one client connection.

Linux grows a TCP connection's send buffer with its congestion window, up to the maximum of
`net.ipv4.tcp_wmem` (4 MiB by default). On a path that never loses a packet (the same host, a
LAN, a client in the same building) the window never stops growing, so every such connection
soon holds megabytes of segments copied into kernel memory ahead of its client: 32 clients
of 2 MiB segments keep 64 MiB of copies that no CPU cache holds, and the copy out of them to
each client runs at memory speed (BENCHMARKS.md, "POP against nginx proxy_cache and
Varnish": about 1.4x the segment hits per second on loopback with the buffer bounded).

A connection whose handshake round trip is short enough gets a send buffer fitted to its
bandwidth-delay product at `RATE` (far more than a video client needs), at least `FLOOR`.
A farther client keeps the kernel's autotuning: the buffer its path needs at that rate is
more than the kernel lets a program set (`net.core.wmem_max`) or than autotuning would grow
to anyway (`CEILING`), so bounding it would only slow it down.

A listener's connections also share a `BUDGET`: with many of them open, a new near one gets an
equal share of it among all those open (at least `SHARE_FLOOR`, which still carries over 100
Mbit/s over the farthest near path, far above any video rendition) rather than the whole fitted
size, so the copies held for hundreds of clients stay tens of MiB, not hundreds (3-6% more
segment hits with 512 clients on loopback, level with 128). A connection keeps the size it was
given when it opened."""

from __future__ import annotations

import socket
import struct
from typing import Protocol

RATE = 10e9 / 8  # bytes per second one connection can be sent at with the fitted buffer
FLOOR = 256 << 10
CEILING = 4 << 20  # the default maximum of tcp_wmem: a path needing more keeps autotuning
BUDGET = 16 << 20  # shared by the connections open on one listener of one worker
SHARE_FLOOR = 64 << 10

# struct tcp_info (linux/tcp.h): eight one-byte fields, then u32s; tcpi_rtt (microseconds) is
# the sixteenth u32
_RTT = struct.Struct("=I")
_RTT_OFFSET = 8 + 15 * 4
_TCP_INFO = getattr(socket, "TCP_INFO", None)


class Socket(Protocol):
    """A socket, or the stand-in an event loop's transport gives for its own."""

    def getsockopt(self, level: int, option: int, size: int, /) -> bytes: ...

    def setsockopt(self, level: int, option: int, value: int, /) -> None: ...


def _settable_limit() -> int:
    """The largest send buffer a program may set here (`net.core.wmem_max`), at most
    `CEILING`."""
    try:
        with open("/proc/sys/net/core/wmem_max") as limit:
            return min(CEILING, int(limit.read()))
    except (OSError, ValueError):
        return CEILING


SETTABLE = _settable_limit()  # read once: the kernel's setting, not the connection's


def fitted_send_buffer(rtt_s: float, limit: int = SETTABLE, share: int | None = None) -> int | None:
    """The send buffer (bytes, as given to SO_SNDBUF) for a connection whose round trip is
    `rtt_s` where at most `limit` can be set and its `share` of the budget is given, or None
    to leave it to the kernel (a far client, or no round trip measured)."""
    need = RATE * rtt_s
    if rtt_s <= 0 or need >= limit:
        return None
    size = max(FLOOR, int(need))
    return size if share is None else min(size, max(SHARE_FLOOR, share))


def handshake_rtt_s(sock: Socket) -> float:
    """The connection's smoothed round trip so far (at accept: the handshake's), 0 if the
    system does not say."""
    if _TCP_INFO is None:
        return 0.0
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _RTT_OFFSET + _RTT.size)
    except OSError:
        return 0.0
    if len(info) < _RTT_OFFSET + _RTT.size:
        return 0.0
    return float(_RTT.unpack_from(info, _RTT_OFFSET)[0]) / 1e6


def fit_send_buffer(sock: Socket, share: int | None = None) -> int | None:
    """Bound a newly accepted near client's send buffer (`fitted_send_buffer`); the size set,
    or None if the kernel's autotuning is kept."""
    size = fitted_send_buffer(handshake_rtt_s(sock), share=share)
    if size is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
        except OSError:
            return None
    return size


class SendBudget:
    """The `BUDGET` the connections open on one listener share: each is fitted, as it opens,
    to at most an equal share of it among all those open then."""

    def __init__(self, total: int = BUDGET) -> None:
        self.total = total
        self.open = 0

    def fit(self, sock: Socket) -> int | None:
        """Count a newly accepted connection and fit its send buffer (`fit_send_buffer`);
        `release` it when it closes."""
        self.open += 1
        return fit_send_buffer(sock, self.total // self.open)

    def release(self) -> None:
        self.open -= 1
