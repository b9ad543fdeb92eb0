"""Container sniffing (what ffmpeg may open) and settings loading."""

from __future__ import annotations

from pathlib import Path

import pytest

from origin.settings import Secret, load_settings
from transcoder.sniff import sniff_audio_demuxer, sniff_demuxer


@pytest.mark.parametrize(
    ("head", "demuxer"),
    [
        pytest.param(b"\x00\x00\x00\x20ftypisom" + b"\x00" * 100, "mov", id="mp4"),
        pytest.param(b"\x1a\x45\xdf\xa3" + b"\x00" * 100, "matroska", id="mkv"),
        pytest.param(b"RIFF\x00\x00\x00\x00AVI LIST", "avi", id="avi"),
        pytest.param(
            b"G" + b"\x00" * 187 + b"G" + b"\x00" * 187 + b"G" + b"\x00" * 200, "mpegts", id="ts"
        ),
        pytest.param(b"#EXTM3U\n#EXTINF:4,\nseg.ts\n", None, id="hls-playlist"),
        pytest.param(b"ffconcat version 1.0\nfile /etc/passwd\n", None, id="concat-list"),
        pytest.param(b"<?xml version='1.0'?><MPD>", None, id="dash-manifest"),
        pytest.param(b"hello, this is text", None, id="text"),
        pytest.param(b"", None, id="empty"),
    ],
)
def test_sniff_demuxer(head: bytes, demuxer: str | None) -> None:
    assert sniff_demuxer(head) == demuxer


def test_audio_files() -> None:
    assert sniff_audio_demuxer(b"RIFF\x00\x00\x00\x00WAVEfmt ") == "wav"
    assert sniff_audio_demuxer(b"fLaC\x00") == "flac"
    assert sniff_audio_demuxer(b"#EXTM3U") is None


def test_settings_defaults_env_and_toml(tmp_path: Path) -> None:
    defaults = load_settings({})
    assert defaults.port == 8080
    assert defaults.segment_duration_s == 4.0
    assert defaults.resolved_database_url.startswith("sqlite:////")
    assert defaults.resolved_storage_url.startswith("file:///")
    config = tmp_path / "c.toml"
    config.write_text('port = 9000\nladder = "720:2800,360:800"\napi_keys = ["a", "b"]\n')
    settings = load_settings({"MEDIACDN_CONFIG": str(config), "MEDIACDN_PORT": "9100"})
    assert settings.port == 9100  # the environment wins over the file
    assert [r.height for r in settings.ladder_policy.rungs] == [720, 360]
    assert settings.api_keys == ("a", "b")


def test_secrets_never_show_in_reprs() -> None:
    settings = load_settings(
        {"MEDIACDN_API_KEYS": "supersecret1", "MEDIACDN_S3_SECRET_KEY": "supersecret2"}
    )
    assert "supersecret" not in repr(settings)
    assert isinstance(settings.s3_secret_key, Secret)
    assert settings.s3_secret_key == "supersecret2"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MEDIACDN_SEGMENT_DURATION_S": "11"}, "between 2 and 10"),
        ({"MEDIACDN_LADDER": "720"}, "rung"),
        ({"MEDIACDN_PORT": "abc"}, "invalid literal"),
    ],
)
def test_bad_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_settings(env)
