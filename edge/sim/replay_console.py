"""`mediacdn cache replay`: read the logs or traces, replay them through the policies at each
capacity with progress bars, print the report (its arguments: edge/sim/arguments.py)."""

from __future__ import annotations

import argparse

from tqdm import tqdm

from edge.sim.cachereplay import (
    LARGEST_FOOTPRINT,
    counted,
    parse_capacities,
    parse_policies,
    replay_all,
    report,
    steps,
)
from edge.sim.logs import LogError, guess_format, load_trace, resolve_format


def run(args: argparse.Namespace) -> int:
    try:
        # what can be wrong with the options is said before a long read, not after it
        policies = parse_policies(args.policy)
        parse_capacities(args.capacity, LARGEST_FOOTPRINT)
        total = sum(f.stat().st_size for f in args.files)
        fmt = resolve_format(args.files, args.format)
        with tqdm(total=total, unit="B", unit_scale=True, disable=args.quiet, leave=False) as bar:
            trace = load_trace(args.files, fmt, bar.update)
        if not trace.requests:
            guess = guess_format(args.files[0])
            hint = f"; it looks like --format {guess}" if guess not in (None, fmt) else ""
            why = (
                "not GET/HEAD answered 200, 206 or 304"
                if trace.skipped_unit == "line"
                else "requests of size 0, which libCacheSim skips too"
            )
            skipped = counted(trace.skipped, trace.skipped_unit)
            raise SystemExit(
                f"cache replay: no cache requests in {len(args.files)} file(s) read as "
                f"--format {fmt} ({skipped} skipped: {why}){hint}"
            )
        capacities = parse_capacities(args.capacity, trace.footprint_bytes)
    except (OSError, LogError, ValueError) as exc:
        raise SystemExit(f"cache replay: {exc}") from None
    total = steps(capacities, policies) * len(trace.requests)
    with tqdm(total=total, unit="req", unit_scale=True, disable=args.quiet, leave=False) as bar:

        def replayed(step: str, done: int) -> None:
            bar.set_description(step, refresh=False)
            bar.update(done)

        results = replay_all(trace, capacities, policies, replayed)
    print(report(trace, results, as_json=args.json))
    return 0
