"""A log's bytes as the replay's readers take them: decompressed where its first bytes say it is
compressed (gzip, bzip2, xz, zstd: log rotation and trace archives leave them so, whatever
their names), text written in UTF-16 (as Windows tools write it: PowerShell's `>` and
`Out-File`, a spreadsheet's "Unicode text") read as UTF-8, a byte order mark dropped; its lines
in bounded memory, NULs before a line none of it; and its first bytes, to tell its format by."""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import json
import lzma
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol

import zstandard

from edge.sim.log_sources import opened_raw, shown

LINE_MAX = 1 << 16  # bytes; a longer line is no request (an URL is at most a few KiB)
HEAD = 1 << 16  # bytes of a file its format is told from
_PIECE = 1 << 16  # bytes read at a time from a file that is decompressed or recoded


class LogError(ValueError):
    pass


class Readable(Protocol):
    """A file's bytes, read in order, with a look at what comes next."""

    def read(self, size: int = -1, /) -> bytes: ...

    def readline(self, size: int = -1, /) -> bytes: ...

    def peek(self, size: int, /) -> bytes: ...


class _Counted(io.RawIOBase):
    """A file read through, telling `progress` how many of its own bytes each read took."""

    def __init__(self, f: io.BufferedReader, progress: Callable[[int], object]) -> None:
        self._f = f
        self._progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = self._f.readinto(buffer)
        self._progress(n)
        return n


class _Made(io.RawIOBase):
    """Bytes made from another file's a piece at a time (`_more`; b"": no more)."""

    def __init__(self) -> None:
        self._out = b""
        self._at = 0  # of `_out`, read up to here

    def readable(self) -> bool:
        return True

    def _more(self) -> bytes:
        raise NotImplementedError

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while self._at == len(self._out):
            self._out, self._at = self._more(), 0
            if not self._out:
                return 0
        n = min(len(buffer), len(self._out) - self._at)
        buffer[:n] = self._out[self._at : self._at + n]
        self._at += n
        return n


class _Zstd(_Made):
    """zstd frames read through one after another; a file cut off inside a frame is an
    `EOFError`, as gzip, bzip2 and xz say it."""

    def __init__(self, f: BinaryIO) -> None:
        super().__init__()
        self._f = f
        self._frame = zstandard.ZstdDecompressor().decompressobj()
        self._started = False  # a frame has begun (an empty file is no frame cut off)

    def _more(self) -> bytes:
        out = b""
        while not out:
            chunk = self._f.read(_PIECE)
            if not chunk:
                if self._started and not self._frame.eof:
                    raise EOFError("compressed file ended inside a zstd frame")
                return b""
            while chunk:
                if self._frame.eof:  # the next frame
                    self._frame = zstandard.ZstdDecompressor().decompressobj()
                self._started = True
                out += self._frame.decompress(chunk)
                chunk = self._frame.unused_data if self._frame.eof else b""
        return out


class _Utf8(_Made):
    """Text in another encoding read as UTF-8 (what cannot be decoded is U+FFFD)."""

    def __init__(self, f: Readable, encoding: str) -> None:
        super().__init__()
        self._f = f
        self._decoder = codecs.getincrementaldecoder(encoding)("replace")

    def _more(self) -> bytes:
        out = ""
        while not out:
            chunk = self._f.read(_PIECE)
            out = self._decoder.decode(chunk, final=not chunk)
            if not chunk:
                break
        return out.encode()


def _decompressing(magic: bytes, f: io.BufferedReader[_Counted]) -> Readable:
    """`f` read through the decompressor its first bytes name (itself if none)."""
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=f)
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(f)
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(f)
    if (
        magic.startswith(b"\x28\xb5\x2f\xfd")
        or (  # a frame, or a skippable one (pzstd's)
            magic[1:4] == b"\x2a\x4d\x18" and 0x50 <= magic[0] <= 0x5F
        )
    ):
        return io.BufferedReader(_Zstd(f))
    return f


