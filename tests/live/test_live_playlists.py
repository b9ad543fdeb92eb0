"""Live playlists with Low-Latency HLS: the track's window, parts, preload hint, delta updates
and rendition reports, read back with the `m3u8` library; classic players' view of the same
track; the blocking-reload rules of RFC 8216bis §6.2.5."""

from __future__ import annotations

import m3u8
import pytest

from manifests.blocking import (
    BadPlaylistRequest,
    PlaylistRequest,
    parse_playlist_request,
    refuse_if_too_far,
    satisfied,
)
from manifests.live_playlist import (
    LiveTrack,
    Part,
    PlaylistView,
    RenditionReport,
    render_live_playlist,
)
from manifests.parse import parse_media_playlist

T0 = 1_800_000_000.0


def grow(track: LiveTrack, segments: int, parts_per_segment: int = 4, extra: int = 0) -> LiveTrack:
    """`segments` complete segments of `parts_per_segment` half-second parts, then `extra`
    parts of the next."""
    clock = T0 + track.next_msn * 2.0
    for _ in range(segments):
        for n in range(parts_per_segment):
            track = track.add_part(Part(0.5, independent=n == 0), clock)
            clock += 0.5
        track = track.close_segment()
    for n in range(extra):
        track = track.add_part(Part(0.5, independent=n == 0), clock)
        clock += 0.5
    return track


def fresh(window_s: float = 60.0) -> LiveTrack:
    return LiveTrack(target_duration_s=2, part_target_s=0.5, window_s=window_s)


def test_a_low_latency_playlist_lists_recent_parts_and_hints_the_next() -> None:
    track = grow(fresh(), 5, extra=2)
    text = render_live_playlist(track)
    parsed = m3u8.loads(text)
    assert parsed.version == 9
    assert parsed.target_duration == 2
    assert parsed.media_sequence == 0
    assert parsed.server_control.can_block_reload == "YES"
    assert parsed.server_control.part_hold_back == 2.0
    assert parsed.server_control.can_skip_until == 12
    assert parsed.part_inf.part_target == 0.5
    # m3u8 reads the parts of the segment being made as a last segment without a URI
    assert [s.uri for s in parsed.segments] == [f"{n}.m4s" for n in range(5)] + [None]
    # parts for the segments within the last three target durations (6 s), and the pending ones
    assert [len(s.parts) for s in parsed.segments] == [0, 0, 4, 4, 4, 2]
    assert '#EXT-X-PART:DURATION=0.5,URI="5.1.m4s"' in text
    assert text.count("INDEPENDENT=YES") == 4  # the first part of each listed segment
    assert parsed.preload_hint.hint_type == "PART"
    assert parsed.preload_hint.uri == "5.2.m4s"
    assert all(s.program_date_time is not None for s in parsed.segments[:-1])
    assert parsed.segments[1].program_date_time.timestamp() == T0 + 2.0
    assert not parsed.is_endlist


def test_our_parser_reads_a_low_latency_playlist_as_a_player_needs_it() -> None:
    parsed = parse_media_playlist(render_live_playlist(grow(fresh(), 5, extra=2)))
    assert parsed.can_block_reload
    assert parsed.part_hold_back_s == 2.0
    assert parsed.part_target_s == 0.5
    assert [len(s.parts) for s in parsed.segments] == [0, 0, 4, 4, 4]
    assert [p.uri for p in parsed.pending_parts] == ["5.0.m4s", "5.1.m4s"]
    assert [p.independent for p in parsed.segments[3].parts] == [True, False, False, False]
    assert parsed.segments[3].parts[1].duration_s == 0.5
    assert [s.program_date_time_s for s in parsed.segments] == [T0 + 2.0 * n for n in range(5)]
    classic = parse_media_playlist(
        render_live_playlist(grow(fresh(), 5, extra=2), PlaylistView(low_latency=False))
    )
    assert classic.part_hold_back_s is None
    assert not classic.can_block_reload
    assert classic.pending_parts == ()
    assert all(s.parts == () for s in classic.segments)


def test_classic_players_see_whole_segments_only() -> None:
    track = grow(fresh(), 3, extra=3)
    text = render_live_playlist(track, PlaylistView(low_latency=False))
    for tag in ("EXT-X-PART", "PRELOAD-HINT", "SERVER-CONTROL", "RENDITION-REPORT"):
        assert tag not in text
    parsed = m3u8.loads(text)
    assert [s.uri for s in parsed.segments] == ["0.m4s", "1.m4s", "2.m4s"]
    assert parsed.version == 7


def test_the_window_keeps_the_dvr_depth_and_moves_the_media_sequence() -> None:
    track = grow(fresh(window_s=10), 12)
    assert [s.msn for s in track.segments] == [7, 8, 9, 10, 11]
    parsed = m3u8.loads(render_live_playlist(track))
    assert parsed.media_sequence == 7
    assert parsed.segments[0].uri == "7.m4s"


def test_a_delta_update_skips_what_lies_before_the_skip_boundary() -> None:
    track = grow(fresh(), 20, extra=1)  # 40.5 s; CAN-SKIP-UNTIL 12 s
    full = m3u8.loads(render_live_playlist(track))
    delta_text = render_live_playlist(track, PlaylistView(skip=True))
    delta = m3u8.loads(delta_text)
    assert delta.skip.skipped_segments == track.skip_count() == 14
    assert delta.media_sequence == full.media_sequence == 0
    assert [s.uri for s in delta.segments] == [s.uri for s in full.segments][14:]
    # what is left reaches back at least CAN-SKIP-UNTIL from the end
    assert sum(s.duration for s in delta.segments if s.uri) + 0.5 >= 12
    assert "#EXT-X-SKIP:SKIPPED-SEGMENTS=14" in delta_text
    assert "EXT-X-SKIP" not in render_live_playlist(
        track, PlaylistView(low_latency=False, skip=True)
    )


