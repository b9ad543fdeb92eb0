"""A near client's send buffer is fitted to its path; a far one keeps the kernel's autotuning.
Real loopback connections: their handshake round trip is read from the kernel, and the
public listener bounds the buffer of each connection it accepts."""

from __future__ import annotations

import asyncio
import socket

from edge.pop.front import front_protocol
from edge.pop.listener import LoopListener, listening_socket
from edge.pop.sendbuffer import (
    CEILING,
    FLOOR,
    RATE,
    SETTABLE,
    SHARE_FLOOR,
    SendBudget,
    fit_send_buffer,
    fitted_send_buffer,
    handshake_rtt_s,
)
from httprules.asgi import Receive, Scope, Send
from tests.support.servers import free_port


def test_the_buffer_covers_the_path_at_the_rate_and_far_paths_keep_autotuning() -> None:
    assert fitted_send_buffer(25e-6, CEILING) == FLOOR  # the same host
    assert fitted_send_buffer(1e-3, CEILING) == int(RATE * 1e-3)  # a metro path: 1.25 MB
    metro = fitted_send_buffer(3e-3, CEILING)
    assert metro is not None
    assert FLOOR < metro <= CEILING
    for far in (CEILING / RATE, 0.02, 0.2):
        assert fitted_send_buffer(far, CEILING) is None
    assert fitted_send_buffer(0.0, CEILING) is None  # no round trip measured: nothing known
    # where programs may set only 208 KiB (a common net.core.wmem_max), a path needing more
    # at the rate keeps the autotuning; a near one still gets the floor (the kernel clamps it)
    assert fitted_send_buffer(1e-3, 212992) is None
    assert fitted_send_buffer(25e-6, 212992) == FLOOR


def test_a_share_of_the_budget_bounds_the_buffer_but_never_below_the_floor() -> None:
    assert fitted_send_buffer(25e-6, CEILING, share=8 * FLOOR) == FLOOR
    assert fitted_send_buffer(25e-6, CEILING, share=FLOOR // 2) == FLOOR // 2
    assert fitted_send_buffer(25e-6, CEILING, share=1) == SHARE_FLOOR
    assert fitted_send_buffer(1e-3, CEILING, share=FLOOR) == FLOOR  # a metro path too
    assert fitted_send_buffer(0.02, CEILING, share=FLOOR) is None  # a far one keeps autotuning


def test_connections_opened_together_share_the_budget_and_give_it_back() -> None:
    budget = SendBudget(total=4 * FLOOR)
    with socket.create_server(("127.0.0.1", 0)) as server:
        pairs = []
        for _ in range(16):
            client = socket.create_connection(server.getsockname())
            pairs.append((client, server.accept()[0]))
        try:
            sizes = [budget.fit(accepted) for _, accepted in pairs]
            assert budget.open == 16
            # each gets its fitted size (the floor on loopback, more if the machine is slow to
            # answer) bounded by an equal share among those open: FLOOR for the first four,
            # then ever less, down to SHARE_FLOOR
            fitted = [max(FLOOR, int(RATE * handshake_rtt_s(a))) for _, a in pairs]
            shares = [max(SHARE_FLOOR, 4 * FLOOR // n) for n in range(1, 17)]
            assert shares[:4] == [FLOOR * 4 // n for n in range(1, 5)]
            assert shares[-1] == SHARE_FLOOR
            assert sizes == [min(f, s) for f, s in zip(fitted, shares, strict=True)]
            kernel = [a.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) for _, a in pairs]
            assert kernel == [2 * min(size or 0, SETTABLE) for size in sizes]
            for _ in pairs[1:]:
                budget.release()
            assert budget.open == 1
            # one more opened beside the one left: half the budget, more than it is fitted to
            assert budget.fit(pairs[1][1]) == min(fitted[1], 2 * FLOOR)
        finally:
            for client, accepted in pairs:
                client.close()
                accepted.close()


def test_a_loopback_connection_is_near_and_its_buffer_is_bounded() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
        with client, accepted:
            autotuned = accepted.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
            rtt = handshake_rtt_s(accepted)
            assert 0 < rtt < 1e-3
            size = fit_send_buffer(accepted)
            assert size is not None
            assert FLOOR <= size <= RATE * 1e-3
            bounded = accepted.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
            # Linux doubles it for its bookkeeping, after clamping it to net.core.wmem_max
            assert bounded == 2 * min(size, SETTABLE)
            assert bounded < autotuned


def test_the_public_listener_fits_every_connection_it_accepts() -> None:
    sizes: list[int] = []
    base = front_protocol(lambda scope, head: None, 5.0, lambda: None)

    class Watched(base):  # type: ignore[valid-type,misc]
        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            sock = transport.get_extra_info("socket")
            sizes.append(sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def serve(port: int) -> None:
        sock = listening_socket("127.0.0.1", port)
        listener = LoopListener(app, sock=sock, protocol=Watched, grace_s=1)
        await listener.start()
        try:
            for _ in range(3):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"GET / HTTP/1.1\r\nHost: pop\r\n\r\n")
                assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 204")
                writer.close()
                await writer.wait_closed()
        finally:
            await listener.stop()

    asyncio.run(serve(free_port()))
    assert len(sizes) == 3
    assert Watched.send_budget.open == 0  # each gave its share back as it closed
    least, most = (2 * min(int(size), SETTABLE) for size in (FLOOR, RATE * 1e-3))
    assert all(least <= size <= most for size in sizes), sizes
