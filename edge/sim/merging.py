"""Many sorted streams as one, with a bounded number of them open at once.

A replay merges its files in time order, and each stream holds its file open while it is
merged: a day of CloudFront logs is thousands of files, past the 1 024 files a process may
open on many systems. More than `FAN_IN` streams are merged in groups of `FAN_IN`, each group
written to a temporary file first (`spill`, read back by `unspill`), and those merged again:
the same order, equal keys in the streams' order, as one merge of all of them would give."""

from __future__ import annotations

import heapq
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
FAN_IN = 128  # streams (files) open at once


def merged(
    streams: list[Iterator[T]],
    key: Callable[[T], float],
    spill: Callable[[Path, Iterator[T]], None],
    unspill: Callable[[Path], Iterator[T]],
    fan_in: int = FAN_IN,
) -> Iterator[T]:
    """The items of `streams` (each in `key` order; not started yet: a stream opens its file
    when first asked) in `key` order."""
    if len(streams) == 1:
        yield from streams[0]
        return
    if len(streams) <= fan_in:
        yield from heapq.merge(*streams, key=key)
        return
    with tempfile.TemporaryDirectory(prefix="mediacdn-merge-") as tmp:
        level = 0
        while len(streams) > fan_in:
            groups = []
            for first in range(0, len(streams), fan_in):
                path = Path(tmp) / f"{level}-{first}"
                spill(path, heapq.merge(*streams[first : first + fan_in], key=key))
                groups.append(unspill(path))
            streams, level = groups, level + 1
        yield from heapq.merge(*streams, key=key)
