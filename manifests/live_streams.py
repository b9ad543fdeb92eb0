"""The live part of the catalog: live streams (a key, an ingest port, a status) and, while
one is live, each rendition's playlist state, written as parts are made so any origin can
serve it."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from manifests.db import PostgresDatabase, Row, SqliteDatabase
from manifests.live_playlist import LiveTrack, track_from_json, track_to_json
from manifests.model import MasterPlaylist, MediaTrack, Variant
from manifests.records import Access
from manifests.render import render_master_playlist
from manifests.track_names import track_names
from manifests.webhooks import WebhookTable

LiveStatus = Literal["idle", "live", "ended"]


@dataclass(frozen=True, slots=True)
class LiveSettings:
    segment_s: float = 2.0
    part_s: float = 0.5
    window_s: float = 60.0  # how far back viewers may seek (DVR)
    access: Access = "public"  # signed: playback needs a token (and so does its recording)

    def to_json(self) -> str:
        return json.dumps(
            {
                "segment_s": self.segment_s,
                "part_s": self.part_s,
                "window_s": self.window_s,
                "access": self.access,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> LiveSettings:
        raw = json.loads(text)
        access: Access = "signed" if raw.get("access") == "signed" else "public"
        return cls(float(raw["segment_s"]), float(raw["part_s"]), float(raw["window_s"]), access)


@dataclass(frozen=True, slots=True)
class IngestError:
    at: float
    protocol: str  # srt, rtmp or http
    message: str


def _ingest_error(text: str | None) -> IngestError | None:
    if not text:
        return None
    raw = json.loads(text)
    return IngestError(float(raw["at"]), str(raw["protocol"]), str(raw["message"]))


@dataclass(frozen=True, slots=True)
class LiveStream:
    id: str
    title: str
    status: LiveStatus
    ingest_port: int
    settings: LiveSettings
    owner: str
    video_id: str | None  # the recording, once the stream has ended
    created_at: float
    started_at: float | None
    ended_at: float | None
    version: int
    stream_key: str  # the SRT passphrase: the ingest needs it to listen
    # why the last contribution that came was not broadcast (cleared once one goes on air)
    ingest_error: IngestError | None = None

    def __repr__(self) -> str:  # never the key in a log
        return f"LiveStream(id={self.id!r}, status={self.status!r}, port={self.ingest_port})"


@dataclass(frozen=True, slots=True)
class LiveRendition:
    """One rendition of a live stream: what the multivariant playlist says of it, and its
    playlist state."""

    name: str
    kind: Literal["video", "audio"]
    info: dict[str, Any]  # bandwidth, codecs, resolution, frame_rate, language
    track: LiveTrack


def _stream(row: Row) -> LiveStream:
    return LiveStream(
        id=row["id"],
        title=row["title"],
        status=row["status"],
        ingest_port=int(row["ingest_port"]),
        settings=LiveSettings.from_json(row["settings"]),
        owner=row["owner"],
        video_id=row["video_id"],
        created_at=float(row["created_at"]),
        started_at=None if row["started_at"] is None else float(row["started_at"]),
        ended_at=None if row["ended_at"] is None else float(row["ended_at"]),
        version=int(row["version"]),
        stream_key=row["stream_key"],
        ingest_error=_ingest_error(row.get("ingest_error")),
    )


class LiveTable(WebhookTable):
    """The live streams part of the catalog (the Catalog is one); going live and ending are
    webhook events (`live.started`, `live.ended`), written with the change."""

    db: SqliteDatabase | PostgresDatabase
    clock: Callable[[], float]

    def create_live(
        self,
        title: str,
        settings: LiveSettings,
        ports: range,
        *,
        owner: str = "",
    ) -> LiveStream:
        """A new stream and its key, on the lowest ingest port of `ports` no other
        unfinished stream holds."""
        stream_id, stream_key = uuid.uuid4().hex[:16], secrets.token_hex(16)
        now = self.clock()
        with self.db.transaction() as cur:
            cur.execute("SELECT ingest_port FROM live_streams WHERE status <> 'ended'")
            taken = {int(r["ingest_port"]) for r in cur.all()}
            port = next((p for p in ports if p not in taken), None)
            if port is None:
                raise LookupError("every live ingest port is taken")
            cur.execute(
                "INSERT INTO live_streams (id, stream_key, title, status, ingest_port, settings,"
                " owner, created_at) VALUES (?, ?, ?, 'idle', ?, ?, ?, ?)",
                (stream_id, stream_key, title, port, settings.to_json(), owner, now),
            )
            cur.execute("SELECT * FROM live_streams WHERE id = ?", (stream_id,))
            row = cur.one()
        assert row is not None
        return _stream(row)

    def get_live(self, stream_id: str) -> LiveStream | None:
        with self.db.transaction() as cur:
            cur.execute("SELECT * FROM live_streams WHERE id = ?", (stream_id,))
            row = cur.one()
            return _stream(row) if row else None

    def reset_live_key(self, stream_id: str) -> LiveStream | None:
        """A new stream key for a stream not ended (None if there is none): the old one
        stops working."""
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE live_streams SET stream_key = ?, version = version + 1"
                " WHERE id = ? AND status <> 'ended'",
                (secrets.token_hex(16), stream_id),
            )
            if cur.rowcount == 0:
                return None
            cur.execute("SELECT * FROM live_streams WHERE id = ?", (stream_id,))
            row = cur.one()
            return _stream(row) if row else None

    def unfinished_live(self) -> list[LiveStream]:
        with self.db.transaction() as cur:
            cur.execute("SELECT * FROM live_streams WHERE status <> 'ended' ORDER BY created_at")
            return [_stream(r) for r in cur.all()]

    def set_live_status(
        self, stream_id: str, status: LiveStatus, *, video_id: str | None = None
    ) -> LiveStream | None:
        """idle → live (the encoder is on air) → ended (the recording is `video_id`)."""
        now = self.clock()
        with self.db.transaction() as cur:
            cur.execute("SELECT status FROM live_streams WHERE id = ?", (stream_id,))
            before = cur.one()
            if status == "live":
                cur.execute(
                    "UPDATE live_streams SET status = 'live', version = version + 1,"
                    " started_at = COALESCE(started_at, ?), ingest_error = NULL"
                    " WHERE id = ? AND status <> 'ended'",
                    (now, stream_id),
                )
            elif status == "ended":
                cur.execute(
                    "UPDATE live_streams SET status = 'ended', version = version + 1,"
                    " ended_at = COALESCE(ended_at, ?), video_id = COALESCE(video_id, ?)"
                    " WHERE id = ?",
                    (now, video_id, stream_id),
                )
            else:
                cur.execute(
                    "UPDATE live_streams SET status = 'idle', version = version + 1"
                    " WHERE id = ? AND status <> 'ended'",
                    (stream_id,),
                )
            cur.execute("SELECT * FROM live_streams WHERE id = ?", (stream_id,))
            row = cur.one()
            if row is None or before is None:
                return None
            stream = _stream(row)
            if before["status"] != stream.status and stream.status in ("live", "ended"):
                event = "live.started" if stream.status == "live" else "live.ended"
                data: dict[str, object] = {"stream_id": stream.id, "title": stream.title}
                if stream.status == "ended":
                    data["video_id"] = stream.video_id
                self._emit(cur, event, data, now)
            return stream

    def note_ingest_error(self, stream_id: str, protocol: str, message: str) -> None:
        """A contribution came by `protocol` and could not be broadcast, for this reason."""
        text = json.dumps({"at": self.clock(), "protocol": protocol, "message": message[:500]})
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE live_streams SET ingest_error = ? WHERE id = ? AND status <> 'ended'",
                (text, stream_id),
            )

    def put_live_rendition(self, stream_id: str, position: int, rendition: LiveRendition) -> None:
        """Write a rendition's playlist state (and bump the stream's version, which blocked
        playlist requests on other origins watch)."""
        info, state = json.dumps(rendition.info), track_to_json(rendition.track)
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE live_tracks SET info = ?, state = ? WHERE stream_id = ? AND name = ?",
                (info, state, stream_id, rendition.name),
            )
            if cur.rowcount == 0:
                cur.execute(
                    "INSERT INTO live_tracks (stream_id, name, kind, position, info, state)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (stream_id, rendition.name, rendition.kind, position, info, state),
                )
            cur.execute("UPDATE live_streams SET version = version + 1 WHERE id = ?", (stream_id,))

    def reset_live_renditions(self, stream_id: str, renditions: list[LiveRendition]) -> None:
        """A broadcast's renditions, in order, in place of any an earlier attempt left (its
        encoder may have brought other streams)."""
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM live_tracks WHERE stream_id = ?", (stream_id,))
            for position, r in enumerate(renditions):
                cur.execute(
                    "INSERT INTO live_tracks (stream_id, name, kind, position, info, state)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        stream_id,
                        r.name,
                        r.kind,
                        position,
                        json.dumps(r.info),
                        track_to_json(r.track),
                    ),
                )
            cur.execute("UPDATE live_streams SET version = version + 1 WHERE id = ?", (stream_id,))

    def live_renditions(self, stream_id: str) -> tuple[int, list[LiveRendition]]:
        """(the stream's version, its renditions in order) read together."""
        with self.db.transaction() as cur:
            cur.execute("SELECT version FROM live_streams WHERE id = ?", (stream_id,))
            row = cur.one()
            if row is None:
                return -1, []
            cur.execute(
                "SELECT * FROM live_tracks WHERE stream_id = ? ORDER BY position", (stream_id,)
            )
            renditions = [
                LiveRendition(
                    r["name"], r["kind"], json.loads(r["info"]), track_from_json(r["state"])
                )
                for r in cur.all()
            ]
            return int(row["version"]), renditions

    def delete_live(self, stream_id: str) -> None:
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM live_streams WHERE id = ?", (stream_id,))


def render_live_master(renditions: list[LiveRendition], media: str = "index.m3u8") -> str:
    """The multivariant playlist of a live stream: each video rung, with the audio tracks as a
    group (the first the default, each named by its language);
    `media` names each rendition's playlist (index.m3u8: LL-HLS; classic.m3u8: without
    parts)."""
    audio = [r for r in renditions if r.kind == "audio"]
    languages = [str(a.info.get("language") or "und") for a in audio]
    tracks = tuple(
        MediaTrack(
            type="AUDIO",
            group_id="audio",
            name=name,
            language=language,
            uri=f"{a.name}/{media}",
            default=i == 0,
            channels="2",
        )
        for i, (a, language, name) in enumerate(
            zip(audio, languages, track_names(list(languages)), strict=True)
        )
    )
    audio_bps = max((int(a.info.get("bandwidth", 0)) for a in audio), default=0)
    audio_codec = audio[0].info.get("codecs") if audio else None
    variants = []
    for v in (r for r in renditions if r.kind == "video"):
        resolution = v.info.get("resolution")
        size = tuple(int(n) for n in resolution.split("x")) if resolution else None
        codecs = ",".join(c for c in (v.info.get("codecs"), audio_codec) if c)
        variants.append(
            Variant(
                uri=f"{v.name}/{media}",
                bandwidth_bps=int(v.info.get("bandwidth", 0)) + audio_bps,
                codecs=codecs or None,
                resolution=(size[0], size[1]) if size else None,
                audio_group="audio" if audio else None,
            )
        )
    return render_master_playlist(MasterPlaylist(variants=tuple(variants), media=tracks))
