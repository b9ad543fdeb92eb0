"""One settings object, from MEDIACDN_* environment variables and an optional TOML file."""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from httprules.addresses import Network, networks
from httprules.ratelimit import Rate
from origin.edge_notify import EdgeTargets
from transcoder.ladder import LadderPolicy
from transcoder.limits import MediaLimits, default_memory_mb

DEFAULT_LADDER = "1080:5000,720:2800,480:1400,360:800"


class Secret(str):
    """A string that never shows itself in reprs or logs."""

    def __repr__(self) -> str:
        return "Secret('***')" if self else "Secret('')"


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("data")
    database_url: str = ""
    storage_url: str = ""
    s3_access_key: Secret = Secret("")
    s3_secret_key: Secret = Secret("")
    api_keys: tuple[Secret, ...] = ()
    admin_keys: tuple[Secret, ...] = ()
    host: str = "127.0.0.1"
    port: int = 8080
    max_upload_bytes: int = 4 << 30
    segment_duration_s: float = 4.0
    ladder: str = DEFAULT_LADDER
    audio_bitrate_kbps: int = 128
    x264_preset: str = "veryfast"
    workers: int = 1
    job_lease_s: float = 30.0
    job_max_attempts: int = 3
    job_retry_base_s: float = 5.0
    job_retry_max_s: float = 600.0
    database_wait_s: float = 600.0  # how long a starting server waits for its database
    min_free_mb: int = 1024  # uploads are refused (507) when the data directory has less
    # the janitor (origin/janitor.py): how often `serve` runs it (0: never) and what it
    # leaves alone (anything touched more recently than janitor_stale_s)
    header_timeout_s: float = 15.0  # a request's line and headers must arrive within this
    janitor_interval_s: float = 3600.0
    janitor_stale_s: float = 86_400.0
    playlist_max_age_s: int = 10
    segment_max_age_s: int = 31_536_000
    cors_origins: tuple[str, ...] = ("*",)  # pages that may play (playback responses)
    # pages that may call the API and upload (bearer keys and upload URLs, no cookies, so
    # any page is safe by default); "" for none
    api_cors_origins: tuple[str, ...] = ("*",)
    # signs direct-upload URLs; by default derived from the API keys (origins sharing the keys
    # honour each other's URLs)
    upload_secret: Secret = Secret("")
    # webhooks: how often `serve` sends what is due (0: this origin sends none), and the
    # retries of a delivery that fails (exponential from base to max, then given up)
    tus_expiry_s: float = 86_400.0  # an unfinished tus upload idle this long is gone
    webhook_interval_s: float = 1.0
    webhook_retry_base_s: float = 5.0
    webhook_retry_max_s: float = 3600.0
    webhook_max_attempts: int = 10
    edges: tuple[str, ...] = ()  # admin URLs of every edge: purged when a video is deleted
    push_edges: tuple[str, ...] = ()  # admin URLs of edges that get new videos pushed
    edge_admin_key: Secret = Secret("")
    push_segments: int = 3
    router_url: str = ""  # the CDN's router, as browsers reach it: player pages and dashboard
    web_modules: Path = Path("")  # npm packages the pages use (default: web/node_modules)
    log_level: str = "info"
    # signed playback: a TOML key ring (`signing = "k1"`, `[keys] k1 = "secret"`), read again
    # when it changes; the same file goes to every POP
    playback_keys: Path = Path("")
    max_token_ttl_s: int = 86_400
    # rate limits: per API key on the write API, per client address on playback (0: off);
    # shared by every process through Redis when redis_url is set
    api_rate: float = 20.0
    api_burst: int = 40
    playback_rate: float = 0.0
    playback_burst: int = 0
    # addresses and networks whose playback requests are not counted (the CDN's POPs, whose
    # fills carry no token without playback keys)
    playback_rate_exempt: tuple[str, ...] = ()
    redis_url: str = ""
    # what one upload may cost the transcoder: refused (limits_exceeded) before encoding
    max_duration_s: float = 6 * 3600.0
    max_frame_side: int = 8192
    max_megapixels: float = 35.4  # 8192×4320
    max_frame_rate: float = 120.0
    max_streams: int = 64
    ffmpeg_memory_mb: int = 0  # 0: 3 GiB + 256 MiB per core
    # live: encoders push SRT (UDP) or RTMP (TCP) to a port of `live_ports` (one per stream)
    # on `live_listen`;
    # `live_host` is the host name the API gives encoders (default: the API request's host)
    live_ingest: bool = True  # this origin runs live streams' ingest (False: it only serves)
    live_ports: str = "9000-9099"
    live_listen: str = "127.0.0.1"
    live_host: str = ""
    live_ladder: str = "720:2800,360:800"
    live_segment_s: float = 2.0
    live_part_s: float = 0.5
    live_window_s: float = 60.0
    live_reconnect_s: float = 10.0  # a broadcast waits this long for its encoder to come back

    def __post_init__(self) -> None:
        for f in fields(self):  # every number is a size, a count, a time or a rate
            value = getattr(self, f.name)
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if number and (not math.isfinite(value) or value < 0):
                raise ValueError(f"{_named(f.name)} is a number, 0 or more (not {value!r})")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"{_named('port')} is 0 to 65535 (not {self.port})")
        if not 2 <= self.segment_duration_s <= 10:
            raise ValueError("segment_duration_s must be between 2 and 10")
        LadderPolicy.parse(self.ladder)
        if self.api_rate < 0 or self.playback_rate < 0:
            raise ValueError("rates are requests per second, 0 (off) or more")
        self.playback_exempt()  # checks it
        LadderPolicy.parse(self.live_ladder)
        self.live_port_range  # noqa: B018 (checks it)
        if not 1 <= self.live_segment_s <= 6 or not 0.2 <= self.live_part_s <= 1:
            raise ValueError("live segments are 1-6 s and parts 0.2-1 s")
        if not 0 <= self.live_reconnect_s <= 3600:
            raise ValueError("live_reconnect_s is 0 (no waiting) to 3600 seconds")
        if self.log_level.lower() not in LOG_LEVELS:
            raise ValueError(
                f"{_named('log_level')} is one of {', '.join(LOG_LEVELS)} (not {self.log_level!r})"
            )

    @property
    def live_port_range(self) -> range:
        low, _, high = self.live_ports.partition("-")
        if not low.isdigit() or not (high or low).isdigit():
            raise ValueError("live_ports is a port or a range, e.g. 9000-9099")
        first, last = int(low), int(high or low)
        if not 1 <= first <= last <= 65535:
            raise ValueError("live_ports is a port or a range, e.g. 9000-9099")
        return range(first, last + 1)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'catalog.db').resolve()}"

    @property
    def resolved_storage_url(self) -> str:
        return self.storage_url or (self.data_dir / "objects").resolve().as_uri()

    @property
    def resolved_web_modules(self) -> Path:
        if self.web_modules != Path(""):
            return self.web_modules.resolve()
        return Path(__file__).resolve().parent.parent / "web" / "node_modules"

    @property
    def ladder_policy(self) -> LadderPolicy:
        return LadderPolicy.parse(self.ladder, audio_bitrate_bps=self.audio_bitrate_kbps * 1000)

    def edge_targets(self) -> EdgeTargets:
        return EdgeTargets(
            purge=tuple(dict.fromkeys(self.edges + self.push_edges)),
            push=self.push_edges,
            admin_key=self.edge_admin_key,
            push_segments=self.push_segments,
            playlist_cache_control=f"public, max-age={self.playlist_max_age_s}",
            segment_cache_control=f"public, max-age={self.segment_max_age_s}, immutable",
        )

    @property
    def media_limits(self) -> MediaLimits:
        return MediaLimits(
            max_duration_s=self.max_duration_s,
            max_side_px=self.max_frame_side,
            max_pixels=round(self.max_megapixels * 1e6),
            max_frame_rate=self.max_frame_rate,
            max_streams=self.max_streams,
            memory_mb=self.ffmpeg_memory_mb or default_memory_mb(),
        )

    def api_limit(self) -> Rate | None:
        return Rate.per_second(self.api_rate, self.api_burst)

    def playback_limit(self) -> Rate | None:
        return Rate.per_second(self.playback_rate, self.playback_burst)

    def playback_exempt(self) -> tuple[Network, ...]:
        """The addresses and networks the playback limit does not count."""
        try:
            return networks(self.playback_rate_exempt)
        except ValueError as exc:
            raise ValueError(f"{_named('playback_rate_exempt')}: {exc}") from None

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