def utf16(first: bytes) -> str:
    """The UTF-16 a file is written in, told by its first bytes ("": it is not UTF-16 text):
    its byte order mark, or, without one, every other byte a NUL as ASCII is in UTF-16. Either
    way what follows must decode as text, so that no binary trace whose first bytes happen to
    look so is taken for text."""
    if first.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding, body = ("utf-16-le" if first[0] == 0xFF else "utf-16-be"), first[2:]
    elif len(first) >= 16 and first[1::2].count(0) == len(first) // 2 and 0 not in first[::2]:
        encoding, body = "utf-16-le", first
    elif len(first) >= 16 and first[::2].count(0) == (len(first) + 1) // 2 and 0 not in first[1::2]:
        encoding, body = "utf-16-be", first
    else:
        return ""
    text = body[: len(body) & ~1].decode(encoding, "replace")
    if len(body) >= 2 and text.endswith("\ufffd"):
        text = text[:-1]  # (a character cut where the look ends)
    shown_text = "".join(text.split())
    return encoding if shown_text.isprintable() and "\ufffd" not in shown_text else ""


@contextmanager
def opened(path: Path, progress: Callable[[int], object]) -> Iterator[Readable]:
    """`path`'s bytes, decompressed if its first bytes say it is compressed, as UTF-8 if it is
    UTF-16 text (its byte order mark dropped, and a UTF-8 one); a damaged compressed file is a
    `LogError` that names it."""
    with opened_raw(path) as raw:
        magic = raw.peek(8)[:8]
        counted = io.BufferedReader(_Counted(raw, progress))
        f = _decompressing(magic, counted)
        plain = f is counted
        try:
            first = f.peek(64)[:64]
            if encoding := utf16(first):
                f = io.BufferedReader(_Utf8(f, encoding))
                first = f.peek(3)[:3]
            if first.startswith(codecs.BOM_UTF8):
                f.read(3)
            yield f
        except _DAMAGED as exc:
            if plain:
                raise
            raise LogError(f"{shown(path)}: damaged or cut-off compressed file ({exc})") from None


# what a damaged or cut-off compressed file raises while it is read
_DAMAGED = (OSError, EOFError, lzma.LZMAError, zstandard.ZstdError)


def lines(path: Path, progress: Callable[[int], object], arrays: bool = True) -> Iterator[str]:
    """`path`'s lines; a line longer than LINE_MAX is read through in pieces and given as an
    empty line (skipped as no request): a file with no line ends, or a compressed one that
    expands to a single huge line, is read in bounded memory. NUL bytes before a line are
    none of it (see `_after_nuls`). With `arrays`, a JSON array of records (an export: on one
    line or pretty-printed) is read as its records, each one a line (see `_array_items`)."""
    with opened(path, progress) as f:
        if arrays and is_json_array(f.peek(_LOOK)[:_LOOK]):
            yield from _array_items(f, path)
            return
        while raw := f.readline(LINE_MAX):
            if raw[0] == 0:
                raw = _after_nuls(raw, f)
                if not raw:
                    break
            if len(raw) == LINE_MAX and not raw.endswith(b"\n"):
                while (more := f.readline(LINE_MAX)) and not more.endswith(b"\n"):
                    pass
                yield ""
            else:
                yield raw.decode("utf-8", "replace")


def _after_nuls(raw: bytes, f: Readable) -> bytes:
    """The line `raw` begins, its leading NUL bytes dropped, read on from `f` past them (b"":
    `f` ended first). A run of NULs is where a log was truncated under a writer that kept its
    offset (logrotate's copytruncate, a writer without O_APPEND): the writer's next line lands
    that far into the emptied file, and the bytes before it read as NULs."""
    while raw[:1] == b"\x00":
        raw = raw.lstrip(b"\x00")
        if not raw.endswith(b"\n"):  # NULs to the piece's end, or the line goes on
            raw += f.readline(LINE_MAX - len(raw))
    return raw


def heads(path: Path) -> tuple[bytes, bytes]:
    """`path`'s first HEAD bytes, and the HEAD bytes after the NULs it begins with (the same
    bytes if it begins with none; b"" if it is NULs to its end)."""
    with opened(path, lambda n: None) as f:
        head = f.read(HEAD)
        after = head.lstrip(b"\x00")
        if len(after) == len(head):
            return head, head
        while not after and (piece := f.read(HEAD)):
            after = piece.lstrip(b"\x00")
        if after:
            after += f.read(HEAD - len(after))
        return head, after


_LOOK = 256  # bytes looked at to tell a JSON array of records


# Azure Monitor's wrapper of a batch of records, as Event Hubs deliver them and as resource
# logs were archived to storage before JSON lines: {"records": [{...}, {...}]}
_WRAPPER = re.compile(r'\{\s*"records"\s*:\s*\[')
_WRAPPED = re.compile(_WRAPPER.pattern.encode())  # (the same, in bytes)


def is_json_array(first: bytes) -> bool:
    """Whether a file beginning with `first` is a JSON array of objects ("[" then "{", with
    any white space; no text log's line begins so), or Azure's {"records": [...]}."""
    text = first.lstrip()
    if wrapped := _WRAPPED.match(text):
        text = text[wrapped.end() - 1 :]  # (from its "[")
    return text.startswith(b"[") and text[1:].lstrip()[:1] in (b"{", b"]")


def first_array_item(head: bytes) -> str | None:
    """The first record of a JSON array that begins with `head`, as its text (None: it does
    not end within `head`)."""
    text = head.decode("utf-8", "replace").lstrip()
    if wrapped := _WRAPPER.match(text):
        text = text[wrapped.end() - 1 :]
    text = text.removeprefix("[").lstrip()
    try:
        _, end = _DECODER.raw_decode(text)
    except json.JSONDecodeError:
        return None
    return text[:end]


_DECODER = json.JSONDecoder()


def _array_items(f: Readable, path: Path) -> Iterator[str]:
    """The records of the JSON array `f` (several arrays one after another too, as exports
    joined), each as its text, in bounded memory: a record is decoded from the text read so
    far, more being read while it is cut off, up to LINE_MAX. A record cut off where the file
    ends is given as it is (unreadable); one that cannot be decoded, or a value that is no
    record, is a `LogError`: the rest of the array cannot be found past it."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    text, at, ended, wrappers = "", 0, False, 0
    while True:
        while at < len(text) and text[at] in _BETWEEN:
            at += 1
        if at < len(text) and (wrapper := _WRAPPER.match(text, at)):
            at, wrappers = wrapper.end(), wrappers + 1
            continue
        if at < len(text) and text[at] == "}" and wrappers:  # (a wrapper's end)
            at, wrappers = at + 1, wrappers - 1
            continue
        if at < len(text):
            if text[at] != "{":
                raise LogError(f"{shown(path)}: a JSON array holding a value that is no record")
            end = _record_end(text, at, path, more=not ended)
            if end is not None:
                yield text[at:end]
                at = end
                continue
        if ended:
            if at < len(text):
                yield text[at:]  # (a record cut off where the file ends)
            return
        chunk = f.read(_PIECE)
        ended = not chunk
        text, at = text[at:] + decoder.decode(chunk, final=ended), 0


def _record_end(text: str, at: int, path: Path, more: bool) -> int | None:
    """Where the record at `at` in `text` ends (None: it may go on past where `text` ends, if
    `more` may follow, up to LINE_MAX; or it is cut off there, where the file ends); a
    `LogError` where it is damaged."""
    try:
        return int(_DECODER.raw_decode(text, at)[1])
    except json.JSONDecodeError as exc:
        if more and len(text) - at <= LINE_MAX:
            return None
        # cut off where the file ends: in a string, or a few characters before the end (a
        # number, `true`, an escape cut short fails where it began)
        cut = exc.msg.startswith("Unterminated string") or exc.pos >= len(text.rstrip()) - 32
        if cut and not more:
            return None
        raise LogError(
            f"{shown(path)}: a JSON array whose record cannot be read ({exc.msg}, "
            f"{exc.pos - at} characters into it)"
        ) from None


_BETWEEN = frozenset(" \t\r\n,[]")  # what comes between an array's records
