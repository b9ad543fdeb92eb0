"""Client access bandwidth for the simulator: the real traces shipped in `abr_traces/` (a copy
of the team's shared set: FCC, Norway HSDPA, Belgium LTE, Oboe, Puffer), or a constant.

A trace loops; a download of `bits` starting at trace time t ends when the trace's cumulative
bits have grown by `bits` (as Pensieve's and sabre's simulators replay them)."""

from __future__ import annotations

import bisect
import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final, Protocol

import edge.sim

# Beside the package's __init__ (this module may be compiled, its __file__ elsewhere).
TRACES_DIR: Final = Path(edge.sim.__file__).parent / "abr_traces"
DATASETS: Final = ("fcc", "hsdpa", "lte", "oboe", "puffer")


class Link(Protocol):
    @property
    def name(self) -> str: ...

    def download_s(self, start_s: float, bits: float) -> float: ...


@dataclass(frozen=True, slots=True)
class ConstantLink:
    bps: float
    name: str = "constant"

    def download_s(self, start_s: float, bits: float) -> float:
        return bits / self.bps


class TraceLink:
    """A bandwidth trace: piecewise-constant kbps over intervals, looped."""

    def __init__(self, name: str, durations_s: list[float], kbps: list[float]) -> None:
        if not durations_s or len(durations_s) != len(kbps):
            raise ValueError(f"{name}: empty or ragged trace")
        self.name = name
        self.times = [0.0]  # cumulative time at each interval's start, and the end
        self.bits = [0.0]  # cumulative bits at the same points
        self.bps = [k * 1000 for k in kbps]
        for d, b in zip(durations_s, self.bps, strict=True):
            self.times.append(self.times[-1] + d)
            self.bits.append(self.bits[-1] + d * b)
        self.period_s = self.times[-1]
        self.period_bits = self.bits[-1]
        if self.period_bits <= 0:
            raise ValueError(f"{name}: the trace never carries any data")

    def _bits_at(self, t: float) -> float:
        loops, t = divmod(t, self.period_s)
        i = bisect.bisect_right(self.times, t) - 1
        return loops * self.period_bits + self.bits[i] + (t - self.times[i]) * self.bps[i]

    def download_s(self, start_s: float, bits: float) -> float:
        target = self._bits_at(start_s) + bits
        loops, rest = divmod(target, self.period_bits)
        k = bisect.bisect_left(self.bits, rest)  # the first point with that many bits
        if self.bits[k] == rest:
            end = loops * self.period_s + self.times[k]
        else:  # within interval k - 1, which carries data (its bits grow)
            j = k - 1
            end = loops * self.period_s + self.times[j] + (rest - self.bits[j]) / self.bps[j]
        return max(0.0, end - start_s)


def read_trace(path: Path) -> TraceLink:
    durations, kbps = [], []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            durations.append(float(row["duration_s"]))
            kbps.append(float(row["bandwidth_kbps"]))
    return TraceLink(f"{path.parent.name}/{path.stem}", durations, kbps)


@cache
def load_dataset(dataset: str, directory: Path = TRACES_DIR) -> tuple[TraceLink, ...]:
    """Every trace of one dataset, in file-name order."""
    folder = directory / dataset
    if not folder.is_dir():
        known = ", ".join(DATASETS)
        raise ValueError(f"unknown bandwidth trace set {dataset!r} (one of {known})")
    return tuple(read_trace(p) for p in sorted(folder.glob("*.csv")))
