"""A POP's configuration: its name, upstream, cache, admin, and what it tells the router."""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.eviction.policy import DEFAULT_POLICY


@dataclass(frozen=True, slots=True)
class EdgeConfig:
    name: str
    upstream: str
    capacity_bytes: int = 512 << 20  # the memory tier
    cache_dir: str | None = None  # the disk tier's directory (None: memory only)
    disk_capacity_bytes: int = 0
    disk_min_free_bytes: int | None = None  # kept free on its filesystem (None: the default)
    workers: int = 1  # worker processes sharing the cache (more than one needs cache_dir)
    policy: str = DEFAULT_POLICY
    admin_keys: tuple[str, ...] = ()
    upstream_timeout_s: float = 10.0
    send_timeout_s: float = 30.0  # a client that takes no body for this long is cut
    head_timeout_s: float = 15.0  # a request's line and headers arrive within this (else 408)
    prefetch_segments: int = 0
    admin_host: str = "127.0.0.1"
    admin_port: int | None = None  # None: admin under /admin/ on the public listener
    router_urls: tuple[str, ...] = ()  # send heartbeats to every one of these routers
    pop_key: str = field(default="", repr=False)  # signs the heartbeats (the routers hold it)
    public_url: str | None = None  # where clients reach this POP (in heartbeats)
    addresses: tuple[str, ...] = ()  # its IP addresses, for the routers' DNS answers
    lat: float = 0.0
    lon: float = 0.0
    tier: str = "edge"
    max_in_flight: int = 1000
    max_mbps: float = 10_000.0
    heartbeat_s: float = 1.0
    access_log: str | None = None  # "-", a file, or None/"off" (edge/pop/accesslog.py)
    log_format: str = "text"  # of every log line (httprules/logs.py)
    playback_keys: str | None = None  # a key ring file: verify playback tokens, sign fills
    rate_per_s: float = 0.0  # requests a second per client address (0: no limit)
    rate_burst: int = 0  # 0: twice the rate
    rate_exempt: tuple[str, ...] = ()  # addresses and networks not counted (child POPs)
    redis_url: str | None = None  # rate limits shared by every POP using this Redis
    grace_s: float = 30.0  # a stopping worker finishes its fills (others may read them) this long
    # the public plain-HTTP listening socket this worker serves itself (edge/pop/front.py): its
    # slot's of those the POP's process opened, one per worker, which the workers inherit;
    # -1: the process's server has the public listener (with TLS)
    front_fd: int = -1

    @property
    def admin_on_public(self) -> bool:
        return self.admin_port is None

    @property
    def via(self) -> str:
        """This POP's entry in Via (RFC 9110 §7.6.3)."""
        return f"1.1 {self.name}"
