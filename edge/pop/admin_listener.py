"""The admin endpoints on their own address, in the edge's own event loop (so they share the
cache), started and stopped by the public app's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
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
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._server.serve())
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
