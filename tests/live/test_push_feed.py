"""The feed of a pushed contribution: bodies reach the receiver's stdin in order, one request
at a time; it ends when told, when the receiver is gone, or once pushes stop (but never before
the first one)."""

from __future__ import annotations

import os
import time

from transcoder.live_push import PushFeed, is_manifest


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
