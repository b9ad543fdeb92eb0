"""POPs in the test process that send signed heartbeats to a router, and routers that hold
their keys."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager as ContextManager
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from edge.pop.app import Edge
from edge.pop.config import EdgeConfig
from edge.router.app import create_router_app
from edge.router.registry import PopRegistry
from edge.wire import SIGNATURE_HEADER, sign_beat
from tests.support.asgi_server import serve_in_thread
from tests.support.scripted_origin import ScriptedOrigin
from tests.support.servers import free_port, start_mediacdn, stop_process, wait_until


def pop_key(name: str) -> str:
    return f"{name}-heartbeat-key-for-tests"


def write_pop_keys(path: Path, names: Iterable[str]) -> Path:
    path.write_text("[pops]\n" + "".join(f'{n} = "{pop_key(n)}"\n' for n in names))
    return path


def keyed_router(names: Iterable[str], **options: Any) -> Starlette:
    """A router holding the test key of each POP in `names`, which join by enrollment."""
    registry = options.pop("registry", None) or PopRegistry(allow_enrollment=True)
    keys = {n: pop_key(n) for n in names}
    return create_router_app(registry=registry, pop_keys=keys, **options)


def post_beat(
    http: httpx.Client, beat: dict[str, Any], *, key: str | None = None, at_s: float | None = None
) -> httpx.Response:
    """POST `beat` to /heartbeat signed with `key` (default: its POP's test key)."""
    body = json.dumps(beat).encode()
    key = pop_key(str(beat.get("name"))) if key is None else key
    signature = sign_beat(key, body, time.time() if at_s is None else at_s)
    headers = {"content-type": "application/json", SIGNATURE_HEADER: signature}
    return http.post("/heartbeat", content=body, headers=headers)


@contextmanager
def beating(router_url: str, *beats: dict[str, Any], period_s: float = 0.5) -> Iterator[None]:
    """Keep sending each of `beats` (signed with its POP's test key) until the block ends."""
    stop = threading.Event()

    def run() -> None:
        with httpx.Client(base_url=router_url, timeout=5) as http:
            while not stop.is_set():
                for beat in beats:
                    with suppress(httpx.HTTPError):
                        post_beat(http, beat)
                stop.wait(period_s)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


def routed_edge(
    name: str, lat: float, lon: float, upstream: str, router_url: str, **options: Any
) -> tuple[Edge, int, str]:
    """A POP at (lat, lon) beating to `router_url` every 0.2 s with its test key; (edge, port,
    public URL). Serve it on that port (it tells the router that URL)."""
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    config = EdgeConfig(
        name=name,
        upstream=upstream,
        router_urls=(router_url,),
        pop_key=pop_key(name),
        public_url=public,
        lat=lat,
        lon=lon,
        heartbeat_s=0.2,
        **options,
    )
    return Edge(config), port, public


@contextmanager
def mediacdn_process(
    command: str,
    tmp_path: Path,
    env: dict[str, str],
    *args: str,
    name: str,
    scheme: str = "http",
    port: int | None = None,
) -> Iterator[str]:
    """`mediacdn COMMAND` on `port` (default: a free one), until it answers /healthz; yields
    its URL. A process that exits first fails the wait with the end of its log."""
    port = port or free_port()
    proc = start_mediacdn(command, tmp_path, env, "--port", str(port), *args, log_name=name)
    url = f"{scheme}://127.0.0.1:{port}"
    try:

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError((tmp_path / f"{name}.log").read_text()[-2000:])
            try:
                return httpx.get(url + "/healthz", timeout=1, verify=False).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, 30, name)
        yield url
    finally:
        stop_process(proc)


def router_process(tmp_path: Path, *extra: str, name: str = "router") -> ContextManager[str]:
    return mediacdn_process("router", tmp_path, {}, *extra, name=name)


def edge_process(
    tmp_path: Path,
    upstream: str,
    *extra: str,
    name: str = "pop",
    scheme: str = "http",
    port: int | None = None,
) -> ContextManager[str]:
    """A `mediacdn edge` process named `name` in front of `upstream` (`scheme` https: with
    --tls-cert and --tls-key among `extra`; its readiness is polled without verifying)."""
    args = ("--name", name, "--upstream", upstream, *extra)
    env = {"MEDIACDN_ADMIN_KEYS": "admin"}
    return mediacdn_process("edge", tmp_path, env, *args, name=name, scheme=scheme, port=port)


@contextmanager
def edge_in_front(tmp_path: Path, origin: ScriptedOrigin) -> Iterator[str]:
    """A `mediacdn edge` process in front of `origin` served on loopback; the edge's URL."""
    with serve_in_thread(origin) as origin_url, edge_process(tmp_path, origin_url) as edge:
        yield edge
