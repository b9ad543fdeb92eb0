"""Where a replay's logs come from: files, the files under a directory (a day of a CDN's logs
is more files than a command line holds, and a load balancer's are filed by date), standard
input, named "-" (a log piped from zcat or an object store's client), or a pipe named as a file
(a FIFO, a shell's `<(zcat log.gz)`): a stream is read once, its first bytes kept to be read
again once its format is told."""

from __future__ import annotations

import io
import stat
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
            if sys.stdin is None or sys.stdin.isatty():  # (a log is piped in, never typed)
                raise SourceError(
                    "standard input (-) is a terminal, not a log: pipe one in, as "
                    "`zcat access.log.gz | mediacdn cache replay -`"
                )
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
    """`path`'s size in bytes (None: a stream's is not known before it ends)."""
    return None if _streamed(path) else path.stat().st_size


def _streamed(path: Path) -> bool:
    """Whether `path` can be read only once: standard input, a pipe (a named one, or one a
    shell's process substitution gives, `<(zcat log.gz)`), a character device."""
    if path == STDIN:
        return True
    try:
        mode = path.stat().st_mode
    except OSError:
        return False  # (opening it says what is wrong)
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


@contextmanager
def opened_raw(path: Path) -> Iterator[io.BufferedReader]:
    """`path`'s bytes from its start, buffered (`peek` tells its first bytes); a stream is
    read through a tape, so that each reader reads it from its start (its format is told
    from its first bytes before it is read)."""
    if not _streamed(path):
        with path.open("rb") as f:
            yield f
        return
    yield io.BufferedReader(_tape(path).reader())


class _Tape:
    """A stream read once, and read again from its start by each reader: what the readers
    have taken is kept (up to KEPT_MAX bytes, enough to tell a format from), and a reader that
    gets past that reads on from the stream, where the last one left it."""

    def __init__(self, stream: BinaryIO, name: str = "standard input") -> None:
        self._stream = stream
        self._name = name
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
                f"{self._name} can be read once, and its first {KEPT_MAX >> 20} MiB again: "
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


def _tape(path: Path) -> _Tape:
    """The one tape of stream `path`: standard input's (a new one if it is replaced), or a
    named pipe's (opened once, for the process's life)."""
    source: object = sys.stdin.buffer if path == STDIN else path
    if source not in _TAPES:
        stream = sys.stdin.buffer if path == STDIN else path.open("rb")
        _TAPES[source] = _Tape(stream, shown(path))
    return _TAPES[source]


_TAPES: dict[object, _Tape] = {}
