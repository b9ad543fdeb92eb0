"""Start and stop real servers on 127.0.0.1 for tests: SeaweedFS (S3) and the origin."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from mediacdn.ports import free_port as ports_free_port
from mediacdn.ports import pickable_range

S3_ACCESS_KEY = "mediacdn-test-access"
S3_SECRET_KEY = "mediacdn-test-secret-key-0123456789"


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port free now on 127.0.0.1 for a test server to bind later (`mediacdn.ports`): never
    the same one twice in a process, nor one another test process (pytest-xdist's workers) may
    hand out: each has its own slice of the ports below the ephemeral range."""
    ports = pickable_range()
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    width = len(ports) // workers
    low = ports.start + worker % workers * width
    port = ports_free_port("127.0.0.1", range(low, low + width), _HANDED_OUT)
    _HANDED_OUT.add(port)
    return port


def wait_until(check: object, timeout_s: float, what: str, interval_s: float = 0.1) -> None:
    """Poll `check()` until truthy; bounded."""
    assert callable(check)
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as exc:  # the server is not up yet
            last = exc
        time.sleep(interval_s)
    raise TimeoutError(f"{what} not ready after {timeout_s:.0f} s (last error: {last})")


def stop_process(proc: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after a short grace (weed can linger after SIGTERM)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@dataclass(frozen=True)
class SeaweedS3:
    endpoint: str  # host:port
    access_key: str
    secret_key: str

    def storage_url(self, bucket: str) -> str:
        return f"s3://{bucket}?endpoint={self.endpoint}&secure=0"


@contextmanager
def seaweedfs(data_dir: Path) -> Iterator[SeaweedS3]:
    weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    names = ["master", "volume", "filer", "s3", "admin"]
    ports = {name: free_port() for name in names}
    grpc = {name: free_port() for name in names}
    argv = [
        weed,
        "mini",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-admin.ui=false",
        "-webdav=false",
        "-master.telemetry=false",
    ]
    for name in names:
        argv += [f"-{name}.port={ports[name]}", f"-{name}.port.grpc={grpc[name]}"]
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
    }
    log = (data_dir / "weed.log").open("wb")
    proc = subprocess.Popen(
        argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    s3 = SeaweedS3(f"127.0.0.1:{ports['s3']}", S3_ACCESS_KEY, S3_SECRET_KEY)
    try:

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"weed exited: {(data_dir / 'weed.log').read_text()[-2000:]}")
            return httpx.get(f"http://{s3.endpoint}/", timeout=1).status_code in (200, 403)

        wait_until(up, 60, "SeaweedFS S3")
        yield s3
    finally:
        stop_process(proc)
        log.close()


@dataclass(frozen=True)
class OriginServer:
    url: str
    api_key: str
    data_dir: Path
    proc: subprocess.Popen[bytes]

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def run_cli(
    *args: str, timeout_s: float = 120, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """`mediacdn ARGS...` to completion, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "mediacdn", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=check,
    )


def start_mediacdn(
    command: str, data_dir: Path, env: Mapping[str, str], *extra: str, log_name: str = ""
) -> subprocess.Popen[bytes]:
    with (data_dir / f"{log_name or command}.log").open("ab") as log:  # the child keeps a copy
        return subprocess.Popen(
            [sys.executable, "-m", "mediacdn", command, "--data-dir", str(data_dir), *extra],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@contextmanager
def origin_server(
    data_dir: Path, env: Mapping[str, str], api_key: str = "test-key", port: int | None = None
) -> Iterator[OriginServer]:
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    full_env = {"MEDIACDN_API_KEYS": api_key, **env}
    proc = start_mediacdn("serve", data_dir, full_env, "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError((data_dir / "serve.log").read_text()[-3000:])
            # 503: serving, but a dependency is away (a test may want just that)
            return httpx.get(url + "/healthz", timeout=5).status_code in (200, 503)

        wait_until(up, 60, "origin")
        yield OriginServer(url, api_key, data_dir, proc)
    finally:
        stop_process(proc, grace_s=20)
