"""The feed of a pushed contribution: bodies reach the receiver's stdin in order, one request
at a time; it ends when told, when the receiver is gone, or once pushes stop (but never before
the first one)."""

from __future__ import annotations

import os
import random
import subprocess
import time
from pathlib import Path

from transcoder.live_push import PushFeed, is_manifest, readable_push
from transcoder.tools import tool_env


def pipe_feed(idle_s: float) -> tuple[PushFeed, int]:
    read, write = os.pipe()
    return PushFeed(os.fdopen(write, "wb"), idle_s=idle_s), read


def test_bodies_arrive_in_order_one_request_at_a_time() -> None:
    feed, read = pipe_feed(60)
    assert feed.begin()
    assert not feed.begin()  # a second encoder, or a request that overlaps: refused
    assert feed.write(b"A")
    feed.finish_request()
    assert feed.begin()
    assert feed.write(b"B")
    feed.finish_request()
    feed.end()
    with os.fdopen(read, "rb") as pipe:
        assert pipe.read() == b"AB"


def test_it_ends_once_pushes_stop_but_not_before_the_first() -> None:
    feed, read = pipe_feed(0.3)
    try:
        assert not feed.ended.wait(0.8)  # nothing pushed yet: the encoder may still come
        feed.begin()
        feed.write(b"x")
        time.sleep(0.6)  # a long request is not idle
        assert not feed.ended.is_set()
        feed.finish_request()
        assert feed.ended.wait(2)
        assert not feed.write(b"y")
    finally:
        os.close(read)


def test_a_gone_receiver_ends_it() -> None:
    feed, read = pipe_feed(60)
    os.close(read)
    assert not feed.write(b"x")
    assert feed.ended.is_set()


def test_manifests_are_told_from_media() -> None:
    assert is_manifest("index.m3u8")
    assert is_manifest("live/Manifest.MPD")
    assert not is_manifest("init.mp4")
    assert not is_manifest("index3.m4s")


def test_tracks_pushed_separately_are_received_side_by_side() -> None:
    feed, read = pipe_feed(60)
    try:
        assert feed.begin("/0")
        assert feed.begin("/1")  # a long POST per track (DASH-IF ingest)
        assert not feed.begin("/1")
        feed.finish_request("/1")
        feed.finish_request("/0")
        feed.write(bytes([0x47]) + bytes(187), "/")  # MPEG-TS: one track
        assert feed.begin("/")
        assert not feed.begin("/other")  # a second encoder's push
        feed.finish_request("/")
    finally:
        feed.end()
        os.close(read)


def made_by_ffmpeg(ffmpeg: str, out: Path, name: str, *muxing: str) -> bytes:
    """One second of a test pattern, written by ffmpeg as `muxing` says."""
    source = ["-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25:duration=1"]
    encode = ["-c:v", "libx264", "-preset", "ultrafast"]
    subprocess.run(
        [ffmpeg, "-v", "error", *source, *encode, *muxing, "-y", str(out / name)],
        env=tool_env(),
        check=True,
        timeout=60,
    )
    return (out / name).read_bytes()


def told_in_pieces(body: bytes, piece: int) -> bool:
    """What `readable_push` says of `body` arriving `piece` bytes at a time."""
    for end in range(piece, len(body), piece):
        verdict = readable_push(body[:end], complete=False)
        if verdict is not None:
            return verdict
    verdict = readable_push(body, complete=True)
    assert verdict is not None  # a whole body is always told
    return verdict


def test_a_push_is_told_readable_from_its_first_bytes(ffmpeg: str, tmp_path: Path) -> None:
    """Fragmented MP4 (a long request, an init segment, a segment), an MP4 with its index first
    and MPEG-TS are media the receiver reads as they arrive; an MP4 file with its index at the
    end, text and noise are not. The verdict comes from at most a few hundred bytes, whatever
    the pieces they come in."""
    segments = tmp_path / "hls"
    segments.mkdir()
    made_by_ffmpeg(ffmpeg, segments, "index.m3u8", "-f", "hls", "-hls_segment_type", "fmp4")
    readable = {
        "fragmented": made_by_ffmpeg(
            ffmpeg, tmp_path, "frag.mp4", "-movflags", "frag_keyframe+empty_moov"
        ),
        "index first": made_by_ffmpeg(ffmpeg, tmp_path, "fast.mp4", "-movflags", "faststart"),
        "mpeg-ts": made_by_ffmpeg(ffmpeg, tmp_path, "a.ts", "-f", "mpegts"),
        "init segment": (segments / "init.mp4").read_bytes(),
        "segment": (segments / "index0.m4s").read_bytes(),
    }
    unreadable = {
        "index at the end": made_by_ffmpeg(ffmpeg, tmp_path, "whole.mp4"),
        "text": b"#EXTM3U\n" * 100,
        "noise": random.Random(7).randbytes(4096),
        "a byte": b"x",
        "a box of no size": b"\x00\x00\x00\x04ftyp" + bytes(100),
    }
    for piece in (1, 7, 4096):
        told = {name: told_in_pieces(body, piece) for name, body in (readable | unreadable).items()}
        assert told == dict.fromkeys(readable, True) | dict.fromkeys(unreadable, False)
    for body in readable.values():  # told within the first 1 KiB
        assert readable_push(body[:1024], complete=False) is True
