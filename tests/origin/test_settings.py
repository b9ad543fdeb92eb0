"""Settings: defaults, MEDIACDN_* environment variables over a TOML file, secrets kept out of
reprs, bad values refused."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from origin.settings import Secret, load_settings


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
        ({"MEDIACDN_PORT": "abc"}, "MEDIACDN_PORT: 'abc' is not a whole number"),
        ({"MEDIACDN_JOB_LEASE_S": "soon"}, "MEDIACDN_JOB_LEASE_S: 'soon' is not a number"),
        ({"MEDIACDN_PORT": "65536"}, r"port \(MEDIACDN_PORT\) is 0 to 65535"),
        ({"MEDIACDN_WORKERS": "-1"}, r"workers \(MEDIACDN_WORKERS\) is a number, 0 or more"),
        ({"MEDIACDN_API_RATE": "-0.5"}, r"api_rate \(MEDIACDN_API_RATE\) is a number, 0 or"),
        ({"MEDIACDN_JOB_LEASE_S": "nan"}, r"job_lease_s \(MEDIACDN_JOB_LEASE_S\) is a number"),
        ({"MEDIACDN_JANITOR_STALE_S": "inf"}, "janitor_stale_s .* is a number, 0 or more"),
        (
            {"MEDIACDN_PLAYBACK_RATE_EXEMPT": "10.0.0.0/8, pop-1"},
            r"playback_rate_exempt \(MEDIACDN_PLAYBACK_RATE_EXEMPT\): 'pop-1' is not an",
        ),
    ],
)
def test_bad_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_settings(env)


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ('port = "eighty"', "port: 'eighty' is not a whole number"),
        ("port = 8080.5", "port: 8080.5 is not a whole number"),
        ("workers = true", "workers: True is not a whole number"),
        ("api_rate = false", "api_rate: False is not a number"),
    ],
)
def test_a_setting_in_a_file_that_is_no_number_names_the_file_and_key(
    tmp_path: Path, line: str, said: str
) -> None:
    config = tmp_path / "mediacdn.toml"
    config.write_text(line + "\n")
    with pytest.raises(ValueError, match=re.escape(f"{config}: {said}")):
        load_settings({}, config)


def test_whole_numbers_written_as_floats_are_taken(tmp_path: Path) -> None:
    config = tmp_path / "mediacdn.toml"
    config.write_text("port = 8080.0\napi_rate = 5\n")
    settings = load_settings({}, config)
    assert (settings.port, settings.api_rate) == (8080, 5.0)


ROUTED = ["--router", "http://127.0.0.1:9", "--geo"]


@pytest.mark.parametrize(
    ("command", "env", "said"),
    [
        (["serve"], {"MEDIACDN_PORT": "99999"}, "port (MEDIACDN_PORT) is 0 to 65535"),
        (["serve"], {"MEDIACDN_LOG_LEVEL": "loud"}, "log_level (MEDIACDN_LOG_LEVEL) is one of"),
        (
            ["edge", "--name", "p", "--upstream", "http://127.0.0.1:9"],
            {"MEDIACDN_LOG_LEVEL": "trace", "MEDIACDN_ADMIN_KEYS": "k"},
            "log_level (MEDIACDN_LOG_LEVEL) is one of critical, error, warning, info, debug",
        ),
        (["worker"], {"MEDIACDN_JOB_LEASE_S": "-1"}, "job_lease_s (MEDIACDN_JOB_LEASE_S)"),
        (["serve", "--config", "missing.toml"], {}, "No such file or directory"),
        (["serve", "--port", "70000"], {}, "argument --port: '70000' is not a port"),
        (["serve", "--grace", "-1"], {}, "argument --grace: '-1' is not a number, 0 or more"),
        (["router", "--beat-rate", "0"], {}, "argument --beat-rate: '0' is not a number above"),
        (["worker", "--workers", "0"], {}, "argument --workers: '0' is not a whole number, 1"),
        (["edge", "--name", "p", "--upstream", "http://127.0.0.1:9", "--lat", "91"], {}, "--lat"),
        (
            ["edge", "--name", "p", "--upstream", "http://127.0.0.1:9", "--rate-exempt", "10/40"],
            {},
            "argument --rate-exempt: '10/40' is not an address or a network",
        ),
        (["play", "http://127.0.0.1:9/m.m3u8", *ROUTED, "100,0"], {}, "'100' is not a latitude"),
        (["play", "127.0.0.1:9/m.m3u8"], {}, "give an http:// or https:// URL with a host"),
        (["play", "m.m3u8", *ROUTED, "1,2"], {}, "give the playlist's path (or a URL) to route"),
        (["upload", "v.mp4", "--server", "origin:8080"], {}, "--server: URL 'origin:8080': give"),
        (["upload", "v.mp4", "--segment-duration", "20"], {}, "'20' is not a segment length"),
    ],
)
def test_a_command_with_a_setting_that_cannot_work_stops_saying_why(
    tmp_path: Path, command: list[str], env: dict[str, str], said: str
) -> None:
    """A setting that cannot work, from the environment, a file or the command line, stops
    the command at once with which one and why: not a traceback, nor a server on nonsense."""
    data_dir = [] if command[0] == "play" else ["--data-dir", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", "mediacdn", *command, *data_dir],
        env={**os.environ, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert said in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
