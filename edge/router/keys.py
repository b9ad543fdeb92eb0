"""The POPs' heartbeat keys, as the router holds them: a TOML file of `name = "key"` under
`[pops]`. A POP proves who it is by signing each beat with its key (edge/wire.py)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from edge.wire import WireError, check_pop_name

MIN_KEY_CHARS = 16


class KeyFileError(ValueError):
    pass


def parse_pop_keys(data: object) -> dict[str, str]:
    pops = data.get("pops") if isinstance(data, dict) else None
    if not isinstance(pops, dict):
        raise KeyFileError('the key file needs a [pops] table of name = "key"')
    keys: dict[str, str] = {}
    for name, key in pops.items():
        try:
            check_pop_name(name)
        except WireError as exc:
            raise KeyFileError(str(exc)) from None
        if not isinstance(key, str) or len(key) < MIN_KEY_CHARS:
            raise KeyFileError(f"POP {name}: a key of at least {MIN_KEY_CHARS} characters")
        keys[name] = key
    return keys


def load_pop_keys(path: Path) -> dict[str, str]:
    try:
        with path.open("rb") as f:
            return parse_pop_keys(tomllib.load(f))
    except tomllib.TOMLDecodeError as exc:
        raise KeyFileError(f"{path}: {exc}") from None
