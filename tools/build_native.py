"""Compile the cache-replay hot path with mypyc, in place (run by `make`).

The modules' shared runtime library is named inside the `edge` package (`group_name`), so the
compiled modules import from any working directory, not only the repository's root."""

from __future__ import annotations

import sys

from mypyc.build import mypycify
from setuptools import setup  # type: ignore[import-untyped]

setup(
    name="mediacdn-native",
    ext_modules=mypycify(sys.argv[1:], group_name="edge.native"),
    script_args=["build_ext", "--inplace"],
)
