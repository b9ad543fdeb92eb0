"""Prometheus text exposition (format 0.0.4) without a client library: metric families with
HELP and TYPE, labelled samples, latency histograms that several worker processes can add up,
and the standard `process_*` metrics read from /proc."""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds: a cache hit takes well under a millisecond, a cold fill of a segment from a far
# origin a second or more.
LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

Labels = tuple[tuple[str, str], ...]


@dataclass(slots=True)
class Family:
    """One metric: its samples are (suffix, labels, value); the suffix is "" but for a
    histogram's `_bucket`, `_sum` and `_count`."""

    name: str
    kind: str  # counter, gauge or histogram
    help: str
    samples: list[tuple[str, Labels, float]] = field(default_factory=list)

    def add(self, value: float, **labels: object) -> Family:
        self.samples.append(("", tuple((k, str(v)) for k, v in labels.items()), value))
        return self


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render(families: Iterable[Family]) -> str:
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {family.help.replace(chr(10), ' ')}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for suffix, labels, value in family.samples:
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            labelled = f"{{{text}}}" if text else ""
            lines.append(f"{family.name}{suffix}{labelled} {_number(value)}")
    return "\n".join(lines) + "\n"


class Histogram:
    """Observations by label values, in cumulative buckets at render time. `snapshot()` is
    plain JSON, and `merge` adds snapshots up (a POP's workers each keep their own)."""

    def __init__(self, buckets: tuple[float, ...] = LATENCY_BUCKETS_S) -> None:
        self.buckets = buckets
        self._counts: dict[tuple[str, ...], list[float]] = {}  # per bucket, then +Inf, sum

    def observe(self, value: float, *labels: str) -> None:
        counts = self._counts.get(labels)
        if counts is None:
            counts = self._counts[labels] = [0.0] * (len(self.buckets) + 2)
        counts[bisect.bisect_left(self.buckets, value)] += 1
        counts[-1] += value

    def snapshot(self) -> dict[str, list[float]]:
        return {"\x1f".join(labels): list(counts) for labels, counts in self._counts.items()}

    @staticmethod
    def merge(snapshots: Iterable[object]) -> dict[str, list[float]]:
        total: dict[str, list[float]] = {}
        for snapshot in snapshots:
            if not isinstance(snapshot, Mapping):
                continue
            for key, counts in snapshot.items():
                if not isinstance(counts, list):
                    continue
                into = total.setdefault(str(key), [0.0] * len(counts))
                if len(into) == len(counts):
                    total[str(key)] = [a + float(b) for a, b in zip(into, counts, strict=True)]
        return total

    def family(
        self,
        name: str,
        help: str,
        label_names: tuple[str, ...],
        snapshot: Mapping[str, list[float]],
    ) -> Family:
        """The histogram family for `snapshot` (this one's, or a merge of several)."""
        family = Family(name, "histogram", help)
        for key, counts in sorted(snapshot.items()):
            values = key.split("\x1f") if label_names else []
            labels = tuple(zip(label_names, values, strict=True))
            running = 0.0
            for bound, count in zip((*self.buckets, float("inf")), counts, strict=False):
                running += count
                le = (("le", _number(bound)),)
                family.samples.append(("_bucket", labels + le, running))
            family.samples.append(("_sum", labels, counts[-1]))
            family.samples.append(("_count", labels, running))
        return family


def process_figures(pid: int | str = "self") -> dict[str, float]:
    """This process's CPU seconds, memory, open files and start time (Linux /proc; empty
    elsewhere). Figures of several processes (a POP's workers) add up, but the start time."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
        fields = stat.rpartition(")")[2].split()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text(encoding="ascii").splitlines()
            if line.startswith("btime")
        )
    except (OSError, StopIteration, IndexError):
        return {}
    ticks = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    return {
        "cpu_seconds": (int(fields[11]) + int(fields[12])) / ticks,
        "resident_memory_bytes": float(int(fields[21]) * page),
        "virtual_memory_bytes": float(int(fields[20])),
        "open_fds": float(fds),
        "start_time_seconds": boot + int(fields[19]) / ticks,
    }


def combine_process_figures(parts: Iterable[Mapping[str, float]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for part in parts:
        for key, value in part.items():
            if key == "start_time_seconds":
                total[key] = min(total.get(key, value), value)
            else:
                total[key] = total.get(key, 0.0) + value
    return total


PROCESS_HELP = {
    "cpu_seconds": ("process_cpu_seconds_total", "counter", "User and system CPU time spent."),
    "resident_memory_bytes": ("process_resident_memory_bytes", "gauge", "Resident memory."),
    "virtual_memory_bytes": ("process_virtual_memory_bytes", "gauge", "Virtual memory size."),
    "open_fds": ("process_open_fds", "gauge", "Open file descriptors."),
    "start_time_seconds": (
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since the Unix epoch.",
    ),
}


def process_families(figures: Mapping[str, float] | None = None) -> list[Family]:
    """The standard process metrics (of this process unless `figures` are given)."""
    figures = process_figures() if figures is None else figures
    return [
        Family(name, kind, help).add(figures[key])
        for key, (name, kind, help) in PROCESS_HELP.items()
        if key in figures
    ]
