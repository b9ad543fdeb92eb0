"""README's CLI table names every command and every option each command takes, and no option
it does not; its settings table names every setting: the tables are what an operator reads
before `--help`."""

from __future__ import annotations

import argparse
import dataclasses
import re
import shlex
from pathlib import Path

from edge.sim.arguments import REPLAY_EXAMPLES
from edge.sim.cachereplay import parse_capacities, parse_policies
from edge.sim.columns import parse_columns
from mediacdn.cli import build_parser
from origin.settings import Settings

README = Path(__file__).resolve().parent.parent / "README.md"
# options every command shares, explained once under "Settings", not in each row
SHARED = frozenset({"--help", "--config", "--data-dir", "--verbose", "--log-format"})
ROW = re.compile(r"^\| `mediacdn ([a-z]+)(?: ([a-z]+)\b)?([^`]*)` \|", re.M)


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Each command's parser by its name ("cache replay" for a command's own commands)."""
    out: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                inner = _commands(sub)
                out |= {f"{name} {n}": p for n, p in inner.items()} if inner else {name: sub}
    return out


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {o for a in parser._actions for o in a.option_strings if o.startswith("--")}


def test_the_cli_table_lists_every_command_and_option() -> None:
    commands = _commands(build_parser())
    rows: dict[str, set[str]] = {}
    for name, sub, rest in ROW.findall(README.read_text()):
        command = f"{name} {sub}" if sub and f"{name} {sub}" in commands else name
        rows[command] = set(re.findall(r"--[a-z][a-z0-9-]*", rest))
    assert sorted(rows) == sorted(commands)
    for command, listed in rows.items():
        options = _options(commands[command])
        assert not (options - listed - SHARED), (
            command,
            "not in README",
            options - listed - SHARED,
        )
        assert not (listed - options), (command, "no such option", listed - options)


def test_the_settings_table_names_every_setting() -> None:
    text = README.read_text()
    names = [f"MEDIACDN_{f.name.upper()}" for f in dataclasses.fields(Settings)]
    assert [name for name in names if f"`{name}`" not in text] == []


def test_the_replays_examples_are_commands_it_takes() -> None:
    """Each example `cache replay --help` ends with parses as the command line it shows, and
    the help shows them as written (one a line, not wrapped)."""
    parser = build_parser()
    help_text = _commands(parser)["cache replay"].format_help()
    assert REPLAY_EXAMPLES in help_text
    examples: list[str] = []
    continued = False
    for line in REPLAY_EXAMPLES.splitlines()[1:]:
        command = re.split(r"\s{3,}", line.strip())[0]  # (what it does, three spaces on)
        if continued:
            examples[-1] += " " + command
        elif line.startswith("  ") and not line.startswith("   "):
            examples.append(command.split("|")[-1].strip())  # (after what pipes into it)
        continued = command.endswith("\\")
        examples[-1] = examples[-1].removesuffix("\\")
    assert len(examples) == 5, examples
    assert examples[-1].endswith("obj-size-col=Bytes, has-header=true'"), examples
    for example in examples:
        args = parser.parse_args(shlex.split(example)[1:])
        assert args.func.__name__ == "cmd_cache_replay", example
        assert args.files, example
        parse_policies(args.policy)  # (their values as the replay reads them)
        parse_capacities(args.capacity, 10**12)
        if args.columns is not None:
            parse_columns(args.columns)
