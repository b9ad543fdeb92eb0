"""HTTP ingest: `PUT` or `POST /ingest/{stream_key}/{name}` pushes a live stream's contribution
(CMAF/fragmented MP4, or MPEG-TS) to the origin that runs the stream's ingest. The stream key
in the path is the credential, as it is in an RTMP URL. Bodies are handed on as they arrive
(transcoder/live_push.py); playlists (`.m3u8`, `.mpd`) end the contribution when they say
so (`#EXT-X-ENDLIST`, `type="static"`), and an MPD gives the tracks' languages
(transcoder/mpd_languages.py). `DELETE` (what ffmpeg's `hls` and `dash` muxers
send for old segments) is acknowledged and ignored.

The requests of one track (`TrackNames`: tracks pushed separately are joined) take turns in the
order they arrive: an encoder's next file may start before the origin has finished with the
previous one (ffmpeg's `hls` muxer opens the next segment while the last bytes of the init
segment are still being handed on), so a request waits for the one before it (`Turns`).
Different tracks (a DASH-IF ingest encoder's long POST per track) are received side by
side."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
import weakref
from collections.abc import AsyncIterator

import anyio.to_thread
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from origin.body_ahead import BodyAhead
from origin.context import OriginContext
from origin.errors import ApiError
from origin.live import LiveHub
from transcoder.cmaf_join import TrackNames
from transcoder.fragments import FragmentError
from transcoder.live_push import PushFeed, PushSlot, is_manifest, readable_push, says_end
from transcoder.mpd_languages import init_languages
from transcoder.pushed_boxes import PushedBoxes

MAX_MANIFEST_BYTES = 1 << 20
FEED_WAIT_S = 5.0  # a push that comes while the stream's receiver (re)starts waits this long
TURN_WAIT_S = 3.0  # a request waits this long for one handing on its body before it
TURN_POLL_S = 0.1


class Turns:
    """One stream's pushed requests, handed on one at a time in the order they arrived. A
    request waits for those before it while they wait for the receiver, and `TURN_WAIT_S`
    once they hand on their bodies: one still doing that then is another encoder's push."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()  # asyncio's lock wakes its waiters in order
        self.receiving_since: float | None = None  # when the holder began handing on a body

    async def drained(self) -> None:
        """Once the requests that came before have been handed on."""
        async with self._lock:
            pass

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        arrived = time.monotonic()
        waiting = asyncio.ensure_future(self._lock.acquire())
        try:
            while not waiting.done():
                await asyncio.wait({waiting}, timeout=TURN_POLL_S)
                since = self.receiving_since
                late = since is not None and time.monotonic() - max(since, arrived) > TURN_WAIT_S
                if late and not waiting.done():
                    raise ApiError(
                        409, "already_on_air", "another push is being received for this stream"
                    )
        except BaseException:
            if not waiting.cancel():  # it had its turn already
                self._lock.release()
            raise
        try:
            yield
        finally:
            self.receiving_since = None
            self._lock.release()


