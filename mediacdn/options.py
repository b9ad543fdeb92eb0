"""Options several commands share (settings, listening address, logs, grace), and the numbers
the command line takes, each within what its option can mean: a value outside is refused by
argparse with the option's name and what it takes, not a server started on it (a port no
socket has, a negative timeout) or a traceback."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from httprules.addresses import networks
from httprules.logs import FORMATS, check_access_log
from httprules.targets import check_base_url

T = TypeVar("T", int, float)


def _number(
    kind: Callable[[str], T], low: float, high: float, what: str, *, above_low: bool = False
) -> Callable[[str], T]:
    def parse(text: str) -> T:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not math.isfinite(value) or value < low or value > high or (above_low and value == low):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value

    return parse


port = _number(int, 0, 65_535, "a port (0 to 65535)")
count = _number(int, 0, math.inf, "a whole number, 0 or more")
positive_count = _number(int, 1, math.inf, "a whole number, 1 or more")
non_negative = _number(float, 0, math.inf, "a number, 0 or more")
positive = _number(float, 0, math.inf, "a number above 0", above_low=True)
latitude = _number(float, -90, 90, "a latitude (-90 to 90)")
longitude = _number(float, -180, 180, "a longitude (-180 to 180)")
segment_seconds = _number(float, 2, 10, "a segment length of 2 to 10 s")


def base_url(text: str) -> str:
    """An http(s) server's URL to send requests to: a typo is said before anything is sent."""
    try:
        check_base_url("URL", text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def network(text: str) -> str:
    """An address or a network (`10.0.0.0/8`), said wrong before anything starts."""
    try:
        networks([text])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.strip()


def add_common(
    parser: argparse.ArgumentParser, *, server: bool = False, default_port: int = 8080
) -> None:
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument(
        "--data-dir", type=Path, help="where the embedded defaults keep files (default ./data)"
    )
    if server:
        parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=port, help=f"port to listen on (default {default_port})")


def _access_log(destination: str) -> str:
    """An --access-log the server can write to: refused as the command starts (each of a
    server's workers would fail on opening it)."""
    try:
        check_access_log(destination)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return destination


def add_logs(parser: argparse.ArgumentParser, access_default: str, why: str = "") -> None:
    """Where the logs go, and in what format (the same options on every server)."""
    parser.add_argument(
        "--log-format",
        choices=FORMATS,
        default=argparse.SUPPRESS,
        help="text lines, or JSON lines with an ISO 8601 UTC time (MEDIACDN_LOG_FORMAT; "
        "default text)",
    )
    parser.add_argument(
        "--access-log",
        type=_access_log,
        default=access_default,
        metavar="DEST",
        help="one record per request (method, path, route, status, bytes, ms, cache result, "
        "POP, request id): '-' with the other logs on stderr, a FILE (JSON lines, reopened "
        f"when logrotate moves it) or 'off' (default {access_default}{why})",
    )


def add_grace(parser: argparse.ArgumentParser, default: float, why: str) -> None:
    parser.add_argument(
        "--grace",
        type=non_negative,
        default=default,
        help=f"on SIGTERM or SIGINT: stop accepting, finish the requests in flight for up to "
        f"this many seconds, exit 0 (default {default:g}; {why})",
    )


def add_rate_limit(parser: argparse.ArgumentParser) -> None:
    """A POP's limit of requests per client address, and the addresses it does not count."""
    parser.add_argument(
        "--rate-limit",
        type=non_negative,
        default=0.0,
        help="requests a second per client address (default 0: off); over it, 429 with "
        "Retry-After; shared by every POP with MEDIACDN_REDIS_URL",
    )
    parser.add_argument(
        "--rate-burst", type=count, default=0, help="requests at once per address (default 2x rate)"
    )
    parser.add_argument(
        "--rate-exempt",
        type=network,
        action="append",
        default=[],
        metavar="NET",
        help="an address or network (10.0.0.0/8, 2001:db8::/48) whose requests --rate-limit "
        "does not count: child POPs filling from this one without playback keys (repeat it)",
    )