def test_rendition_reports_name_the_other_renditions_live_edge() -> None:
    track = grow(fresh(), 2, extra=1)
    reports = (
        RenditionReport("../720p/index.m3u8", 2, 0),
        RenditionReport("../a/index.m3u8", 1, None),
    )
    text = render_live_playlist(track, PlaylistView(reports=reports))
    assert '#EXT-X-RENDITION-REPORT:URI="../720p/index.m3u8",LAST-MSN=2,LAST-PART=0' in text
    assert '#EXT-X-RENDITION-REPORT:URI="../a/index.m3u8",LAST-MSN=1\n' in text
    parsed = m3u8.loads(text)
    assert [r.uri for r in parsed.rendition_reports] == ["../720p/index.m3u8", "../a/index.m3u8"]


def test_an_ended_stream_closes_its_last_segment_and_ends_the_list() -> None:
    track = grow(fresh(), 2, extra=3).end()
    text = render_live_playlist(track)
    parsed = m3u8.loads(text)
    assert parsed.is_endlist
    assert parsed.preload_hint is None
    assert [s.uri for s in parsed.segments] == ["0.m4s", "1.m4s", "2.m4s"]
    assert parsed.segments[-1].duration == 1.5


def test_blocking_requests_are_parsed_or_refused_with_400() -> None:
    assert parse_playlist_request({}) == PlaylistRequest()
    assert parse_playlist_request({"_HLS_msn": "7", "_HLS_part": "2", "_HLS_skip": "YES"}) == (
        PlaylistRequest(7, 2, True)
    )
    assert parse_playlist_request({"_HLS_skip": "v2"}).skip
    for bad in (
        {"_HLS_part": "1"},  # a part needs its segment
        {"_HLS_msn": "-1"},
        {"_HLS_msn": "1.5"},
        {"_HLS_msn": "٣"},  # digits, but not ASCII ones
        {"_HLS_msn": "9" * 40},
        {"_HLS_msn": "3", "_HLS_part": "x"},
        {"_HLS_skip": "NO"},
    ):
        with pytest.raises(BadPlaylistRequest):
            parse_playlist_request(bad)


def test_requests_too_far_ahead_are_refused() -> None:
    track = grow(fresh(), 5, extra=1)  # segments 0-4 complete, part 5.0 made
    refuse_if_too_far(track, PlaylistRequest(7))  # the last segment (5) plus two
    with pytest.raises(BadPlaylistRequest):
        refuse_if_too_far(track, PlaylistRequest(8))
    refuse_if_too_far(track, PlaylistRequest(5, 6))  # 3 s / 0.5 s parts: six parts ahead
    with pytest.raises(BadPlaylistRequest):
        refuse_if_too_far(track, PlaylistRequest(5, 7))
    with pytest.raises(BadPlaylistRequest):
        refuse_if_too_far(track, PlaylistRequest(6, 99))  # no segment has that many parts
    refuse_if_too_far(track.end(), PlaylistRequest(99))  # an ended stream answers at once


def test_a_blocking_request_waits_for_its_segment_or_part() -> None:
    track = grow(fresh(), 3, extra=2)  # segments 0-2, parts 3.0 and 3.1
    assert satisfied(track, PlaylistRequest())
    assert satisfied(track, PlaylistRequest(2))
    assert not satisfied(track, PlaylistRequest(3))  # segment 3 is still being made
    assert satisfied(track, PlaylistRequest(3, 1))
    assert not satisfied(track, PlaylistRequest(3, 2))
    assert satisfied(track, PlaylistRequest(2, 9))  # part 3.0 is later than any part 2.x
    nxt = track.add_part(Part(0.5), T0 + 7)
    assert satisfied(nxt, PlaylistRequest(3, 2))
    closed = grow(fresh(), 1)  # segment 0 complete with four parts, nothing after
    assert not satisfied(closed, PlaylistRequest(0, 4))  # waits for part 1.0
    assert satisfied(closed.end(), PlaylistRequest(5, 0))


def test_a_track_is_on_air_once_it_holds_the_hold_back_and_a_part_after_its_first() -> None:
    """Players may join once a rendition holds PART-HOLD-BACK and one part after its first
    segment: joining earlier, they start at the first part and wait for the next, or within
    the first segment, where hls.js loads its last part again and again."""
    track = LiveTrack(target_duration_s=2, part_target_s=0.5)
    hold_back_parts = round(track.part_hold_back_s / track.part_target_s)
    assert not track.on_air
    assert not grow(track, 0, extra=hold_back_parts + 1).on_air  # all in the first segment
    assert not grow(track, 1, extra=hold_back_parts).on_air
    assert grow(track, 1, extra=hold_back_parts + 1).on_air
    assert grow(track, 2, extra=1).on_air  # four parts in a second segment and one pending
    assert grow(track, 5).on_air
    assert grow(track, 0, extra=2).end().on_air  # a short broadcast's ended playlist
    assert grow(track, 1, extra=2).end().on_air
    assert not track.end().on_air
