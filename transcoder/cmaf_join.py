"""Join CMAF tracks pushed separately into one fragmented MP4 stream for the receiver.

An encoder pushing CMAF over HTTP may send its tracks muxed in one file stream (ffmpeg's
`mp4` and `hls` muxers) or each track on its own (CMAF ingest as the DASH-IF live ingest
protocol describes it, ffmpeg's `dash` muxer): an init segment per track, then that track's
fragments, often every track with track_ID 1. The receiver reads one stream, so the tracks
are joined: one init segment whose moov holds every track's trak (and trex), renumbered
1, 2, …, followed by every track's fragments in the order they arrive, their tfhd renumbered
the same way (only the track_ID changes, so every size and offset stays right).

Which track a request carries comes from its name (`track_key`); a contribution made of one
track (a muxed one included) is passed on byte for byte, whatever its files are named. Pure:
bytes in, bytes out."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

from transcoder.fragments import (
    Fragment,
    FragmentError,
    FragmentReader,
    Init,
    boxes,
    find,
)

JOIN_WAIT_S = 1.5  # how long a contribution with one track waits for another one's init
MAX_HELD_BYTES = 32 << 20  # what is held back while the tracks are not all known
MP4_STARTS = (b"ftyp", b"styp", b"moov", b"moof", b"free", b"sidx", b"prft")
_STREAMS = re.compile(r"Streams\(([^)/]{1,128})\)")
_WORD = re.compile(r"[A-Za-z0-9]+")
# words that say what a pushed file is, not which track it is of
_ROLES = frozenset({"init", "chunk", "segment", "seg", "media", "frag", "fragment", "index"})
_MANIFESTS = (".m3u8", ".mpd")


def _words(base: str) -> list[str]:
    """A file name's words (its extension left out), in lower case."""
    return [word.lower() for word in _WORD.findall(base.split(".", 1)[0])]


def track_key(name: str, init: bool = False) -> str:
    """Which track of a contribution a pushed file belongs to, from its name: the DASH-IF
    `Streams(<name>)` if there is one; else its directory and the words of its file name but
    those that name the file's role (`init`, `chunk`, `segment`…) and the number that counts
    segments (the last one, unless the file is an init segment: named so, or `init`, its
    body starting with one). ffmpeg's dash muxer: `init-stream1.m4s` and
    `chunk-stream1-00042.m4s` are track `/stream1`, and with `-single_file 1` its
    `live-stream1.mp4`, init segment and media in one request, track `/live-stream1`;
    Shaka Packager's `audio_init.mp4` and `audio_17.m4s` track `/audio`, its
    `h264_360p_init.mp4` and `h264_360p_17.m4s` track `/h264-360p`; ffmpeg's hls muxer's
    `init.mp4` and `index17.m4s` track `/`."""
    if match := _STREAMS.search(name):
        return match.group(1)
    directory, _, base = name.rpartition("/")
    words = _words(base)
    if words and not init and "init" not in words:  # the segment's number
        last = words.pop()
        if not last.isdigit():  # glued to a word: `index17`
            words.append(last.rstrip("0123456789"))
    return f"{directory}/{'-'.join(w for w in words if w and w not in _ROLES)}"


class TrackNames:
    """Which track each file one encoder pushes belongs to (`track_key`). Where the only track
    seen in a directory has no name (its init segment is `init.mp4`), a segment of a track not
    seen there is of that one: ffmpeg's hls muxer names its segments after its playlist
    (`init.mp4`, then `live0.m4s`, `live1.m4s`…). An init segment that names its track
    (`audio_init.mp4`) starts that track."""

    def __init__(self) -> None:
        self._seen: dict[str, set[str]] = {}  # directory → track keys

    def track(self, name: str, init: bool = False) -> str:
        """The track of a file named `name` (`init`: its body starts with an init segment)."""
        key = track_key(name, init)
        if _STREAMS.search(name):
            return key
        directory, _, base = name.rpartition("/")
        seen = self._seen.setdefault(directory, set())
        nameless = f"{directory}/"
        if key not in seen and seen == {nameless} and not init and "init" not in _words(base):
            return nameless
        if not base.lower().endswith(_MANIFESTS):
            seen.add(key)
        return key


