"""How a pushed contribution ends, told from what its requests carried: a long request the
encoder ends (its init segment and its media in one body) hands the receiver its end at once,
for a reconnect; a segment marked as its track's last (`lmsg`) on every track ends the
broadcast; a request cut short, or files pushed one per request, wait for the next push."""

from __future__ import annotations

import os
import struct
import threading
import time
from pathlib import Path

import pytest

from tests.live.test_push_feed import made_by_ffmpeg
from tests.support.live import dash_tracks, marked_last
from transcoder.live_push import PushFeed
from transcoder.pushed_boxes import PushedBoxes


def told(body: bytes, piece: int) -> PushedBoxes:
    carried = PushedBoxes()
    for at in range(0, len(body), piece):
        carried.feed(body[at : at + piece])
    return carried


@pytest.fixture(scope="module")
def media(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("pushed")
    hls = out / "hls"
    hls.mkdir()
    made_by_ffmpeg(ffmpeg, hls, "index.m3u8", "-f", "hls", "-hls_segment_type", "fmp4")
    return {
        "long": made_by_ffmpeg(ffmpeg, out, "frag.mp4", "-movflags", "frag_keyframe+empty_moov"),
        "init": (hls / "init.mp4").read_bytes(),
        "segment": (hls / "index0.m4s").read_bytes(),
        "ts": made_by_ffmpeg(ffmpeg, out, "a.ts", "-f", "mpegts"),
    }


def test_what_a_body_carried_is_told_whatever_pieces_it_comes_in(
    media: dict[str, bytes], ffmpeg: str, tmp_path: Path
) -> None:
    video, _ = dash_tracks(ffmpeg, tmp_path, 2)
    last = marked_last(video[-1])
    wide = struct.pack(">I4sQ", 1, b"free", 16 + 100) + bytes(100)  # a 64-bit size
    for piece in (1, 5, 13, 4096, 1 << 30):
        seen = {
            name: (c.init, c.media, c.last)
            for name, body in {
                "long": media["long"],
                "init": media["init"],
                "segment": media["segment"],
                "dash segment": video[1],
                "last dash segment": last,
                "whole track, last": b"".join(video[:-1]) + last,
                "a 64-bit size first": wide + media["segment"],
                "mpeg-ts": media["ts"],
                "a box to the end": b"\0\0\0\0mdat" + bytes(64) + media["segment"],
            }.items()
            for c in [told(body, piece)]
        }
        assert seen == {
            "long": (True, True, False),
            "init": (True, False, False),
            "segment": (False, True, False),
            "dash segment": (False, True, False),
            "last dash segment": (False, True, True),
            "whole track, last": (True, True, True),
            "a 64-bit size first": (False, True, False),
            "mpeg-ts": (False, False, False),
            "a box to the end": (False, False, False),
        }, piece
    assert told(media["long"], 7).whole_track
    assert told(media["ts"], 7).whole_track  # (MPEG-TS needs no init segment)
    assert not told(media["segment"], 7).whole_track


LONG_S = 0.3  # the feed's long request (8 s in the origin)


class Drained:
    """A feed whose receiver reads everything it is given."""

    def __init__(self, idle_s: float = 60, join_wait_s: float = 0.3) -> None:
        read, write = os.pipe()
        self.feed = PushFeed(
            os.fdopen(write, "wb"), idle_s=idle_s, join_wait_s=join_wait_s, long_s=LONG_S
        )
        self.received = bytearray()
        self._reader = threading.Thread(target=self._drain, args=(read,), daemon=True)
        self._reader.start()

    def _drain(self, read: int) -> None:
        with os.fdopen(read, "rb") as pipe:
            while chunk := pipe.read(1 << 16):
                self.received += chunk

    def push(self, track: str, body: bytes, *, cut: bool = False, long: bool = False) -> None:
        """One request of `track` carrying `body`, ended by the encoder unless `cut`; `long`:
        received for longer than a file of a file-per-request push takes."""
        assert self.feed.begin(track)
        carried = PushedBoxes()
        for at in range(0, len(body), 4096):
            assert self.feed.write(body[at : at + 4096], track)
            carried.feed(body[at : at + 4096])
        if long:
            time.sleep(LONG_S + 0.1)
        self.feed.finish_request(track, None if cut else carried)

    def close(self) -> None:
        self.feed.end()
        self._reader.join(10)


@pytest.mark.parametrize("kind", ["long", "ts"], ids=["fragmented MP4", "MPEG-TS"])
def test_a_long_request_the_encoder_ends_hands_the_receiver_its_end_for_a_reconnect(
    media: dict[str, bytes], kind: str
) -> None:
    drained = Drained()
    try:
        drained.push("/", media[kind], long=True)
        assert drained.feed.ended.wait(3)  # not the 60 s an idle feed waits
        assert not drained.feed.final  # the broadcast waits for the encoder to come back
        drained._reader.join(10)
        assert bytes(drained.received) == media[kind]  # all of it, then the end
    finally:
        drained.close()


def test_a_request_cut_short_or_files_pushed_one_by_one_wait_for_the_next_push(
    media: dict[str, bytes],
) -> None:
    for pushes in (
        [("long", True, True)],  # cut: the encoder may come back
        [("init", False, False), ("segment", False, False)],  # the next file may come
        # a first file that holds the init segment too, sent as fast as a file is
        [("long", False, False), ("segment", False, False)],
        [("ts", False, False), ("ts", False, False)],  # MPEG-TS segments, one a request
        [("ts", True, True)],  # a long MPEG-TS push cut short
    ):
        drained = Drained()
        try:
            for name, cut, long in pushes:
                drained.push("/", media[name], cut=cut, long=long)
                time.sleep(0.6)  # the next file comes later (the feed looks every 0.25 s)
            assert not drained.feed.ended.wait(1.5)
        finally:
            drained.close()


def test_a_last_segment_on_every_track_ends_the_broadcast(ffmpeg: str, tmp_path: Path) -> None:
    """Each track a request per file (DASH-IF ingest): the audio's last segment alone leaves
    the video going; the video's too ends the feed, for good."""
    video, audio = dash_tracks(ffmpeg, tmp_path, 3)
    drained = Drained()
    try:
        for kind, files in (("video", video), ("audio", audio)):
            for segment in files[:-1]:
                drained.push(f"Streams({kind})", segment)
        drained.push("Streams(audio)", marked_last(audio[-1]))
        assert not drained.feed.ended.wait(1.5)
        drained.push("Streams(video)", marked_last(video[-1]))
        assert drained.feed.ended.wait(3)
        assert drained.feed.final
    finally:
        drained.close()


def test_long_requests_side_by_side_end_the_feed_once_both_have_ended(
    ffmpeg: str, tmp_path: Path
) -> None:
    """A long POST per track (DASH-IF ingest): the audio's ending leaves the video's going."""
    video, audio = dash_tracks(ffmpeg, tmp_path, 3)
    drained = Drained()
    try:
        feed, carried = drained.feed, PushedBoxes()
        assert feed.begin("Streams(video)")
        for segment in video[:2]:
            assert feed.write(segment, "Streams(video)")
            carried.feed(segment)
        drained.push("Streams(audio)", b"".join(audio), long=True)
        assert not feed.ended.wait(1.5)
        assert feed.write(video[2], "Streams(video)")
        carried.feed(video[2])
        feed.finish_request("Streams(video)", carried)
        assert feed.ended.wait(3)
        assert not feed.final
    finally:
        drained.close()
