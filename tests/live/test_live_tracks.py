"""Which of a returning encoder's audio tracks goes on in which of a broadcast's renditions,
and the ffmpeg maps that make it so."""

from __future__ import annotations

import logging

import pytest

from transcoder.live_command import LiveEncode, LiveRung, build_live_argv
from transcoder.live_tracks import audio_names, matched_tracks, say_what_sound_goes_on


@pytest.mark.parametrize(
    ("broadcast", "came", "sources"),
    [
        (["eng", "fra"], ["eng", "fra"], [0, 1]),  # the same tracks
        (["eng", "fra"], ["fra", "eng"], [1, 0]),  # in another order
        (["eng", "fra"], ["fra"], [None, 0]),  # French only: English is silence
        (["eng", "fra"], ["eng"], [0, None]),
        (["eng", "fra"], [], [None, None]),  # without sound
        (["eng", "fra"], ["eng", "fra", "deu"], [0, 1]),  # one more: left out
        (["eng", "fra"], ["und", "und"], [0, 1]),  # tracks that do not say: in order
        (["eng", "fra"], ["fra", "und"], [1, 0]),  # the one that does not say, where left
        (["eng", "fra"], ["deu"], [0, None]),  # another language: the first left
        (["und", "und"], ["eng", "und"], [0, 1]),  # a broadcast that did not say: in order
        (["eng", "eng"], ["eng", "eng"], [0, 1]),  # two of one language: in order
        (["eng", "eng"], ["eng"], [0, None]),
        ([], ["eng"], []),  # a broadcast without sound stays so
    ],
)
def test_each_rendition_goes_on_with_its_own_languages_track(
    broadcast: list[str], came: list[str], sources: list[int | None]
) -> None:
    assert matched_tracks(broadcast, came) == sources


def test_each_audio_output_maps_its_source_or_silence() -> None:
    encode = LiveEncode(2.0, 0.5, (LiveRung("360p", 360, 800_000),))
    argv = build_live_argv("ffmpeg", encode, [3], [4, 5, 6], 30, sources=[1, None, 0])
    maps = [argv[i + 1] for i, a in enumerate(argv) if a == "-map"][1:]
    assert maps == ["0:a:1", "1:a:0", "0:a:0"]
    assert argv.count("lavfi") == 1  # the silence, once
    assert "lavfi" not in build_live_argv("ffmpeg", encode, [3], [4, 5], 30)
    with pytest.raises(ValueError, match="a source per audio pipe"):
        build_live_argv("ffmpeg", encode, [3], [4, 5], 30, sources=[0])


def test_audio_renditions_are_numbered_after_the_first() -> None:
    assert audio_names(3) == ["audio", "audio2", "audio3"]


@pytest.mark.parametrize(
    ("came", "said"),
    [
        (["eng", "fra"], None),  # the same tracks: nothing to say
        (["fra"], "English: silence, Français: its track 1 (Français)"),
        (["deu", "spa"], "English: its track 1 (Deutsch), Français: its track 2 (Español)"),
        (["eng", "fra", "deu"], "1 left out"),
    ],
)
def test_an_encoder_back_with_other_tracks_is_logged_with_where_each_goes(
    caplog: pytest.LogCaptureFixture, came: list[str], said: str | None
) -> None:
    broadcast = ["eng", "fra"]
    with caplog.at_level(logging.WARNING, logger="mediacdn.live"):
        say_what_sound_goes_on("s1", broadcast, came, matched_tracks(broadcast, came))
    if said is None:
        assert not caplog.records
    else:
        assert said in caplog.text
