"""Run an ASGI app with uvicorn on 127.0.0.1 in a background thread, for tests."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import uvicorn


class _ClosingServer(uvicorn.Server):
    """uvicorn, minus one leak: connections still open when the graceful shutdown times out
    (a client that keeps a response hanging) have their sockets closed, not left to the
    garbage collector (whose ResourceWarning would fail whichever test is running then)."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets)
        for connection in list(self.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.close()
        await asyncio.sleep(0)  # let the transports finish closing


@contextmanager
def serve_in_thread(
    app: Any, port: int = 0, lifespan: Literal["auto", "on", "off"] = "auto"
) -> Iterator[str]:
    """Yields the base URL; the server stops when the block ends. `port` may be reused to
    restart a server at the same address."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan=lifespan,
        date_header=False,
        server_header=False,
        timeout_graceful_shutdown=2,
    )
    server = _ClosingServer(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
