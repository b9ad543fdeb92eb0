"""Router: routing decisions per second and p99 latency of one `mediacdn router` process (wrk on
`/route`, the 22 POPs of world.toml beating with signed heartbeats), quiet and while a flood of
1,000 unsigned heartbeats a second from another address is refused; against nginx answering the
same JSON from a file. DNS answers per second of the same process against dnsmasq answering a
static record.

Target: under the flood, decisions/s ≥ 0.8× and p99 ≤ 2× the quiet figures (a flood of refused
beats costs routing little)."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import suppress
from pathlib import Path

import dns.message
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, median, require_tools, start_mediacdn_server, start_nginx, wrk
from edge.router.topology import load_topology, topology_toml
from edge.wire import PopBeat
from tests.support.edges import post_beat
from tests.support.servers import free_port, stop_process, wait_until

WORLD = Path(__file__).resolve().parent.parent / "edge" / "router" / "topologies" / "world.toml"
ROUTE = "/route?geo=40.7,-74.0&path=/vod/abc/master.m3u8"
ZONE = "cdn.bench."


def keep_beating(
    router: str, beats: list[PopBeat], keys: dict[str, str], stop: threading.Event
) -> None:
    with httpx.Client(base_url=router, timeout=5) as http:
        while not stop.is_set():
            for beat in beats:
                with suppress(httpx.HTTPError):
                    post_beat(http, beat.to_json(), key=keys[beat.name])
            stop.wait(1.0)


async def dns_load(port: int, seconds: float, outstanding: int = 64) -> float:
    """Answers per second from 127.0.0.1:port, `outstanding` queries in flight."""
    query = dns.message.make_query(f"video.{ZONE}", "A").to_wire()
    loop = asyncio.get_running_loop()
    answered = 0
    done = asyncio.Event()

    class Client(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
            nonlocal answered
            answered += 1
            if not done.is_set():
                self.transport.sendto(query)  # type: ignore[attr-defined]

    transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=("127.0.0.1", port))
    for _ in range(outstanding):
        transport.sendto(query)
    started = time.monotonic()
    await asyncio.sleep(seconds)
    done.set()
    took = time.monotonic() - started
    transport.close()
    return answered / took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=8, help="length of each wrk run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--flood-rate", type=float, default=1000.0)
    args = parser.parse_args()
    if not require_tools("nginx", "wrk", "dnsmasq"):
        return 1
    root = Path(tempfile.mkdtemp(prefix="bench-router-"))
    topology = load_topology(WORLD)
    urls = {s.pop.name: f"http://127.0.0.1:{20000 + i}" for i, s in enumerate(topology.pops)}
    keys = {s.pop.name: f"{s.pop.name}-bench-key-0123456789" for s in topology.pops}
    (root / "topology.toml").write_text(topology_toml(topology, urls))
    (root / "keys.toml").write_text("[pops]\n" + "".join(f'{n} = "{k}"\n' for n, k in keys.items()))
    zones = {
        "coverageZones": {
            "here": {
                "network": ["127.0.0.0/8"],
                "coordinates": {"latitude": 40.7, "longitude": -74.0},
            }
        }
    }
    (root / "czf.json").write_text(json.dumps(zones))
    beats = [
        PopBeat(
            s.pop.name,
            urls[s.pop.name],
            s.pop.lat,
            s.pop.lon,
            s.pop.tier,
            s.pop.max_in_flight,
            s.pop.max_mbps,
            addresses=(f"192.0.2.{i + 1}",),
        )
        for i, s in enumerate(topology.pops)
    ]
    router_port, nginx_port, dns_port, dnsmasq_port = (free_port() for _ in range(4))
    router = f"http://127.0.0.1:{router_port}"
    procs: list[subprocess.Popen[bytes]] = []
    stop = threading.Event()
    try:
        procs.append(
            start_mediacdn_server(
                root,
                [
                    "router",
                    "--port",
                    str(router_port),
                    "--topology",
                    str(root / "topology.toml"),
                    "--pop-keys",
                    str(root / "keys.toml"),
                    "--beat-rate",
                    "100",
                    "--coverage-zone",
                    str(root / "czf.json"),
                    "--dns-zone",
                    ZONE,
                    "--dns-port",
                    str(dns_port),
                ],
                log="router.log",
            )
        )
        wait_until(
            lambda: httpx.get(router + "/healthz", timeout=1).status_code == 200, 30, "router"
        )
        threading.Thread(target=keep_beating, args=(router, beats, keys, stop), daemon=True).start()
        wait_until(lambda: httpx.get(router + ROUTE, timeout=2).status_code == 200, 30, "routes")
        answer = httpx.get(router + ROUTE, timeout=2).content
        (root / "static").mkdir()
        (root / "static" / "route").write_bytes(answer)
        procs.append(start_nginx(root, nginx_port, root / "static"))
        wait_until(
            lambda: httpx.get(f"http://127.0.0.1:{nginx_port}/route").status_code == 200,
            10,
            "nginx",
        )
        procs.append(
            subprocess.Popen(
                [
                    "dnsmasq",
                    "--no-daemon",
                    "--port",
                    str(dnsmasq_port),
                    "--listen-address=127.0.0.1",
                    "--bind-interfaces",
                    "--no-resolv",
                    "--no-hosts",
                    "--cache-size=0",
                    f"--address=/{ZONE.rstrip('.')}/192.0.2.1",
                    "--pid-file",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        time.sleep(0.5)

        quiet, flooded, anchor = [], [], []
        for _ in range(args.repeat):
            anchor.append(
                wrk(f"http://127.0.0.1:{nginx_port}{ROUTE}", args.seconds, args.connections)
            )
            quiet.append(wrk(router + ROUTE, args.seconds, args.connections))
            flood = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.support.beatflood",
                    router + "/heartbeat",
                    str(args.flood_rate),
                    str(args.seconds + 2),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            time.sleep(1.0)
            flooded.append(wrk(router + ROUTE, args.seconds, args.connections))
            out, _ = flood.communicate(timeout=args.seconds + 60)
            sent, refused, took = out.split()
            print(f"  flood: {sent} beats in {took} s, {refused} refused", flush=True)
        ours_dns = [asyncio.run(dns_load(dns_port, 5)) for _ in range(args.repeat)]
        dnsmasq = [asyncio.run(dns_load(dnsmasq_port, 5)) for _ in range(args.repeat)]
    finally:
        stop.set()
        for proc in procs:
            stop_process(proc)
        shutil.rmtree(root, ignore_errors=True)

    def line(label: str, runs: list) -> tuple[float, float]:  # type: ignore[type-arg]
        rps, p99 = median([r.requests_per_s for r in runs]), median([r.p99_ms for r in runs])
        print(f"  {label:<24} {rps:9.0f} decisions/s  p99 {p99:6.2f} ms")
        return rps, p99

    print(
        f"machine: {machine()}; wrk -t1 -c{args.connections} -d{args.seconds}s; "
        f"medians of {args.repeat}; 22 POPs beating; flood {args.flood_rate:.0f} unsigned beats/s"
    )
    nginx_rps, _ = line("nginx (same JSON, static)", anchor)
    quiet_rps, quiet_p99 = line("router, quiet", quiet)
    flood_rps, flood_p99 = line("router, under the flood", flooded)
    print(f"  router quiet vs nginx: {quiet_rps / nginx_rps:.3f}x")
    met = flood_rps >= 0.8 * quiet_rps and flood_p99 <= 2 * quiet_p99
    print(
        f"  under the flood: {flood_rps / quiet_rps:.3f}x the decisions/s (goal >= 0.8), "
        f"p99 {flood_p99 / quiet_p99:.2f}x (goal <= 2): {'met' if met else 'NOT met'}"
    )
    ours, theirs = median(ours_dns), median(dnsmasq)
    print(
        f"  DNS: router {ours:.0f} answers/s, dnsmasq {theirs:.0f} answers/s: {ours / theirs:.3f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
