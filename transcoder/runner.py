"""Run ffmpeg, turning its `-progress` output into a progress callback.

Each ffmpeg runs in a process group of its own, under a memory limit, and dies with the
thread that started it (Linux: PR_SET_PDEATHSIG), so a worker that stops or crashes leaves no
encoder behind; cancelling kills the whole group."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from httprules.lifecycle import LIBC, PR_SET_PDEATHSIG
from transcoder.errors import TranscodeError
from transcoder.limits import LimitsExceeded
from transcoder.tools import tool_env

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


def child_setup(memory_bytes: int | None) -> Callable[[], None]:
    """Runs in the child before exec: only async-signal-safe work (no imports, no locks)."""
    prctl = LIBC.prctl if LIBC is not None else None

    def setup() -> None:
        if memory_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    return setup


def tool_process(memory_bytes: int | None, pass_fds: tuple[int, ...] = ()) -> dict[str, Any]:
    """How every ffmpeg starts: no stdin, stderr piped, in a group of its own, under a memory
    limit, dying with its parent, in the tools' environment."""
    return {
        "stdin": subprocess.DEVNULL,
        "stderr": subprocess.PIPE,
        "process_group": 0,
        "env": tool_env(),
        "pass_fds": pass_fds,
        "preexec_fn": child_setup(memory_bytes),  # nothing in it takes a lock
    }


def kill_group(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_ffmpeg(
    argv: list[str],
    *,
    duration_s: float,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    timeout_s: float | None = None,
    memory_mb: int | None = None,
    max_output_s: float | None = None,
) -> None:
    """Run to completion; raise TranscodeError with the stderr tail on failure, LimitsExceeded
    when it runs out of memory or writes more than `max_output_s` seconds of media."""
    memory_bytes = memory_mb << 20 if memory_mb else None
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        text=True,
        errors="replace",
        **tool_process(memory_bytes),
    )
    overran, timed_out = threading.Event(), threading.Event()

    def out_of_time() -> None:
        timed_out.set()
        kill_group(proc)

    stderr_tail: deque[str] = deque(maxlen=40)

    def drain_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            stderr_tail.append(line)

    reader = threading.Thread(target=drain_stderr, daemon=True)
    reader.start()
    killer: threading.Timer | None = None
    if timeout_s is not None:
        killer = threading.Timer(timeout_s, out_of_time)
        killer.start()
    watcher: threading.Thread | None = None
    if cancel is not None:

        def watch() -> None:
            while proc.poll() is None:
                if cancel.wait(0.2):
                    kill_group(proc)
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            done_s = parse_progress_line(line)
            if done_s is not None and max_output_s is not None and done_s > max_output_s:
                overran.set()
                kill_group(proc)
            if done_s is not None and on_progress is not None and duration_s > 0:
                on_progress(min(1.0, done_s / duration_s))
        returncode = proc.wait()
    finally:
        if proc.poll() is None:
            kill_group(proc)
            proc.wait()
        if killer is not None:
            killer.cancel()
        reader.join(timeout=5)
        for pipe in (proc.stdout, proc.stderr):  # a worker runs many jobs: no fd may leak
            if pipe is not None:
                pipe.close()
    if cancel is not None and cancel.is_set():
        raise Cancelled("ffmpeg was stopped")
    if overran.is_set():
        raise LimitsExceeded(
            f"the video runs past the {duration_s:.0f} s it declares; stopped at "
            f"{max_output_s:.0f} s"
        )
    tail = "".join(stderr_tail)
    # ffmpeg reports a failed allocation, or (the static build) crashes on one
    crashed = returncode in (-signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS)
    if returncode != 0 and memory_bytes and (crashed or "alloc" in tail.lower()):
        raise LimitsExceeded(f"the encode needed more than {memory_mb} MiB of memory")
    if timed_out.is_set():
        raise LimitsExceeded(f"the encode took longer than its {timeout_s or 0:.0f} s budget")
    if returncode != 0:
        raise TranscodeError(argv, returncode, tail)
