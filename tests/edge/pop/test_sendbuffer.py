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
    least, most = (2 * min(int(size), SETTABLE) for size in (FLOOR, RATE * 1e-3))
    assert all(least <= size <= most for size in sizes), sizes
