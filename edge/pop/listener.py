"""A uvicorn server on an address of its own, in the edge's own event loop (so it shares the
cache), started and stopped by the public app's lifespan: the admin listener, and the public
plain-HTTP listener (edge/pop/front.py)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from httprules.listener import limited_protocol


class _QuietServer(uvicorn.Server):
    """Leaves signals to the process's real server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def listening_socket(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A TCP socket listening on host:port; OSError (e.g. the address in use) if it cannot."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def listening_group(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` sockets listening on one address, one per worker: the kernel spreads new
    connections evenly between them (SO_REUSEPORT), where workers sharing one socket accept
    unevenly (one worker woken first takes most of a burst). The address is checked first
    without SO_REUSEPORT, so that an address in use, even by sockets that share it, is an
    OSError here rather than a share of someone else's connections."""
    probe = listening_socket(host, port)
    if count == 1:
        return [probe]
    port = probe.getsockname()[1]
    probe.close()
    group: list[socket.socket] = []
    try:
        for _ in range(count):
            group.append(listening_socket(host, port, reuse_port=True))
    except OSError:
        for sock in group:
            sock.close()
        raise
    return group


class LoopListener:
    """`host`, `port`: where to listen, or `sock`: a listening socket to serve (the public one
    a worker inherited for its slot, one of a `listening_group`)."""

    def __init__(
        self,
        app: Any,
        host: str = "",
        port: int = 0,
        *,
        sock: socket.socket | None = None,
        protocol: type[HttpToolsProtocol] | None = None,
        grace_s: float = 30.0,
    ) -> None:
        config = uvicorn.Config(
            app,
            http=protocol or limited_protocol(),
            host=host,
            port=port,
            lifespan="off",
            access_log=False,
            interface="asgi3",
            log_level="warning",
            proxy_headers=False,  # the client is who connected (X-Forwarded-For is appended to)
            server_header=False,  # responses carry what the app (the cache) says, no more
            date_header=False,
            timeout_graceful_shutdown=max(1, round(grace_s)),
        )
        self._server = _QuietServer(config)
        self._host, self._port, self._sock = host, port, sock
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # every worker of the POP listens on the same address, each on a socket of its own
        # (inherited, or bound here): the kernel spreads the connections between them
        sock = self._sock or listening_socket(self._host, self._port, reuse_port=True)
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[sock]))
        for _ in range(500):  # bounded: up to 5 s
            if self._server.started or self._task.done():
                break
            await asyncio.sleep(0.01)
        if self._task.done():
            self._task.result()  # raises what stopped it (e.g. address in use)
            raise RuntimeError(f"the listener on {sock.getsockname()} stopped at once")

    async def stop(self) -> None:
        """Stop accepting, finish the responses in flight (up to the grace), close."""
        self._server.should_exit = True
        if self._task is not None:
            await self._task
