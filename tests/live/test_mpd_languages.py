"""The languages an encoder's MPD gives its tracks: the MPD ffmpeg's dash muxer writes, and
the other ways an MPD may name a Representation's init segment and language."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from transcoder.mpd_languages import init_languages
from transcoder.tools import tool_env


def test_the_languages_of_ffmpegs_dash_muxer(ffmpeg: str, tmp_path: Path) -> None:
    sources = ["-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25:duration=2"]
    sources += ["-f", "lavfi", "-i", "sine=duration=2", "-f", "lavfi", "-i", "sine=duration=2"]
    maps = ["-map", "0:v", "-map", "1:a", "-map", "2:a"]
    tags = ["-metadata:s:a:0", "language=fra", "-metadata:s:a:1", "language=deu"]
    dash = ["-f", "dash", "-seg_duration", "1", "live.mpd"]
    subprocess.run(
        [ffmpeg, "-v", "error", *sources, *maps, "-c:v", "libx264", "-c:a", "aac", *tags, *dash],
        cwd=tmp_path,
        env=tool_env(),
        check=True,
        timeout=60,
    )
    mpd = (tmp_path / "live.mpd").read_bytes()
    expected = {"init-stream0.m4s": None, "init-stream1.m4s": "fra", "init-stream2.m4s": "deu"}
    assert list(init_languages(mpd, "live.mpd").items()) == list(expected.items())  # in order
    assert init_languages(mpd, "show/live.mpd") == {f"show/{k}": v for k, v in expected.items()}


MPD = """<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic">
  <BaseURL>ingest/</BaseURL>
  <Period>
    <SegmentTemplate initialization="$RepresentationID$/init.mp4" media="$Number$.m4s"/>
    <AdaptationSet contentType="audio" lang="EN-gb">
      <Representation id="a1" bandwidth="128000"/>
      <Representation id="a2" bandwidth="64000" lang="pt-BR">
        <BaseURL>low/</BaseURL>
      </Representation>
    </AdaptationSet>
    <AdaptationSet contentType="audio" lang="spa">
      <SegmentTemplate initialization="audio_$Bandwidth%08d$_init.mp4" media="x"/>
      <Representation id="s" bandwidth="96000"/>
    </AdaptationSet>
    <AdaptationSet contentType="audio" lang="und">
      <Representation id="u" bandwidth="1"/>
    </AdaptationSet>
    <AdaptationSet contentType="audio" lang="English">
      <Representation id="e" bandwidth="1"/>
    </AdaptationSet>
    <AdaptationSet contentType="audio" lang="ita">
      <BaseURL>https://elsewhere.example/</BaseURL>
      <Representation id="i" bandwidth="1"/>
    </AdaptationSet>
    <AdaptationSet contentType="audio" lang="nld">
      <Representation id="l" bandwidth="1">
        <SegmentList><Initialization sourceURL="list/init.m4s"/></SegmentList>
      </Representation>
      <Representation id="f" bandwidth="1" lang="fry">
        <BaseURL>whole-f.mp4</BaseURL>
        <SegmentBase indexRange="0-99"><Initialization range="0-763"/></SegmentBase>
      </Representation>
    </AdaptationSet>
    <AdaptationSet contentType="video">
      <Representation id="v" bandwidth="1"/>
    </AdaptationSet>
  </Period>
</MPD>"""


def test_templates_base_urls_and_tags_as_an_mpd_may_give_them() -> None:
    assert init_languages(MPD.encode(), "live/x.mpd") == {
        # the Period's template, under the MPD's BaseURL, beside the MPD
        "live/ingest/a1/init.mp4": "en-gb",
        # a Representation's own lang, under its own BaseURL too
        "live/ingest/low/a2/init.mp4": "pt-BR",
        # an AdaptationSet's template, a formatted identifier
        "live/ingest/audio_00096000_init.mp4": "spa",
        # `und` and what is no language code say nothing
        "live/ingest/u/init.mp4": None,
        "live/ingest/e/init.mp4": None,
        # an absolute BaseURL names another server: the pushed names are the ones beside
        "live/ingest/i/init.mp4": "ita",
        # a SegmentList's Initialization, and one that is a range of the BaseURL's file
        # (ffmpeg's dash muxer with -use_template 0, and with -single_file 1)
        "live/ingest/list/init.m4s": "nld",
        "live/ingest/whole-f.mp4": "fry",
        "live/ingest/v/init.mp4": None,  # a picture, with no lang
    }


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml at all",
        b"<MPD><Period><AdaptationSet lang='fra'>",  # cut short
        b"<Playlist/>",
        # entities are not expanded: an MPD that declares any says nothing
        b'<?xml version="1.0"?><!DOCTYPE MPD [<!ENTITY l "fra">]>'
        b"<MPD><Period><AdaptationSet lang='&l;'><SegmentTemplate initialization='i.mp4'/>"
        b"<Representation id='1'/></AdaptationSet></Period></MPD>",
    ],
)
def test_what_is_not_an_mpd_says_nothing(body: bytes) -> None:
    assert init_languages(body, "live.mpd") == {}
