"""The deployment files are checked by the tools that will read them: the compose file by
`docker-compose config`, the systemd units by `systemd-analyze verify`; and every mediacdn
command line in them parses with the real argument parser, so no flag in them is misspelt
or gone."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mediacdn.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "deploy" / "compose" / "docker-compose.yml"
UNITS = ROOT / "deploy" / "systemd"
MEDIACDN = Path(sys.executable).with_name("mediacdn")
# what each unit's environment file would hold, for parsing its command line
UNIT_ARGS = {"EDGE_ARGS": "--upstream http://origin:8080", "ROUTER_ARGS": ""}


def parses(argv: list[str]) -> None:
    """Fails the test (argparse exits) if `argv` is not a valid mediacdn command line."""
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"mediacdn {shlex.join(argv)} does not parse ({exc.code})")


def test_the_compose_file_is_valid_and_its_commands_parse() -> None:
    tool = shutil.which("docker-compose")
    assert tool, "make test installs Debian's docker-compose"
    checked = subprocess.run(
        [tool, "-f", str(COMPOSE), "config"], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stderr
    services = yaml.safe_load(checked.stdout)["services"]
    assert {"postgres", "seaweedfs", "redis", "origin", "worker", "router"} <= set(services)
    ours = {n: s for n, s in services.items() if s.get("image") == "mediacdn:latest"}
    assert sum(1 for s in ours.values() if s["command"][0] == "edge") >= 2
    for name, service in ours.items():
        parses(["--log-format", "json", *service["command"]])
        keys = (ROOT / "deploy" / "compose" / "pop-keys.toml").read_text()
        if service["command"][0] == "edge":  # the router knows its heartbeat key
            assert service["environment"]["MEDIACDN_POP_KEY"] in keys, name


def test_the_systemd_units_verify_and_their_commands_parse(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze (Debian's systemd) is needed"
    units = []
    for unit in sorted(UNITS.glob("*.service")):
        text = unit.read_text()
        # here: this checkout's mediacdn, and the environment files (on the hosts) optional
        text = text.replace("/opt/mediacdn/.venv/bin/mediacdn", str(MEDIACDN))
        text = text.replace("EnvironmentFile=", "EnvironmentFile=-")
        name = unit.name.replace("@.", "@one.")  # a template, as one instance
        (tmp_path / name).write_text(text)
        units.append(str(tmp_path / name))
        exec_start = next(ln for ln in text.splitlines() if ln.startswith("ExecStart="))
        argv = shlex.split(exec_start.removeprefix("ExecStart=").replace("%i", "one"))[1:]
        argv = [a for arg in argv for a in shlex.split(UNIT_ARGS.get(arg[1:], arg))]
        parses(argv)
    assert len(units) == 4
    verified = subprocess.run(
        [tool, "verify", "--man=no", *units], capture_output=True, text=True, timeout=60
    )
    said = (verified.stdout + verified.stderr).strip()
    assert verified.returncode == 0, said
    assert said == "", said  # unknown keys and unparsable values are only warned of
