"""Ctrl-C in a long command (here a replay of a large log) ends it with the shell's 130 and
one line saying so, not a traceback."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path


def test_ctrl_c_ends_a_long_command_quietly(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    with log.open("w") as f:
        for i in range(300_000):
            second = f"{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
            f.write(
                f'10.0.0.1 - - [29/Nov/2026:{second} +0000] "GET /v/{i % 5000}.m4s HTTP/1.1" '
                f'200 {1000 + i % 5000} "-" "hls.js"\n'
            )
    child = subprocess.Popen(
        [sys.executable, "-m", "mediacdn", "cache", "replay", str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2.0)  # reading the log, or replaying it
    assert child.poll() is None, "the replay ended before it could be interrupted"
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 130
    assert "Traceback" not in err
    assert err.rstrip().endswith("mediacdn cache replay: interrupted")
