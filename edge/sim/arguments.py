"""The arguments of `mediacdn simulate` (kept apart from what runs them, so that building the
command line loads no simulator)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", nargs="?", help="a shipped scenario's name or a TOML file")
    parser.add_argument("--list", action="store_true", help="list the shipped scenarios")
    parser.add_argument("--seed", type=int, help="random seed (default: the scenario's)")
    parser.add_argument(
        "--out", type=Path, help="directory for summary.json and the plots (default sim-out/NAME)"
    )
    parser.add_argument(
        "--sample",
        type=float,
        default=1.0,
        help="simulate this fraction of the audience (arrival rates and POP capacities scaled)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a scenario key, in TOML syntax (e.g. --set edge_cache_mb=5000)",
    )
    parser.add_argument(
        "--export-trace",
        action="store_true",
        help="also write each edge's requests as libCacheSim oracleGeneral files (traces/)",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
