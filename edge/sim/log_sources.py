"""Where a replay's logs come from: files, the files under a directory (a day of a CDN's logs
is more files than a command line holds, and a load balancer's are filed by date), or standard
input, named "-" (a log piped from zcat or an object store's client)."""

from __future__ import annotations

import functools
import io
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

STDIN = Path("-")
KEPT_MAX = 8 << 20  # bytes of standard input kept to be read again (a format told from them)


class SourceError(ValueError):
    pass


def listed(paths: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """The files `paths` name, a directory's in name order (in its subdirectories too; hidden
    files and directories left out), each once (a file named and found in a directory named
    too is one log), and which of them were found in a directory."""
    files: list[Path] = []
    found: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        if path == STDIN:
            if STDIN in files:
                raise SourceError("standard input (-) named twice")
            files.append(path)
            continue
        under = (
            sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if path.is_dir()
            else [path]
        )
        for file in under:
            if (same := file.resolve()) not in seen:
                seen.add(same)
                files.append(file)
                if file is not path:
                    found.append(file)
    return files, found


def shown(path: Path) -> str:
    """`path` as a message names it."""
    return "standard input" if path == STDIN else str(path)


def size(path: Path) -> int | None:
    """`path`'s size in bytes (None: standard input's is not known before it ends)."""
    return None if path == STDIN else path.stat().st_size


@contextmanager
def opened_raw(path: Path) -> Iterator[io.BufferedReader]:
    """`path`'s bytes from its start, buffered (`peek` tells its first bytes)."""
    if path != STDIN:
        with path.open("rb") as f:
            yield f
        return
    yield io.BufferedReader(_stdin_tape().reader())


class _Tape:
    """A stream read once, and read again from its start by each reader: what the readers
    have taken is kept (up to KEPT_MAX bytes, enough to tell a format from), and a reader that
    gets past that reads on from the stream, where the last one left it."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._kept = bytearray()
        self._taken = 0  # bytes read from the stream

    def reader(self) -> io.RawIOBase:
        return _TapeReader(self)

    def read_at(self, at: int, buffer: memoryview) -> int:
        if at < len(self._kept):
            n = min(len(buffer), len(self._kept) - at)
            buffer[:n] = self._kept[at : at + n]
            return n
        if at != self._taken:
            raise SourceError(
                f"standard input can be read once, and its first {KEPT_MAX >> 20} MiB again: "
                "save it to a file to replay it so"
            )
        chunk = self._stream.read(len(buffer))
        n = len(chunk)
        buffer[:n] = chunk
        self._taken += n
        if len(self._kept) == at and at + n <= KEPT_MAX:
            self._kept += chunk
        return n


class _TapeReader(io.RawIOBase):
    def __init__(self, tape: _Tape) -> None:
        self._tape = tape
        self._at = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = self._tape.read_at(self._at, buffer)
        self._at += n
        return n


def _stdin_tape() -> _Tape:
    return _tape_of(sys.stdin.buffer)


@functools.lru_cache(maxsize=1)  # one tape of standard input (a new one if it is replaced)
def _tape_of(stream: BinaryIO) -> _Tape:
    return _Tape(stream)
