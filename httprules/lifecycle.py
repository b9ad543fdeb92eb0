"""A server's process hygiene on Linux: a worker process dies with the process that started it
(PR_SET_PDEATHSIG), so killing the PID an operator started, even with SIGKILL, leaves nothing
of it serving; and it gives large freed buffers back to the system."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
M_MMAP_THRESHOLD = -3  # glibc mallopt parameters
M_TRIM_THRESHOLD = -1
LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def die_with_parent(parent_pid: int | None = None) -> None:
    """From now on this process gets SIGKILL when its parent exits. `parent_pid`, if known,
    closes the race where the parent died before this call: then this process exits now."""
    if LIBC is not None:
        LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)


def return_freed_memory(threshold_bytes: int = 1 << 20) -> None:
    """Allocations of `threshold_bytes` or more are mapped and unmapped (glibc would otherwise
    raise this threshold after the first large free and keep freed bodies in the heap), and
    the heap's free top is trimmed past the same size."""
    if LIBC is not None:
        LIBC.mallopt(M_MMAP_THRESHOLD, threshold_bytes)
        LIBC.mallopt(M_TRIM_THRESHOLD, threshold_bytes)
