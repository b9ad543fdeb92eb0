"""`mediacdn cache replay`: read the logs or traces, replay them through the policies at each
capacity with progress bars, print the report (its arguments: edge/sim/arguments.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from edge.sim.cachereplay import (
    LARGEST_FOOTPRINT,
    counted,
    default_jobs,
    parse_capacities,
    parse_policies,
    replay_all,
    report,
    steps,
)
from edge.sim.columns import Columns, ColumnsError, parse_columns
from edge.sim.log_bytes import LogError
from edge.sim.log_sources import SourceError, listed, size
from edge.sim.logs import LoadedTrace, guess_format, load_trace, resolve_format


def run(args: argparse.Namespace) -> int:
    tqdm.monitor_interval = 0  # no monitor thread: the replays' workers are forked (one thread)
    try:
        # what can be wrong with the options is said before a long read, not after it
        policies = parse_policies(args.policy)
        parse_capacities(args.capacity, LARGEST_FOOTPRINT)
        columns, fmt = _columns(args.columns, args.format)
        files, told = _files(args.files, fmt)
        sizes = [size(f) for f in files]
        total = None if None in sizes else sum(s or 0 for s in sizes)
        fmt = resolve_format(files, fmt, told)
        with tqdm(total=total, unit="B", unit_scale=True, disable=args.quiet, leave=False) as bar:
            trace = load_trace(files, fmt, bar.update, columns)
        if not trace.requests:
            guess = guess_format(files[0])
            hint = f"; it looks like --format {guess}" if guess not in (None, fmt) else ""
            why = (
                "not GET/HEAD answered 200, 206 or 304"
                if trace.skipped_unit == "line"
                else "requests of size 0, which libCacheSim skips too"
            )
            skipped = counted(trace.skipped, trace.skipped_unit)
            raise SystemExit(
                f"cache replay: no cache requests in {len(files)} file(s) read as "
                f"--format {fmt} ({skipped} skipped: {why}){hint}"
            )
        _warn_of_unreadable(trace)
        capacities = parse_capacities(args.capacity, trace.footprint_bytes)
    except OSError as exc:  # (a file named that is not there, or cannot be read)
        said = f"{exc.filename}: {exc.strerror.lower()}" if exc.filename and exc.strerror else exc
        raise SystemExit(f"cache replay: {said}") from None
    except (LogError, SourceError, ValueError) as exc:
        raise SystemExit(f"cache replay: {exc}") from None
    total = steps(capacities, policies) * len(trace.requests)
    with tqdm(total=total, unit="req", unit_scale=True, disable=args.quiet, leave=False) as bar:

        def replayed(step: str, done: int) -> None:
            bar.set_description(step, refresh=False)
            bar.update(done)

        jobs = args.jobs or default_jobs()
        results = replay_all(trace, capacities, policies, replayed, jobs)
    print(report(trace, results, as_json=args.json))
    return 0


def _columns(spec: str | None, fmt: str) -> tuple[Columns | None, str]:
    """The columns `--columns` says, and the format they make the files ("csv"); none said,
    a trace's are told from its first line (edge/sim/trace_layouts.py)."""
    if spec is None:
        return None, fmt
    if fmt not in ("auto", "csv"):
        raise ColumnsError(f"--columns says a table's columns: not with --format {fmt}")
    return parse_columns(spec), "csv"


def _files(paths: list[Path], fmt: str) -> tuple[list[Path], dict[Path, str | None]]:
    """The files to replay: those named, and those under each directory named; and the
    formats told of the ones found in a directory. Told to tell the format, a file found in a
    directory that holds no log (an error log beside the access logs) is left out, and the
    replay says which; a file named is never left out."""
    files, found = listed(paths)
    if not files:
        raise SourceError(f"no files under {', '.join(map(str, paths))}")
    if fmt != "auto" or not found:
        return files, {}
    told = {path: guess_format(path) for path in found}
    left = {path for path, guess in told.items() if guess is None}
    if left:
        names = sorted(str(path) for path in left)
        more = f" and {len(names) - 5} more" if len(names) > 5 else ""
        print(
            f"cache replay: left out {len(left)} file(s) found in a directory that hold no "
            f"request log (or are empty): {', '.join(names[:5])}{more}",
            file=sys.stderr,
        )
    kept = [path for path in files if path not in left]
    if not kept:
        raise SourceError(f"no request logs under {', '.join(map(str, paths))}")
    return kept, told


UNREADABLE_WARNING = 0.05  # of a log's lines, past which the replay asks whether it read it right


def _warn_of_unreadable(trace: LoadedTrace) -> None:
    """Say so when many lines held no request the format reads: a log misread (a format
    the replay does not know, fields it cannot place) gives figures of the lines it could."""
    lines = len(trace.requests) + trace.skipped
    if trace.unreadable <= UNREADABLE_WARNING * lines:
        return
    print(
        f"cache replay: {trace.unreadable} of {lines} lines ({trace.unreadable / lines:.0%}) "
        f"hold no request the replay can read, so its figures are of the rest; the first: "
        f"{trace.first_unreadable}",
        file=sys.stderr,
    )
