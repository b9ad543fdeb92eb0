"""A small CDN for tests on 127.0.0.1: a shield and four edges on three continents."""

from pathlib import Path

from edge.router.topology import load_topology
from mediacdn.cdn import LocalCdn, start_cdn
from tests.support.servers import free_port

TOPOLOGY = """
origin = "http://127.0.0.1:1"

[[pop]]
name = "shield"
tier = "shield"
lat = 50.11
lon = 8.68

[[pop]]
name = "paris"
lat = 48.86
lon = 2.35
parent = "shield"

[[pop]]
name = "london"
lat = 51.51
lon = -0.13
parent = "shield"

[[pop]]
name = "new-york"
lat = 40.71
lon = -74.01
parent = "shield"

[[pop]]
name = "tokyo"
lat = 35.68
lon = 139.69
parent = "shield"
"""


def write_topology(directory: Path) -> Path:
    path = directory / "topology.toml"
    path.write_text(TOPOLOGY)
    return path


def start_test_cdn(
    directory: Path,
    origin_url: str,
    *,
    router_port: int | None = None,
    capacity: str = "64MiB",
    env: dict[str, str] | None = None,
) -> LocalCdn:
    """TOPOLOGY as router and POP processes in front of `origin_url`, logs in directory/logs;
    `env` is added to every process's environment."""
    topology_file = write_topology(directory)
    return start_cdn(
        load_topology(topology_file),
        origin_url,
        admin_key="edge-admin",
        log_dir=directory / "logs",
        capacity=capacity,
        router_port=router_port,
        env=env,
        pick_port=lambda _host: free_port(),
    )
