"""An option's value that begins with a minus sign (a latitude south of the equator, a share
mistyped) is read as the option's value, not refused as an unknown option."""

from __future__ import annotations

from pathlib import Path

from mediacdn.argv import joined_values, valued_options
from mediacdn.cli import build_parser
from tests.support.servers import free_port, run_cli


def test_a_negative_value_is_joined_to_the_option_that_takes_it() -> None:
    options = valued_options(build_parser())
    assert {"--geo", "--capacity", "--lat", "--lon"} <= options
    assert "--quiet" not in options  # (a flag takes no value)
    assert joined_values(["play", "u", "--geo", "-33.9,151.2", "--quiet"], options) == [
        "play", "u", "--geo=-33.9,151.2", "--quiet",
    ]  # fmt: skip
    assert joined_values(["cache", "replay", "f", "--capacity", "-5%"], options)[-1] == (
        "--capacity=-5%"
    )
    # a flag's next word, a value that is no number and anything after -- stay as they are
    assert joined_values(["--quiet", "-5", "--geo", "-x"], options) == [
        "--quiet",
        "-5",
        "--geo",
        "-x",
    ]
    assert joined_values(["--", "--geo", "-1,2"], options) == ["--", "--geo", "-1,2"]
    args = build_parser().parse_args(joined_values(["play", "u", "--geo", "-33.9,151.2"], options))
    assert args.geo == "-33.9,151.2"


def test_commands_read_a_place_south_of_the_equator_and_judge_a_negative_share(
    tmp_path: Path,
) -> None:
    url = f"http://127.0.0.1:{free_port()}/vod/v/master.m3u8"  # (nothing listens there)
    done = run_cli("play", url, "--geo", "-33.9,151.2", timeout_s=60)
    assert "expected one argument" not in done.stderr
    assert "playback failed" in done.stderr + done.stdout
    log = tmp_path / "access.log"
    log.write_text('1.2.3.4 - - [29/Nov/2026:12:00:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "x"\n')
    done = run_cli("cache", "replay", str(log), "--capacity", "-5%", timeout_s=60)
    assert done.returncode != 0
    assert "'-5%' is not a share" in done.stderr
