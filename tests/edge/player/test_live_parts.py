"""The headless player on a low-latency live stream, against a scripted LL-HLS server on a
fake clock: it starts PART-HOLD-BACK behind the newest part on an independent one, asks for
each next part with a blocking reload, fetches every part once and the audio's alongside, and
says how far behind the wall clock it played."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from edge.player.live_edge import (
    CATCH_UP_MAX_RATE,
    Listed,
    LiveStart,
    catch_up_rate,
    classic_rate,
    listed,
    live_start,
    live_target_s,
    made_at,
    media_played,
)
from edge.player.player import HeadlessPlayer, PlaybackFailed, SessionReport
from manifests.parse import parse_media_playlist

PART_S = 0.5
PARTS = 4  # a segment of 2 s
EPOCH = 1_800_000_000.0  # the wall clock when the fake clock reads 0


class LiveServer:
    """Parts made every PART_S of fake time from t=0; a blocking reload moves the clock on
    to when what it asks for is made (the server holds the request until then)."""

    def __init__(
        self,
        ends_after_segments: int,
        hold_back_s: float = 1.5,
        stops_at: float = 1e9,
        link_bps: float = 0.0,
        audio_lag_s: float = 0.0,
        scale: int = 1,
        part_scale: tuple[int, ...] = (1,) * PARTS,
        cached_s: float = 0.0,
        late: tuple[int, float] = (-1, 0.0),
        classic: bool = False,
    ) -> None:
        self.now = 0.0
        self.classic = classic  # whole segments only: no parts listed, no PART-HOLD-BACK
        self.cached_s = cached_s  # a plain playlist request gets the playlist as it was then
        self.late = late  # (part number, seconds): that part is listed so much later
        self.link_bps = link_bps  # media takes this long to send (0: no time)
        self.audio_lag_s = audio_lag_s  # the audio's parts are made this much later
        self.scale = scale  # of the parts' sizes
        self.part_scale = part_scale  # on top, of each part's by its place in its segment
        self.ends_after = ends_after_segments
        self.hold_back_s = hold_back_s
        self.stops_at = stops_at  # no part is made after this (the encoder is gone)
        self.fetched: Counter[str] = Counter()
        self.blocking: list[str] = []

    def made(self, lag_s: float = 0.0) -> int:
        """Parts made so far (`lag_s` later than the clock)."""
        made = max(0, int((min(self.now, self.stops_at) - lag_s) / PART_S + 1e-9))
        return min(made, self.ends_after * PARTS)

    def playlist(self, name: str, old_s: float = 0.0) -> str:
        made = self.made(old_s + (self.audio_lag_s if name == "audio" else 0.0))
        whole, pending = divmod(made, PARTS)
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:9",
            "#EXT-X-TARGETDURATION:2",
            f"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={self.hold_back_s}",
            f"#EXT-X-PART-INF:PART-TARGET={PART_S}",
            "#EXT-X-MEDIA-SEQUENCE:0",
            f'#EXT-X-MAP:URI="{name}-init.mp4"',
        ]
        if self.classic:
            lines[3:5] = ["#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES"]
        for msn in range(whole):
            date = datetime.fromtimestamp(EPOCH + msn * PARTS * PART_S, UTC).isoformat()
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{date}")
            lines += [] if self.classic else self.parts(name, msn, PARTS)
            lines += [f"#EXTINF:{PARTS * PART_S},", f"{name}-{msn}.m4s"]
        if made >= self.ends_after * PARTS:
            lines.append("#EXT-X-ENDLIST")
        elif not self.classic:
            lines += self.parts(name, whole, pending)
            lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{name}-{whole}.{pending}.m4s"')
        return "\n".join(lines) + "\n"

    @staticmethod
    def parts(name: str, msn: int, count: int) -> list[str]:
        return [
            f'#EXT-X-PART:DURATION={PART_S},URI="{name}-{msn}.{i}.m4s"'
            + (",INDEPENDENT=YES" if i == 0 else "")
            for i in range(count)
        ]

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = urlsplit(str(request.url)).path.lstrip("/")
        query = parse_qs(urlsplit(str(request.url)).query)
        if path == "master.m3u8":
            return httpx.Response(200, text=MASTER)
        if path.endswith(".m3u8"):
            if "_HLS_msn" in query:
                self.blocking.append(f"{path}?{urlsplit(str(request.url)).query}")
                msn, part = int(query["_HLS_msn"][0]), int(query.get("_HLS_part", ["0"])[0])
                if self.classic:  # listed once it is whole
                    part = PARTS - 1
                wanted = min(msn * PARTS + part + 1, self.ends_after * PARTS)
                if wanted * PART_S > self.stops_at:  # held until the server gives up
                    self.now += 3 * PARTS * PART_S
                    return httpx.Response(503, json={"error": {"code": "not_yet"}})
                lag = self.audio_lag_s if path == "audio.m3u8" else 0.0
                late_s = self.late[1] if wanted - 1 == self.late[0] else 0.0
                self.now = max(self.now, wanted * PART_S + lag + late_s)
                return httpx.Response(200, text=self.playlist(path.removesuffix(".m3u8")))
            return httpx.Response(
                200, text=self.playlist(path.removesuffix(".m3u8"), self.cached_s)
            )
        self.fetched[path] += 1
        body = b"x" * (10_000 if path.startswith("hi") else 2_000) * self.scale
        if path.count(".") == 2:  # a part
            body *= self.part_scale[int(path.split(".")[1])]
        if self.link_bps:
            self.now += 8 * len(body) / self.link_bps
        return httpx.Response(200, content=body)


MASTER = """#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="en",DEFAULT=YES,AUTOSELECT=YES,URI="audio.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=200000,AUDIO="a"
lo.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=900000,AUDIO="a"
hi.m3u8
"""


def play(server: LiveServer, url: str, duration_s: float | None = None) -> dict[str, object]:
    return played(server, url, duration_s).as_dict()


def played(server: LiveServer, url: str, duration_s: float | None = None) -> SessionReport:
    def sleep(seconds: float) -> None:
        server.now += max(0.0, seconds)

    transport = httpx.MockTransport(server.handle)
    with httpx.Client(transport=transport) as client:
        player = HeadlessPlayer(
            client,
            duration_s=duration_s,
            clock=lambda: server.now,
            sleep=sleep,
            wall=lambda: EPOCH + server.now,
        )
        return player.play(url)


def test_plays_each_part_once_from_the_hold_back_with_blocking_reloads() -> None:
    server = LiveServer(ends_after_segments=6)
    server.now = 5.5  # joins 5.5 s in: 11 parts made, the newest 2.2
    report = play(server, "http://live.test/master.m3u8")
    assert report["live"]
    assert report["low_latency"]
    # 1.5 s (three parts) back from the newest's end starts 2.0, an independent part
    video = sorted(k for k in server.fetched if k.startswith(("lo-", "hi-")) and "init" not in k)
    assert all(n == 1 for n in server.fetched.values())  # nothing twice
    played = {k.split("-", 1)[1] for k in video}
    assert played == {f"{m}.{i}.m4s" for m in range(2, 6) for i in range(PARTS)}
    assert report["segments"] == len(played)  # a chunk a part
    audio = {k.split("-", 1)[1] for k in server.fetched if k.startswith("audio-")}
    assert audio >= played  # the audio's parts alongside
    assert any("_HLS_part=" in b for b in server.blocking)
    assert report["rebuffer_count"] == 0
    # each part came as it was made: the picture stays PART-HOLD-BACK behind
    assert report["live_latency_s"] == pytest.approx(1.5, abs=0.01)


def test_it_shows_from_the_hold_back_decoding_from_the_independent_part_before() -> None:
    server = LiveServer(ends_after_segments=4)
    server.now = 6.0  # 12 parts made, the newest 2.3: 1.5 s back starts 2.1
    report = play(server, "http://live.test/lo.m3u8")
    video = {k.removeprefix("lo-") for k in server.fetched if "init" not in k}
    assert video == {f"{m}.{i}.m4s" for m in range(2, 4) for i in range(PARTS)}
    assert report["segments"] == 2 * PARTS - 1  # 2.0 was fetched to decode from, not shown
    assert report["live_latency_s"] == pytest.approx(1.5, abs=0.01)


def test_joined_from_a_playlist_a_cache_kept_it_plays_faster_back_to_the_hold_back() -> None:
    """A CDN may answer the first (plain) playlist request with a copy it has kept for up to
    its max-age: here 1 s old, so the newest part it lists is two parts behind the newest
    made. Joined PART-HOLD-BACK behind that, the player holds 2.5 s once it has fetched the
    parts made since; at 1x it would stay 2.5 s behind for as long as it watched. It plays
    faster (at most 1.2x) until it is back within a tenth of a second of the hold back."""
    server = LiveServer(ends_after_segments=12, cached_s=1.0)
    server.now = 6.0
    report = played(server, "http://live.test/master.m3u8")
    behind = report.behind_s
    assert behind[0] == pytest.approx(2.5, abs=0.01)  # the hold back and the cache's second
    assert max(behind) <= 2.5 + 1e-6
    assert all(later <= earlier + 1e-6 for earlier, later in itertools.pairwise(behind))
    assert behind[-1] == pytest.approx(1.5, abs=0.1 + 1e-6)  # back at the hold back
    assert report.playback.stalls == 0
    # nothing skipped: every part from where it joined (1.3, 1.5 s behind the 2.1 listed)
    # to the end was played
    assert report.playback.chunks == 12 * PARTS - (PARTS + 3)


def test_a_classic_live_stream_joined_from_a_kept_playlist_plays_faster_back() -> None:
    """Whole segments only (no parts): the player starts three segments behind the newest
    listed. From a playlist a cache kept for 3 s, that is 9 s behind the encoder instead of
    6 (it holds 9 s once it has fetched the segments made since); at 1x it would stay so far
    behind for as long as it watched. It plays faster (at most 1.2x) until it holds three
    segments again, as hls.js does with `maxLiveSyncPlaybackRate`."""
    server = LiveServer(ends_after_segments=20, cached_s=3.0, classic=True)
    server.now = 9.0  # the kept playlist (of 6 s) lists 0-2: it starts from 0
    report = played(server, "http://live.test/master.m3u8")
    assert not report.low_latency
    behind = report.behind_s
    assert behind[0] == pytest.approx(9.0, abs=0.01)  # started behind the kept playlist's
    assert max(behind) <= 9.0 + 1e-6
    assert all(later <= earlier + 1e-6 for earlier, later in itertools.pairwise(behind))
    assert behind[-1] == pytest.approx(6.0, abs=0.2)  # three segments behind, no further
    assert report.playback.stalls == 0
    video = {k.split("-", 1)[1] for k in server.fetched if k.startswith(("lo-", "hi-"))}
    assert video >= {f"{msn}.m4s" for msn in range(20)}  # from the first listed: none skipped


def test_after_a_stall_it_aims_a_second_further_back() -> None:
    """Part 20 comes 1.5 s late, with the parts made since: the player, 1.5 s behind, has
    played all it held a second after the part was due, stalls 0.5 s and is then 2 s
    behind. Its aim is now 2.5 s (a second more for the stall), so it does not play faster
    back to the 1.5 s that has just stalled it (hls.js's rule too)."""
    server = LiveServer(ends_after_segments=10, late=(20, 1.5))
    server.now = 6.0
    report = played(server, "http://live.test/lo.m3u8")
    assert report.playback.stalls == 1
    assert report.behind_s[0] == pytest.approx(1.5, abs=0.01)
    assert report.behind_s[-1] == pytest.approx(2.0, abs=0.01)


def test_catching_up_is_judged_on_the_buffer_and_a_stall_is_counted_in_real_time() -> None:
    assert catch_up_rate(1.5, 1.5) == 1.0
    assert catch_up_rate(1.59, 1.5) == 1.0  # within the dead zone: no wobble
    assert catch_up_rate(1.7, 1.5) == pytest.approx(1.1)
    assert catch_up_rate(3.0, 1.5) == CATCH_UP_MAX_RATE
    assert catch_up_rate(0.2, 1.5) == 1.0  # far behind on a slow link, little held: 1x
    assert live_target_s(1.5, 0, 2.0) == 1.5
    assert live_target_s(1.5, 1, 2.0) == 2.5
    assert live_target_s(1.5, 5, 2.0) == 3.5  # a target duration more at most
    # a classic player aims at three segments behind: 2 s segments, 6 s
    assert classic_rate(6.0, 2.0, 0, 2.0) == 1.0
    assert classic_rate(6.4, 2.0, 0, 2.0) == pytest.approx(1.2)
    assert classic_rate(6.4, 2.0, 1, 2.0) == 1.0  # a second further back after a stall
    assert media_played(0.5, 2.0, 1.2) == pytest.approx(0.6)
    assert media_played(0.5, 2.0, 1.0) == pytest.approx(0.5)
    # 0.6 s held at 1.2x lasts 0.5 s: the other 0.5 s is a stall of 0.5 s, not 0.6
    assert media_played(1.0, 0.6, 1.2) == pytest.approx(0.6 + 0.5)


def test_the_parts_fetched_to_decode_from_are_measured_with_their_time() -> None:
    """Joined three parts after the independent one, the first part shown comes with the
    three before it: the throughput is their bytes over their time, not over its own. On a
    link of 500 kbit/s the rendition of 900 is not taken at the next segment's start."""
    server = LiveServer(ends_after_segments=5, link_bps=500_000)
    server.now = 7.1  # 14 parts made, the newest 3.1 ends at 7.0: 1.5 s back starts 2.3
    play(server, "http://live.test/master.m3u8")
    shown = {k for k in server.fetched if k.startswith(("lo-", "hi-")) and "init" not in k}
    assert {"lo-2.0.m4s", "lo-2.3.m4s"} <= shown
    assert not any(k.startswith("hi-") for k in shown), sorted(shown)


def test_the_wait_for_an_audio_part_to_be_made_is_not_taken_for_a_slow_link() -> None:
    """The audio's parts are made 0.4 s after the video's: fetched alongside each video
    part, each asks for one that is not made yet. On a 2 Mbit/s link the 900 kbit/s rendition
    is taken, as without the wait (counted in, the link read as 0.36 Mbit/s)."""
    for lag in (0.0, 0.4):
        server = LiveServer(ends_after_segments=5, link_bps=2_000_000, audio_lag_s=lag, scale=5)
        server.now = 6.0
        play(server, "http://live.test/master.m3u8")
        shown = {k for k in server.fetched if k.startswith(("lo-", "hi-")) and "init" not in k}
        assert "hi-4.0.m4s" in shown, (lag, sorted(shown))


def test_on_a_fast_link_parts_of_several_sizes_are_measured_a_segment_at_a_time() -> None:
    """On 100 Mbit/s a part of 4 to 16 KB takes under 2 ms, so each part's own sample is its
    size over the estimate's 50 ms floor: the small last part of each segment (a quarter of
    the others, as an encoder's can be) read as a link a quarter as fast, and MPC, taking that
    spread for a forecast gone wrong, trusted a quarter of it and kept the lowest rendition
    to the end. Measured a segment at a time (its parts' bytes over their summed time) the
    link carries the 900 kbit/s rendition, which is taken from the first segment measured."""
    server = LiveServer(ends_after_segments=8, link_bps=100e6, scale=2, part_scale=(4, 4, 4, 1))
    server.now = 6.0  # joined in segment 2
    play(server, "http://live.test/master.m3u8")
    shown = {k for k in server.fetched if k.startswith(("lo-", "hi-")) and "init" not in k}
    assert {f"hi-{msn}.{i}.m4s" for msn in range(3, 8) for i in range(PARTS)} <= shown


def test_a_duration_stops_it_and_a_stream_that_stops_growing_fails_it() -> None:
    server = LiveServer(ends_after_segments=100)
    server.now = 3.0
    report = play(server, "http://live.test/lo.m3u8", duration_s=3.0)
    assert report["segments"] == 6  # 3 s of 0.5 s parts
    assert report["live_latency_s"] is not None

    stuck = LiveServer(ends_after_segments=100, stops_at=6.0)
    stuck.now = 3.0
    with pytest.raises(PlaybackFailed, match="stopped growing"):
        play(stuck, "http://live.test/lo.m3u8")
    assert stuck.now <= 6.0 + 6 * 2 + 3 * PARTS * PART_S  # six target durations and a hold


def test_a_playlist_that_promises_parts_and_lists_none_is_played_in_segments() -> None:
    clock = {"now": 0.0}

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(".m4s"):
            return httpx.Response(200, content=b"x" * 1000)
        made = min(int(clock["now"] / 2), 5)  # a 2 s segment made every 2 s, five in all
        lines = [
            "#EXTM3U",
            "#EXT-X-TARGETDURATION:2",
            "#EXT-X-SERVER-CONTROL:PART-HOLD-BACK=1.5",
            "#EXT-X-PART-INF:PART-TARGET=0.5",
        ]
        lines += [f"#EXTINF:2,\ns{n}.m4s" for n in range(made)]
        lines += ["#EXT-X-ENDLIST"] if made == 5 else []
        return httpx.Response(200, text="\n".join(lines) + "\n")

    def sleep(seconds: float) -> None:
        clock["now"] += max(0.0, seconds)

    clock["now"] = 6.0
    with httpx.Client(transport=httpx.MockTransport(handle)) as client:
        player = HeadlessPlayer(client, clock=lambda: clock["now"], sleep=sleep)
        report = player.play("http://live.test/lo.m3u8").as_dict()
    assert report["live"]
    assert not report["low_latency"]
    assert report["segments"] == 5  # from three segments behind (0, 1, 2 made) to the end


def test_where_a_position_stands_in_a_playlist() -> None:
    server = LiveServer(ends_after_segments=3)
    server.now = 3.2  # 6 parts: segment 0 whole, 1.0 and 1.1 made
    playlist = parse_media_playlist(server.playlist("lo"))
    assert listed(playlist, 0, 3).uri == "lo-0.3.m4s"  # type: ignore[union-attr]
    assert listed(playlist, 0, 4) is Listed.NEXT
    assert listed(playlist, 1, 1).uri == "lo-1.1.m4s"  # type: ignore[union-attr]
    assert listed(playlist, 1, 2) is Listed.NOT_YET
    assert listed(playlist, 2, 0) is Listed.NOT_YET
    # 1.5 s back from the newest's end starts 0.3, shown once decoded from 0.0
    assert live_start(playlist) == LiveStart(key=(0, 0), start=(0, 3))
    assert made_at(playlist, 1, 1) == pytest.approx(EPOCH + 3.0)
    assert made_at(playlist, 0, 0) == pytest.approx(EPOCH + 0.5)
    assert live_start(parse_media_playlist(LiveServer(3, hold_back_s=9).playlist("lo"))) is None
    short = parse_media_playlist(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-SERVER-CONTROL:PART-HOLD-BACK=6\n"
        '#EXT-X-PART-INF:PART-TARGET=1\n#EXTINF:2,\ns0.m4s\n#EXT-X-PART:DURATION=1,URI="p",'
        'INDEPENDENT=YES\n#EXT-X-PART:DURATION=1,URI="q"\n#EXTINF:2,\ns1.m4s\n'
    )
    oldest = LiveStart(key=(1, 0), start=(1, 0))
    assert live_start(short) == oldest  # parts listed for less than the hold-back
    server.now = 100.0
    ended = parse_media_playlist(server.playlist("lo"))
    assert listed(ended, 3, 0) is Listed.ENDED
    assert listed(ended, 2, 3).uri == "lo-2.3.m4s"  # type: ignore[union-attr]
    gone = parse_media_playlist(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:5\n#EXTINF:2,\ns5.m4s\n"
    )
    assert listed(gone, 4, 0) is Listed.GONE  # before the window
    assert listed(gone, 5, 1) is Listed.GONE  # listed, but no longer its parts
