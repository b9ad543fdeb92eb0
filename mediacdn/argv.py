"""Option values that begin with a minus sign: a place south of the equator (`--geo
-33.9,151.2`), a share mistyped (`--capacity -5%`). argparse takes such a word for an option
unless it is a plain negative number, and says the option before it "expected one argument";
each is joined to the option that takes it (`--geo=-33.9,151.2`), so that the value is read,
and judged, as the option's own."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence

_SIGNED = re.compile(r"-\.?\d")  # a minus sign, then a number: no option of ours looks so


def valued_options(parser: argparse.ArgumentParser) -> frozenset[str]:
    """The long options of `parser` and its subcommands' parsers that take a value."""
    found: set[str] = set()
    parsers = [parser]
    while parsers:
        for action in parsers.pop()._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
            elif action.nargs != 0:
                found.update(name for name in action.option_strings if name.startswith("--"))
    return frozenset(found)


def joined_values(argv: Sequence[str], options: frozenset[str]) -> list[str]:
    """`argv` with each value that starts with a minus sign and a number joined to the option
    before it, where that option takes a value (nothing after `--` is touched)."""
    out: list[str] = []
    for at, word in enumerate(argv):
        if word == "--":
            return out + list(argv[at:])
        if out and out[-1] in options and _SIGNED.match(word):
            out[-1] = f"{out[-1]}={word}"
        else:
            out.append(word)
    return out
