"""Run an edge: granian runs the worker processes. With TLS it serves the public listener
(HTTP/2 and HTTP/1.1); in plain HTTP each worker serves the public listener itself, on
uvicorn's protocol with a shortcut for fresh hits (edge/pop/front.py: 1.3–2.2× granian's
rate for small hits, see BENCHMARKS.md), and granian listens on a private Unix socket only.
The admin listener, if separate, runs in the same worker and event loop so that it shares the
cache.

The process started is the POP: its workers die with it, even when it is killed with
SIGKILL (they set PR_SET_PDEATHSIG). SIGTERM or SIGINT drain it: each worker is told to leave
(LEAVE_SIGNAL: its next heartbeat, sent at once, says it takes no new players), stops
accepting, finishes the responses in flight for up to `grace_s`, and the POP exits 0."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import signal
import tempfile
from pathlib import Path
from typing import Any

from edge.pop.app import Edge
from edge.pop.config import EdgeConfig
from edge.pop.listener import listening_group
from httprules.lifecycle import die_with_parent, return_freed_memory
from httprules.logs import configure_logging

CONFIG_ENV = "MEDIACDN_EDGE_CONFIG"
PARENT_ENV = "MEDIACDN_EDGE_PARENT"
# the public listening sockets (one per worker slot), and the slot a worker was started in
FRONT_FDS_ENV = "MEDIACDN_EDGE_FRONT_FDS"
SLOT_ENV = "MEDIACDN_EDGE_SLOT"
LEAVE_SIGNAL = signal.SIGUSR1  # main process → worker: start leaving
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1}
for _i, _prefix in enumerate("KMGT", start=1):
    _UNITS |= {
        _prefix: 1000**_i,
        f"{_prefix}B": 1000**_i,
        f"{_prefix}I": 1024**_i,
        f"{_prefix}IB": 1024**_i,
    }


def parse_size(text: str, option: str = "") -> int:
    """`512MiB`, `2GB`, `1048576` → bytes; a ValueError names `option` (`--capacity`), if
    given, and what a size looks like."""
    match = _SIZE.match(text)
    if match is None:
        named = f"{option}: " if option else ""
        raise ValueError(f"{named}{text!r} is not a size (e.g. 512MiB, 2GB)")
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "").upper()])


def create() -> Edge:
    """The granian worker's app factory: the config comes through the environment."""
    die_with_parent(int(os.environ[PARENT_ENV]))
    return_freed_memory()  # bodies read back for the memory tier leave when they are evicted
    data = json.loads(os.environ[CONFIG_ENV])
    data["admin_keys"] = tuple(data["admin_keys"])
    data["router_urls"] = tuple(data["router_urls"])
    data["addresses"] = tuple(data["addresses"])
    fds = [int(fd) for fd in os.environ.get(FRONT_FDS_ENV, "").split(",") if fd]
    if fds:  # this worker's own public socket: its slot's (a respawned worker takes it again)
        data["front_fd"] = fds[int(os.environ.get(SLOT_ENV, "0")) % len(fds)]
    config = EdgeConfig(**data)
    configure_logging(logging.INFO, config.log_format)
    edge = Edge(config)
    signal.signal(LEAVE_SIGNAL, lambda signum, frame: edge.leave())
    return edge


def run_edge(
    config: EdgeConfig,
    *,
    host: str,
    port: int,
    log_level: str = "info",
    grace_s: float = 30.0,
    tls: tuple[Path, Path] | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT (then drain for up to `grace_s`). `tls`: (certificate
    chain, private key) in PEM: the listener speaks TLS, with HTTP/2 and HTTP/1.1 (ALPN)."""
    from granian.constants import HTTPModes, Interfaces, Loops, SSLProtocols
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server.mp import MPServer

    class PopServer(MPServer):
        def _spawn_worker(self, idx: int, *args: Any, **kwargs: Any) -> Any:
            os.environ[SLOT_ENV] = str(idx)  # the worker is started next, with this environment
            return super()._spawn_worker(idx, *args, **kwargs)

        def signal_handler_interrupt(self, *args: Any, **kwargs: Any) -> None:
            for worker in self.wrks:  # tell the routers first, then drain
                if worker.inner.pid is not None:
                    os.kill(worker.inner.pid, LEAVE_SIGNAL)
            super().signal_handler_interrupt(*args, **kwargs)  # type: ignore[no-untyped-call]

    config = dataclasses.replace(config, grace_s=grace_s)
    private, public = None, []
    if not tls:  # each worker serves the public listener itself, on a socket opened here
        try:
            public = listening_group(host, port, config.workers)
        except OSError as exc:
            raise SystemExit(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        for sock in public:
            os.set_inheritable(sock.fileno(), True)
        private = tempfile.TemporaryDirectory(prefix="mediacdn-edge-")
    os.environ[FRONT_FDS_ENV] = ",".join(str(sock.fileno()) for sock in public)  # none: TLS
    os.environ[CONFIG_ENV] = json.dumps(dataclasses.asdict(config))
    os.environ[PARENT_ENV] = str(os.getpid())
    server = PopServer(
        "edge.pop.serve:create",
        factory=True,
        address=host,
        port=port,
        uds=Path(private.name) / "granian.sock" if private else None,
        interface=Interfaces.ASGI,
        workers=config.workers,
        respawn_failed_workers=True,  # a worker that dies is replaced; its slot is taken again
        loop=Loops.uvloop,
        http=HTTPModes.auto,
        websockets=False,
        log_level=LogLevels(log_level),
        log_access=False,
        # a request's head within head_timeout_s; hyper takes at most 100 header fields and
        # answers 431 past them; heads over 64 KiB are refused
        http1_settings=HTTP1Settings(
            header_read_timeout=max(1, round(config.head_timeout_s * 1000)),
            max_buffer_size=64 << 10,
        ),
        ssl_cert=tls[0] if tls else None,
        ssl_key=tls[1] if tls else None,
        ssl_protocol_min=SSLProtocols.tls12,
        workers_kill_timeout=max(1, round(grace_s)),
    )
    try:
        server.serve()
    finally:
        if private is not None:
            private.cleanup()
        for sock in public:
            sock.close()
