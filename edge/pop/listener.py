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


class LoopListener:
    def __init__(
        self,
        app: Any,
        host: str,
        port: int,
        *,
        protocol: type[HttpToolsProtocol] | None = None,
        grace_s: float = 30.0,
        backlog: int = 1024,
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
            backlog=backlog,
        )
        self._server = _QuietServer(config)
        self._host, self._port, self._backlog = host, port, backlog
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # every worker of the POP listens on the same address (the kernel spreads the
        # connections between them)
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((self._host, self._port))
        sock.listen(self._backlog)
        sock.setblocking(False)
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[sock]))
        for _ in range(500):  # bounded: up to 5 s
            if self._server.started or self._task.done():
                break
            await asyncio.sleep(0.01)
        if self._task.done():
            self._task.result()  # raises what stopped it (e.g. address in use)
            raise RuntimeError(f"the listener on {self._host}:{self._port} stopped at once")

    async def stop(self) -> None:
        """Stop accepting, finish the responses in flight (up to the grace), close."""
        self._server.should_exit = True
        if self._task is not None:
            await self._task
