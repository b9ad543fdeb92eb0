"""Public cache traces written as columns of text, told from their first line so that they
replay without `--columns`:

- webcachesim's (AdaptSize's, and LRB's Wikipedia traces, webcachesim2's): `time id size`,
  separated by blanks, every value a whole number, any further columns features (numbers too);
  and the same columns separated by commas, as Tragen (a CDN trace generator) writes them (its
  sizes in KB: a capacity is then best given as a share of the footprint);
- IBM Cloud Object Storage's (published on SNIA's IOTTA): `time operation id [size [first
  last]]`, the time in milliseconds, the operation `REST.GET.OBJECT` and the like: only a GET or
  a HEAD is a request a cache answers (a PUT, a DELETE, a COPY is passed over);
- Twitter's cache traces (of its memcached clusters): `time,key,key size,value size,client,
  operation,ttl`, separated by commas: only a get is a request, of the key and the value, as
  libCacheSim sizes it (a get of an empty value, a key not found, is passed over, as
  libCacheSim passes it over);
- Wikimedia's caching traces (upload: `relative_unix hashed_path_query image_type
  response_size time_firstbyte`; text: `relative_unix hashed_host_path_query response_size
  time_firstbyte`), separated by tabs, under that header or none.

Each row is a request, as in a table whose columns are said (edge/sim/columns.py)."""

from __future__ import annotations

import re
from typing import Final

from edge.sim.columns import BLANKS, Columns

# (a signed whole number: Wikimedia's hashes are signed 64-bit)
_WHOLE: Final = re.compile(r"-?\d+$")
_FRACTION: Final = re.compile(r"-?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][-+]?\d+)$")
_WORD: Final = re.compile(r"[A-Za-z][\w.+-]*$")
_IBM_OPERATION: Final = re.compile(r"REST\.[A-Z]+(\.[A-Z]+)*$")

_KV_OPERATIONS: Final = frozenset(
    ("get", "gets", "set", "add", "replace", "cas", "append", "prepend", "delete", "incr", "decr")
)
_WIKIMEDIA_KEYS: Final = ("hashed_path_query", "hashed_host_path_query")
_WIKIMEDIA_HEADER: Final = ("relative_unix", "response_size")


def told_columns(line: str) -> Columns | None:
    """Where the values are in a trace whose first line is `line` (None: no trace told here)."""
    if "\t" in line:
        return _wikimedia(line.rstrip("\r\n").split("\t"))
    if "," in line:
        values = line.rstrip("\r\n").split(",")
        if len(values) >= 3 and all(_WHOLE.match(v.strip()) for v in values):
            return Columns(obj=1, time=0, size=2, delimiter=",", unit=1.0)  # (Tragen's)
        return _twitter(values)
    values = line.split()
    if len(values) >= 3 and all(_WHOLE.match(v) for v in values):
        return Columns(obj=1, time=0, size=2, delimiter=BLANKS, unit=1.0)
    if (
        len(values) in (3, 4, 6)
        and _WHOLE.match(values[0])
        and _IBM_OPERATION.match(values[1])
        and all(_WHOLE.match(v) for v in values[3:])
    ):
        return Columns(obj=2, time=0, size=3, delimiter=BLANKS, reads=1, unit=0.001)
    return None


def _twitter(values: list[str]) -> Columns | None:
    """A row of Twitter's cache traces: time, key, key size, value size, client, operation,
    time to live."""
    if (
        len(values) == 7
        and values[5] in _KV_OPERATIONS
        and all(_WHOLE.match(values[at]) for at in (0, 2, 3, 4, 6))
    ):
        return Columns(obj=1, time=0, size=3, delimiter=",", reads=5, unit=1.0, key_size=2)
    return None


def _wikimedia(values: list[str]) -> Columns | None:
    """A Wikimedia trace's header or row: its columns (or a webcachesim trace's, tabbed)."""
    names = [value.strip().lower() for value in values]
    key = next((name for name in _WIKIMEDIA_KEYS if name in names), None)
    if key is not None and all(name in names for name in _WIKIMEDIA_HEADER):
        return Columns(key, "relative_unix", "response_size", "\t", True, unit=1.0)
    if not (len(values) >= 3 and _WHOLE.match(values[0]) and _WHOLE.match(values[1])):
        return None
    shape = tuple(_kind(value) for value in values[2:])
    if shape in (("word", "whole", "fraction"), ("word", "whole", "whole")):
        # upload: an image's type, its size, the seconds to its first byte
        return Columns(obj=1, time=0, size=3, delimiter="\t", unit=1.0)
    if shape == ("whole", "fraction"):  # text: size, first byte
        return Columns(obj=1, time=0, size=2, delimiter="\t", unit=1.0)
    if all(kind == "whole" for kind in shape):  # webcachesim's, its blanks tabs
        return Columns(obj=1, time=0, size=2, delimiter=BLANKS, unit=1.0)
    return None


def _kind(value: str) -> str:
    value = value.strip()
    if _WHOLE.match(value):
        return "whole"
    if _FRACTION.match(value):
        return "fraction"
    return "word" if _WORD.match(value) else "other"
