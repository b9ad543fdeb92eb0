"""The one playback-session model: buffer, stalls, switches, startup and QoE, as the HTTP
player, the simulator and the trace evaluator all drive it."""

from __future__ import annotations

import pytest

from edge.player.abr import REBUFFER_PENALTY, buffer_step
from edge.player.session import PlaybackSession, PlaybackStats

LADDER = [1_000_000, 3_000_000]


def test_qoe_is_bitrate_minus_rebuffer_and_switch_penalties() -> None:
    """Three 4 s chunks: 1 Mbps at once, 3 Mbps after a 0.5 s stall, 3 Mbps in time."""
    session = PlaybackSession("throughput", LADDER, started_s=10.0)
    session.add(0, 4.0, elapsed_s=1.0, took_s=1.0, size_bytes=500_000, now_s=11.0)
    session.add(1, 4.0, elapsed_s=4.5, took_s=4.5, size_bytes=1_500_000, now_s=15.5)
    session.add(1, 4.0, elapsed_s=1.0, took_s=1.0, size_bytes=1_500_000, now_s=16.5)
    stats = session.stats()
    scores = [1.0, 3.0 - REBUFFER_PENALTY * 0.5 - 2.0, 3.0]
    assert stats.qoe == pytest.approx(sum(scores) / 3)
    assert stats.startup_s == pytest.approx(1.0)
    assert stats.stall_s == pytest.approx(0.5)
    assert stats.stalls == 1
    assert stats.switches == 1
    assert stats.chunks == 3
    assert stats.played_s == pytest.approx(12.0)
    assert stats.bitrate_bps == pytest.approx(7_000_000 / 3)


def test_buffer_follows_buffer_step_and_the_wait_for_room() -> None:
    session = PlaybackSession("bola", LADDER, max_buffer_s=6.0)
    assert session.add(0, 4.0, elapsed_s=0.5, took_s=0.5, size_bytes=1, now_s=0.5) == 0.0
    idle = session.add(0, 4.0, elapsed_s=0.5, took_s=0.5, size_bytes=1, now_s=1.0)
    expected = buffer_step(4.0, True, 0.5, 4.0, 6.0)
    assert idle == pytest.approx(expected[2]) == pytest.approx(1.5)
    assert session.buffer_s == pytest.approx(6.0)
    assert session.buffer_after(2.0) == pytest.approx(4.0)
    assert session.buffer_after(10.0) == 0.0


def test_seek_flushes_the_buffer_and_the_next_chunk_does_not_count_as_a_stall() -> None:
    session = PlaybackSession("mpc", LADDER)
    session.add(0, 4.0, elapsed_s=1.0, took_s=1.0, size_bytes=1, now_s=1.0)
    session.seek()
    assert session.buffer_s == 0.0
    assert not session.playing
    session.add(0, 4.0, elapsed_s=9.0, took_s=9.0, size_bytes=1, now_s=10.0)
    stats = session.stats()
    assert stats.stall_s == 0.0
    assert stats.startup_s == pytest.approx(1.0)  # startup is the first chunk's only


def test_choose_sees_the_buffer_drained_by_the_wait() -> None:
    """BOLA picks by buffer: a full buffer gives the top rung, the same buffer drained does not."""
    session = PlaybackSession("bola", LADDER, max_buffer_s=30.0)
    for _ in range(7):
        session.add(0, 4.0, elapsed_s=0.1, took_s=0.1, size_bytes=1, now_s=0.0)
    assert session.choose(4.0) == 1
    assert session.choose(4.0, waited_s=session.buffer_s) == 0


def test_no_chunks_no_figures() -> None:
    assert PlaybackSession("mpc", LADDER).stats() == PlaybackStats("mpc")


def test_unknown_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown ABR rule"):
        PlaybackSession("fastest", LADDER)
