"""Run ffmpeg, turning its `-progress` output into a progress callback."""

from __future__ import annotations

import subprocess
import threading
from collections import deque
from collections.abc import Callable

from transcoder.errors import TranscodeError

ProgressCallback = Callable[[float], None]


class Cancelled(RuntimeError):
    """The run was cancelled (the worker lost its lease or is shutting down)."""


def parse_progress_line(line: str) -> float | None:
    """Seconds of output written, from a `-progress` line (`out_time_us=...`), else None."""
    key, _, value = line.strip().partition("=")
    if key in ("out_time_us", "out_time_ms"):  # both are microseconds in ffmpeg >= 4
        try:
            micros = int(value)
        except ValueError:
            return None
        return max(0.0, micros / 1_000_000)
    return None


def run_ffmpeg(
    argv: list[str],
    *,
    duration_s: float,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    timeout_s: float | None = None,
) -> None:
    """Run to completion; raise TranscodeError with the stderr tail on failure."""
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
    )
    stderr_tail: deque[str] = deque(maxlen=40)

    def drain_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            stderr_tail.append(line)

    reader = threading.Thread(target=drain_stderr, daemon=True)
    reader.start()
    killer: threading.Timer | None = None
    if timeout_s is not None:
        killer = threading.Timer(timeout_s, proc.kill)
        killer.start()
    watcher: threading.Thread | None = None
    if cancel is not None:

        def watch() -> None:
            while proc.poll() is None:
                if cancel.wait(0.2):
                    proc.kill()
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            done_s = parse_progress_line(line)
            if done_s is not None and on_progress is not None and duration_s > 0:
                on_progress(min(1.0, done_s / duration_s))
        returncode = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if killer is not None:
            killer.cancel()
        reader.join(timeout=5)
        for pipe in (proc.stdout, proc.stderr):  # a worker runs many jobs: no fd may leak
            if pipe is not None:
                pipe.close()
    if cancel is not None and cancel.is_set():
        raise Cancelled("ffmpeg was stopped")
    if returncode != 0:
        raise TranscodeError(argv, returncode, "".join(stderr_tail))
