"""The admin endpoints on their own address, in the edge's own event loop (so they share the
cache), started and stopped by the public app's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator
from typing import Any

import uvicorn

from httprules.listener import limited_protocol


class _QuietServer(uvicorn.Server):
    """Leaves signals to the process's real server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class AdminListener:
    def __init__(self, app: Any, host: str, port: int) -> None:
        config = uvicorn.Config(
            app,
            http=limited_protocol(),
            host=host,
            port=port,
            lifespan="off",
            access_log=False,
            interface="asgi3",
            log_level="warning",
        )
        self._server = _QuietServer(config)
        self._host, self._port = host, port
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # every worker of the POP listens on the same address (the kernel spreads the
        # connections), as on the public listener
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((self._host, self._port))
        sock.listen(128)
        sock.setblocking(False)
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[sock]))
        for _ in range(500):  # bounded: up to 5 s
            if self._server.started or self._task.done():
                break
            await asyncio.sleep(0.01)
        if self._task.done():
            self._task.result()  # raises what stopped it (e.g. address in use)
            raise RuntimeError("the admin listener stopped at once")

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