class LivePush:
    def __init__(self, ctx: OriginContext, hub: LiveHub) -> None:
        self.ctx = ctx
        self.hub = hub
        # per stream, per track
        self._turns: weakref.WeakKeyDictionary[PushSlot, dict[str, Turns]] = (
            weakref.WeakKeyDictionary()
        )
        self._names: weakref.WeakKeyDictionary[PushSlot, TrackNames] = weakref.WeakKeyDictionary()

    async def _slot(self, request: Request) -> PushSlot:
        key = request.path_params["stream_key"]
        slot = self.hub.push_slot(key)
        if slot is not None:
            return slot
        unfinished = await anyio.to_thread.run_sync(self.ctx.catalog.unfinished_live)
        if not any(hmac.compare_digest(s.stream_key.encode(), key.encode()) for s in unfinished):
            raise ApiError(403, "invalid_stream_key", "no live stream has this stream key")
        raise ApiError(
            503,
            "ingest_unavailable",
            "this origin does not run the stream's ingest: push to the one that does",
        )

    async def _feed(self, slot: PushSlot) -> PushFeed:
        if slot.on_air_by not in (None, "http"):
            raise ApiError(
                409, "already_on_air", f"an encoder is on air for this stream by {slot.on_air_by}"
            )
        deadline = time.monotonic() + FEED_WAIT_S
        while (feed := slot.feed) is None or feed.ended.is_set():  # its receiver (re)starts
            if time.monotonic() >= deadline:
                raise ApiError(
                    503, "ingest_unavailable", "the stream's receiver is not ready; push again"
                )
            await asyncio.sleep(0.05)
        return feed

    async def push(self, request: Request) -> Response:
        """PUT/POST /ingest/{stream_key}/{name}: 204 once the body was handed on."""
        slot = await self._slot(request)  # the key first: nothing is read without it
        name = request.path_params["name"]
        body = BodyAhead(request)
        try:
            # a body that starts with an init segment starts a track: its name's last number
            # names it (ffmpeg's dash muxer's `-single_file`: `live-stream1.mp4`)
            init = not is_manifest(name) and (await body.peek(8))[4:8] in (b"ftyp", b"moov")
            track = self._names.setdefault(slot, TrackNames()).track(name, init)
            tracks = self._turns.setdefault(slot, {})
            turns = tracks.setdefault(track, Turns())
            async with turns.turn():
                if is_manifest(name):
                    others = [t for t in tracks.values() if t is not turns]
                    await self._manifest(body, slot, name, others)
                else:
                    await self._media(body, slot, track, turns)
        except ClientDisconnect:
            raise ApiError(400, "push_interrupted", "the encoder went away mid-request") from None
        except FragmentError as exc:
            raise ApiError(
                400, "unreadable_push", f"the pushed CMAF cannot be read: {exc}"
            ) from None
        finally:
            await body.close()
        return Response(status_code=204)

    async def _media(self, body: BodyAhead, slot: PushSlot, track: str, turns: Turns) -> None:
        """A body of media of `track`, handed on as it arrives."""
        first = b""
        async for chunk in body:  # what the body is, is told by its first bytes
            first += chunk
            if (readable := readable_push(first, complete=False)) is not None:
                break
        else:
            readable = readable_push(first, complete=True) if first else True
        if not readable:  # refused before anything reaches the receiver
            raise ApiError(
                415,
                "unsupported_push",
                "a push is CMAF (fragmented MP4) or MPEG-TS, and this body is neither (an MP4 "
                "file with its index at the end cannot be read as it arrives: push with "
                "-movflags frag_keyframe+empty_moov)",
                close=True,
            )
        feed = await self._feed(slot)
        if feed.restarts(track, first):
            # a new init segment: the encoder started again; the receiver ends with what it
            # had, and this request waits for the next one (the broadcast continues)
            feed.end()
            feed = await self._feed(slot)
        if not feed.begin(track):
            raise ApiError(409, "already_on_air", "another push is being received for this stream")
        turns.receiving_since = time.monotonic()
        carried = PushedBoxes()  # what the body held, told once the encoder ends it
        ended = False
        try:
            chunk = first
            while True:
                if chunk and not await anyio.to_thread.run_sync(feed.write, chunk, track):
                    raise ApiError(  # the encoder sees its request end now, not the body's end
                        409,
                        "ingest_ended",
                        "this contribution has ended (or its key was replaced); push anew",
                        close=True,
                    )
                carried.feed(chunk)
                try:
                    chunk = await body.__anext__()
                except StopAsyncIteration:
                    ended = True
                    break
        finally:
            feed.finish_request(track, carried if ended else None)

    async def _manifest(
        self, body: BodyAhead, slot: PushSlot, name: str, others: list[Turns]
    ) -> None:
        """A playlist or manifest: no media; an MPD may give the tracks' languages
        (transcoder/mpd_languages.py); one that says the contribution is over ends it, once
        the media of every track before it is handed on (at most `TURN_WAIT_S`)."""
        feed = await self._feed(slot)
        try:
            text = await body.read(MAX_MANIFEST_BYTES)
        except ValueError:
            raise ApiError(413, "too_large", "a playlist of at most 1 MiB") from None
        if name.lower().endswith(".mpd"):  # it lists the tracks, and may say their languages
            # parsed and told in one trip to a thread (the feed's lock may wait on its pipe)
            await anyio.to_thread.run_sync(lambda: feed.tell_tracks(init_languages(text, name)))
        if not says_end(text):
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(TURN_WAIT_S):
                for other in others:
                    await other.drained()
        feed.end(final=True)

    async def delete(self, request: Request) -> Response:
        """DELETE /ingest/{stream_key}/{name}: an encoder removing an old segment; nothing
        pushed is kept, so there is nothing to remove."""
        await self._slot(request)
        return Response(status_code=204)