def handler_kinds(init: bytes) -> list[bytes]:
    """The handler type of each trak of an init segment (b"vide", b"soun", ...)."""
    return [init[at + 8 : at + 12] for at in find(init, [b"moov", b"trak", b"mdia", b"hdlr"])]


def _track_id_at(data: bytes, payload: int, kind: bytes) -> int:
    """Where the track_ID of a tkhd, trex or tfhd box (its payload at `payload`) is."""
    if kind == b"tkhd":
        return payload + (20 if data[payload] == 1 else 12)
    return payload + 4  # trex and tfhd: right after version and flags


def _renumbered(box: bytes, kind: bytes, ids: dict[int, int]) -> bytes:
    """`box` with the track_ID of every `kind` box inside it renumbered by `ids`."""
    data = bytearray(box)
    for payload in find(box, _PATHS[kind]):
        at = _track_id_at(box, payload, kind)
        (old,) = struct.unpack_from(">I", box, at)
        if old in ids:
            struct.pack_into(">I", data, at, ids[old])
    return bytes(data)


_PATHS = {
    b"tkhd": [b"trak", b"tkhd"],
    b"trex": [b"mvex", b"trex"],
    b"tfhd": [b"moof", b"traf", b"tfhd"],
}


@dataclass
class _Track:
    reader: FragmentReader = field(default_factory=FragmentReader)
    init: Init | None = None
    ids: dict[int, int] = field(default_factory=dict)  # its track_IDs → the joined ones
    media: bool = False  # a fragment came


