"""ABR rules on bandwidth traces, one session at a time (pure), and the offline optimum.

`play_trace` plays a video of `chunks` segments over one trace with a rule through the one
playback-session model the simulator's and the HTTP player use (edge/player/session.py).
`offline_optimum` knows the whole trace in advance and searches the choices by dynamic
programming over (level, buffer, clock) states discretised to 0.1 s / 0.25 s (the
best-scoring states kept at each chunk): the reference no online rule can beat by much."""

from __future__ import annotations

from collections.abc import Sequence

from edge.player.abr import buffer_step, chunk_score
from edge.player.session import PlaybackSession, PlaybackStats
from edge.sim.bandwidth import Link

RTT_S = 0.08
BUFFER_Q_S = 0.1
CLOCK_Q_S = 0.25
BEAM = 1500


def _download_s(link: Link, at_s: float, bitrate_bps: int, segment_s: float) -> float:
    return RTT_S + link.download_s(at_s + RTT_S, bitrate_bps * segment_s)


def play_trace(
    link: Link,
    bitrates_bps: Sequence[int],
    segment_s: float,
    chunks: int,
    rule: str,
    *,
    max_buffer_s: float = 30.0,
    start_s: float = 0.0,
) -> PlaybackStats:
    session = PlaybackSession(rule, bitrates_bps, max_buffer_s=max_buffer_s, started_s=start_s)
    t = start_s
    for n in range(chunks):
        level = session.choose(segment_s, remaining=chunks - n)
        bitrate = bitrates_bps[level]
        took = _download_s(link, t, bitrate, segment_s)
        idle = session.add(
            level,
            segment_s,
            elapsed_s=took,
            took_s=took,
            size_bytes=int(bitrate * segment_s / 8),
            now_s=t + took,
        )
        t += took + idle
    return session.stats()


def offline_optimum(
    link: Link,
    bitrates_bps: Sequence[int],
    segment_s: float,
    chunks: int,
    *,
    max_buffer_s: float = 30.0,
    start_s: float = 0.0,
) -> PlaybackStats:
    """The best mean QoE reachable with the trace known, by DP (see the module docstring)."""
    # state key -> (score, buffer_s, clock_s, level, stalled, bitrate_sum, switches)
    State = tuple[float, float, float, int, float, float, int]
    states: dict[tuple[int, int, int], State] = {}
    for level, bitrate in enumerate(bitrates_bps):
        took = _download_s(link, start_s, bitrate, segment_s)
        _, buffer_s, idle = buffer_step(0.0, False, took, segment_s, max_buffer_s)
        clock = start_s + took + idle
        key = (level, round(buffer_s / BUFFER_Q_S), round(clock / CLOCK_Q_S))
        states[key] = (chunk_score(bitrate, 0.0, None), buffer_s, clock, level, 0.0, bitrate, 0)
    for _ in range(1, chunks):
        nxt: dict[tuple[int, int, int], State] = {}
        for score, buffer_s, clock, prev, stalled, bsum, sw in states.values():
            for level, bitrate in enumerate(bitrates_bps):
                took = _download_s(link, clock, bitrate, segment_s)
                stall, b, idle = buffer_step(buffer_s, True, took, segment_s, max_buffer_s)
                c = clock + took + idle
                value = score + chunk_score(bitrate, stall, bitrates_bps[prev])
                key = (level, round(b / BUFFER_Q_S), round(c / CLOCK_Q_S))
                old = nxt.get(key)
                if old is None or value > old[0]:
                    nxt[key] = (
                        value,
                        b,
                        c,
                        level,
                        stalled + stall,
                        bsum + bitrate,
                        sw + (level != prev),
                    )
        if len(nxt) > BEAM:
            kept = sorted(nxt.items(), key=lambda kv: kv[1][0], reverse=True)[:BEAM]
            nxt = dict(kept)
        states = nxt
    best = max(states.values(), key=lambda s: s[0])
    return PlaybackStats(
        rule="optimum",
        chunks=chunks,
        stall_s=best[4],
        played_s=chunks * segment_s,
        bitrate_bps=best[5] / chunks,
        switches=best[6],
        qoe=best[0] / chunks,
    )