# the levels every server here takes (the origin's and router's uvicorn, the POP's granian)
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def _named(name: str) -> str:
    return f"{name} (MEDIACDN_{name.upper()})"


def _convert(source: str, raw: Any, current: Any, name: str) -> Any:
    """`raw` as the type of the setting `name` (now `current`); a ValueError naming `source`
    (the variable or the file's key) if it is not one."""
    if isinstance(current, int | float) and not isinstance(current, bool):
        kind, what = (int, "a whole number") if isinstance(current, int) else (float, "a number")
        # from a TOML file: true is no number, nor 8080.5 a port (int() would make them 1, 8080)
        truncated = kind is int and isinstance(raw, float) and not raw.is_integer()
        refused = ValueError(f"{source}: {raw!r} is not {what}")
        if isinstance(raw, bool) or truncated:
            raise refused
        try:
            return kind(raw)
        except (TypeError, ValueError):
            raise refused from None
    if name in (
        "api_keys",
        "admin_keys",
        "cors_origins",
        "api_cors_origins",
        "edges",
        "push_edges",
        "playback_rate_exempt",
    ):
        items = raw if isinstance(raw, list) else str(raw).split(",")
        values = tuple(str(x).strip() for x in items if str(x).strip())
        return tuple(Secret(v) for v in values) if name.endswith("_keys") else values
    if isinstance(current, Secret):
        return Secret(str(raw))
    if isinstance(current, Path):
        return Path(str(raw))
    if isinstance(current, bool):
        return str(raw).lower() in ("1", "true", "yes", "on")
    return str(raw)


def load_settings(
    env: Mapping[str, str] | None = None, config_file: Path | None = None
) -> Settings:
    """Defaults < TOML file (MEDIACDN_CONFIG or `config_file`) < MEDIACDN_* variables."""
    env = os.environ if env is None else env
    defaults = Settings()
    values: dict[str, Any] = {}
    names = {f.name for f in fields(Settings)}
    path = config_file or (Path(env["MEDIACDN_CONFIG"]) if env.get("MEDIACDN_CONFIG") else None)
    if path is not None:
        with path.open("rb") as f:
            data = tomllib.load(f)
        for key, raw in data.items():
            name = key.replace("-", "_")
            if name not in names:
                raise ValueError(f"{path}: unknown setting {key!r}")
            values[name] = _convert(f"{path}: {key}", raw, getattr(defaults, name), name)
    for name in names:
        raw = env.get(f"MEDIACDN_{name.upper()}")
        if raw is not None and raw != "":
            source = f"MEDIACDN_{name.upper()}"
            values[name] = _convert(source, raw, getattr(defaults, name), name)
    return Settings(**values)