class TrackJoiner:
    """Feed it each pushed body's bytes with their track (`add`), and `poll` it now and then;
    both return what to write to the receiver now. Until the tracks are known (a video and
    an audio init and then a fragment, or `wait_s` after the first fragment) everything is
    held back. Not at the second init: an encoder sends every track's init before their
    media, and a third track (a second language) whose init came after the join could not
    be added; the receiver reads nothing before media anyway. An MPD (`tell`) may give the
    tracks' languages, which ffmpeg's dash muxer says only there, after its first segment:
    `told_language` is the one it gives a joined stream, by its number, once it has come."""

    def __init__(self, wait_s: float = JOIN_WAIT_S) -> None:
        self.wait_s = wait_s
        self.mode = "deciding"  # then "raw" (passed on as it is) or "joined"
        self._tracks: dict[str, _Track] = {}
        self._held: list[bytes] = []  # as it came, for "raw"
        self._held_bytes = 0
        self._parsed: list[tuple[str, Fragment]] = []  # as parsed, for "joined"
        self._first_media_at: float | None = None
        self._told: dict[str, str] = {}  # track → the language an MPD gives it
        self._joined_tracks: list[str] = []  # the track of each joined stream, in order

    def tell(self, tracks: dict[str, str | None]) -> None:
        """An MPD came, listing these tracks (by the names of their init segments) with these
        languages (None: none given)."""
        for name, code in tracks.items():
            if code:
                self._told[track_key(name, init=True)] = code

    def told_language(self, stream: int) -> str | None:
        """The language an MPD gives joined stream number `stream` (0 first), if any."""
        if self.mode != "joined" or not 0 <= stream < len(self._joined_tracks):
            return None
        return self._told.get(self._joined_tracks[stream])

    def has_media(self, track: str) -> bool:
        known = self._tracks.get(track)
        return known is not None and known.media

    def media_tracks(self) -> set[str]:
        return {key for key, known in self._tracks.items() if known.media}

    def add(self, track: str, data: bytes, now: float) -> bytes:
        if self.mode == "raw":
            return data
        if self.mode == "joined":
            return b"".join(self._joined(track, data))
        if not self._held and data[4:8] not in MP4_STARTS:
            self.mode = "raw"  # MPEG-TS, or anything else ffmpeg reads from a pipe
            return data
        self._held.append(data)
        self._held_bytes += len(data)
        try:
            items = self._read(track, data)
        except FragmentError:  # not CMAF we can cut: ffmpeg may still read it as it is
            return self._pass_through()
        media = track not in self._tracks  # of no track: passed on only if one track is known
        for item in items:
            if isinstance(item, Fragment):
                self._parsed.append((track, item))
                media = True
        if media and self._first_media_at is None:
            self._first_media_at = now
        return self.poll(now)

    def poll(self, now: float) -> bytes:
        """What to write now that time has passed (the tracks may be known by now)."""
        if self.mode != "deciding":
            return b""
        inits = [t.init for t in self._tracks.values() if t.init is not None]
        kinds = {kind for init in inits for kind in handler_kinds(init.data)}
        waited = self._first_media_at is not None and now - self._first_media_at >= self.wait_s
        whole = any(not find(init.data, [b"moov", b"mvex"]) for init in inits)  # not fragmented
        both = {b"vide", b"soun"} <= kinds and bool(self._parsed)
        if not (both or waited or whole or self._held_bytes > MAX_HELD_BYTES):
            return b""
        if len(inits) <= 1 or whole:
            return self._pass_through()
        self.mode = "joined"
        self._held = []
        head = self._joined_init()
        parsed, self._parsed = self._parsed, []
        return head + b"".join(self._renumber(key, f) for key, f in parsed if key in self._tracks)

    def _pass_through(self) -> bytes:
        """From now on bytes go on as they come; first what was held, as it came."""
        self.mode = "raw"
        held, self._held, self._parsed = b"".join(self._held), [], []
        return held

    def _read(self, track: str, data: bytes) -> list[Init | Fragment]:
        """`data` cut into an init segment and fragments; nothing for media of no track."""
        if track in self._tracks:
            state = self._tracks[track]
        elif data[4:8] in (b"ftyp", b"moov"):  # a new track begins with its init segment
            state = self._tracks[track] = _Track()
        else:
            return []
        items = state.reader.feed(data)
        for item in items:
            if isinstance(item, Init):
                state.init = item
            else:
                state.media = True
        return items

    def _joined(self, track: str, data: bytes) -> list[bytes]:
        if track not in self._tracks or self._tracks[track].init is None:
            return []  # a track that came after the joined init: it cannot be added now
        return [
            self._renumber(track, item)
            for item in self._read(track, data)
            if isinstance(item, Fragment)
        ]

    def _renumber(self, key: str, fragment: Fragment) -> bytes:
        return _renumbered(fragment.data, b"tfhd", self._tracks[key].ids)

    def _joined_init(self) -> bytes:
        """The ftyp and mvhd of the first track's init, then every track's traks and trexes,
        renumbered 1, 2, … in the order the inits came."""
        ftyp = mvhd = b""
        traks: list[bytes] = []
        trexes: list[bytes] = []
        for key, state in self._tracks.items():
            if state.init is None:
                continue
            top = {kind: (at, end) for kind, at, end in boxes(state.init.data)}
            if b"moov" not in top:
                raise FragmentError("an init segment without a moov")
            moov = _whole(state.init.data, *top[b"moov"])
            ftyp = ftyp or (_whole(state.init.data, *top[b"ftyp"]) if b"ftyp" in top else b"")
            for kind, at, end in boxes(moov, 8):
                box = _whole(moov, at, end)
                if kind == b"mvhd":
                    mvhd = mvhd or box
                elif kind == b"trak":
                    tkhd = find(box, _PATHS[b"tkhd"])
                    if not tkhd:
                        raise FragmentError("a trak without a tkhd")
                    (old,) = struct.unpack_from(">I", box, _track_id_at(box, tkhd[0], b"tkhd"))
                    state.ids[old] = len(traks) + 1
                    traks.append(_renumbered(box, b"tkhd", state.ids))
                    self._joined_tracks.append(key)
                elif kind == b"mvex":
                    renumbered = _renumbered(box, b"trex", state.ids)
                    trexes += [
                        _whole(renumbered, t_at, t_end)
                        for t_kind, t_at, t_end in boxes(renumbered, 8)
                        if t_kind == b"trex"
                    ]
        if not mvhd or not traks:
            raise FragmentError("an init segment without mvhd or trak")
        return ftyp + _box(b"moov", mvhd + b"".join(traks) + _box(b"mvex", b"".join(trexes)))


def _whole(data: bytes, payload: int, end: int) -> bytes:
    """The whole box (header included) whose payload starts at `payload` (32-bit size)."""
    return data[payload - 8 : end]


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload
