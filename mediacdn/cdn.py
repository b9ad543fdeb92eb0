"""A whole CDN on one machine: the router and every POP of a topology (shields first, then the
edges that fill from them) as `mediacdn router` / `mediacdn edge` processes on 127.0.0.1.
Used by `make demo` and by the end-to-end tests."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from edge.router.topology import PopSpec, Topology, topology_toml
from mediacdn.ports import free_port


class CdnError(RuntimeError):
    pass


@dataclass
class RunningPop:
    spec: PopSpec
    url: str
    port: int
    argv: list[str]
    proc: subprocess.Popen[bytes]
    key: str = field(default="", repr=False)  # signs its heartbeats


@dataclass
class LocalCdn:
    topology: Topology
    origin_url: str
    router_url: str
    router: subprocess.Popen[bytes]
    pops: dict[str, RunningPop] = field(default_factory=dict)
    log_dir: Path = Path(".")
    env: Mapping[str, str] = field(default_factory=dict)

    def kill(self, name: str) -> None:
        """SIGKILL one POP (a crash, not a shutdown)."""
        pop = self.pops[name]
        os.killpg(pop.proc.pid, signal.SIGKILL)
        pop.proc.wait(timeout=10)

    def restart(self, name: str) -> None:
        pop = self.pops[name]
        env = {**self.env, "MEDIACDN_POP_KEY": pop.key}
        pop.proc = _spawn(pop.argv, self.log_dir / f"edge-{name}.log", env)
        wait_healthy(pop.url, pop.proc, f"edge {name}")

    def routed_pops(self) -> set[str]:
        """The POPs the router has in rotation now."""
        pops = httpx.get(self.router_url + "/pops", timeout=5).json()["pops"]
        return {p["name"] for p in pops if p["healthy"]}

    def wait_in_rotation(self, names: set[str], timeout_s: float = 15.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not names <= self.routed_pops():
            if time.monotonic() > deadline:
                missing = names - self.routed_pops()
                raise CdnError(f"not in rotation after {timeout_s:.0f} s: {sorted(missing)}")
            time.sleep(0.1)

    def stats(self) -> dict[str, dict[str, object]]:
        """Each POP's /stats (empty for a POP that does not answer)."""
        out: dict[str, dict[str, object]] = {}
        for name, pop in self.pops.items():
            try:
                out[name] = httpx.get(pop.url + "/stats", timeout=5).json()
            except (httpx.HTTPError, ValueError):
                out[name] = {}
        return out

    def stop(self) -> None:
        for proc in [p.proc for p in self.pops.values()] + [self.router]:
            _stop(proc)


def _spawn(argv: list[str], log: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            argv,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(proc: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


def wait_healthy(url: str, proc: subprocess.Popen[bytes], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CdnError(f"{what} exited with {proc.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise CdnError(f"{what} did not answer /healthz within {timeout_s:.0f} s")


def start_cdn(
    topology: Topology,
    origin_url: str,
    *,
    admin_key: str,
    log_dir: Path,
    capacity: str = "256MiB",
    host: str = "127.0.0.1",
    router_port: int | None = None,
    env: Mapping[str, str] | None = None,
    pick_port: Callable[[str], int] = free_port,
) -> LocalCdn:
    """Start the router and every POP of `topology` in front of `origin_url` (the topology's
    own origin URL is ignored), and wait until all of them are in rotation. Each POP gets a
    port (from `pick_port(host)`) and a heartbeat key; the router gets them as a topology with
    URLs and a key file in `log_dir`."""
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {"MEDIACDN_ADMIN_KEYS": admin_key, **(env or {})}
    mediacdn = [sys.executable, "-m", "mediacdn"]
    router_port = router_port or pick_port(host)
    router_url = f"http://{host}:{router_port}"
    ports = {spec.pop.name: pick_port(host) for spec in topology.pops}
    keys = {name: secrets.token_urlsafe(24) for name in ports}
    planned = log_dir / "router-topology.toml"
    planned.write_text(
        topology_toml(topology, {name: f"http://{host}:{port}" for name, port in ports.items()})
    )
    key_file = log_dir / "pop-keys.toml"
    key_file.touch(mode=0o600)
    key_file.write_text("[pops]\n" + "".join(f'{n} = "{k}"\n' for n, k in keys.items()))
    router_argv = [
        *mediacdn,
        "router",
        "--topology",
        str(planned),
        "--pop-keys",
        str(key_file),
        "--host",
        host,
        "--port",
        str(router_port),
    ]
    cdn = LocalCdn(
        topology,
        origin_url,
        router_url,
        _spawn(router_argv, log_dir / "router.log", env),
        log_dir=log_dir,
        env=env,
    )
    try:
        wait_healthy(router_url, cdn.router, "the router")
        shields_first = sorted(topology.pops, key=lambda s: s.pop.tier != "shield")
        for spec in shields_first:
            pop = spec.pop
            upstream = cdn.pops[spec.parent].url if spec.parent else origin_url
            port = ports[pop.name]
            argv = [
                *mediacdn,
                "edge",
                "--name",
                pop.name,
                "--upstream",
                upstream,
                "--router",
                router_url,
                "--lat",
                str(pop.lat),
                "--lon",
                str(pop.lon),
                "--tier",
                pop.tier,
                "--max-in-flight",
                str(pop.max_in_flight),
                "--max-mbps",
                str(pop.max_mbps),
                "--capacity",
                capacity,
                "--host",
                host,
                "--port",
                str(port),
                "--access-log",
                str(log_dir / f"edge-{pop.name}.access.log"),
            ]
            url = f"http://{host}:{port}"
            pop_env = {**env, "MEDIACDN_POP_KEY": keys[pop.name]}
            proc = _spawn(argv, log_dir / f"edge-{pop.name}.log", pop_env)
            cdn.pops[pop.name] = RunningPop(spec, url, port, argv, proc, keys[pop.name])
            wait_healthy(url, proc, f"edge {pop.name}")
        cdn.wait_in_rotation(set(cdn.pops), timeout_s=30.0)  # a loaded machine beats late
    except BaseException:
        cdn.stop()
        raise
    return cdn
