"""HTTP caching conformance: the public cache-tests suite (npm `http-cache-tests`, the suite
behind cache-tests.fyi) run against our POP and against nginx's proxy_cache, both in front of
the suite's own origin server. Prints how many of the required tests each passes, and lists
our failures.

Target: ≥ 140 of the required tests (nginx 1.22 passes 94)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, require_tools, start_mediacdn_server
from tests.support.servers import free_port, stop_process, wait_until

PACKAGE = "http-cache-tests@0.4.5"
SUITE_DIR = Path(__file__).resolve().parent.parent / "build" / "cache-tests"
SCORE = """
import fs from 'fs'
import tests from './tests/index.mjs'
import surrogate from './tests/surrogate-control.mjs'
tests.push(surrogate)
const results = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
const required = []
for (const suite of tests) {
  for (const test of suite.tests) {
    // browser_only tests are for a browser's private cache: the suite's runner skips them
    // against a proxy (a shared cache must do the opposite of what some of them ask)
    if (test.browser_only) continue
    if (test.kind === undefined || test.kind === 'required') required.push(test.id)
  }
}
const failed = required.filter(id => results[id] !== true)
const passed = required.length - failed.length
console.log(JSON.stringify({ required: required.length, passed, failed }))
"""
NGINX_PROXY = """
worker_processes 1;
daemon off;
user root;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    proxy_cache_path {prefix}/cache keys_zone=c:10m;
    server {{
        listen 127.0.0.1:{port};
        location / {{ proxy_pass {upstream}; proxy_cache c; }}
    }}
}}
"""


def suite() -> Path:
    package = SUITE_DIR / "node_modules" / "http-cache-tests"
    if not (package / "cli.mjs").exists():
        SUITE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", PACKAGE],
            cwd=SUITE_DIR,
            check=True,
        )
    (package / "score.mjs").write_text(SCORE)
    return package


def run_suite(package: Path, base: str, out: Path) -> dict[str, object]:
    with out.open("w") as f:  # through npm: the suite reads its settings from npm's config
        subprocess.run(
            ["npm", "run", "--silent", "cli", f"--base={base}"],
            cwd=package,
            stdout=f,
            check=True,
            timeout=900,
        )
    scored = subprocess.run(
        ["node", "score.mjs", str(out)], cwd=package, capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(scored.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-nginx", action="store_true", help="skip the nginx anchor")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="the POP's worker processes (default 1, memory only); more share a disk tier, "
        "as a POP is deployed on a machine of several cores",
    )
    args = parser.parse_args()
    if not require_tools("node", "npm") or (not args.no_nginx and not require_tools("nginx")):
        return 1
    package = suite()
    root = Path(tempfile.mkdtemp(prefix="bench-cache-tests-"))
    origin_port, edge_port, nginx_port = free_port(), free_port(), free_port()
    origin = f"http://127.0.0.1:{origin_port}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(
            subprocess.Popen(
                ["node", "server/server.mjs"],
                cwd=package,
                env={
                    **os.environ,
                    "npm_config_port": str(origin_port),
                    "npm_config_protocol": "http",
                    "npm_config_pidfile": str(root / "server.pid"),
                },
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        procs.append(
            start_mediacdn_server(
                root,
                [
                    "edge",
                    "--name",
                    "pop",
                    "--upstream",
                    origin,
                    "--port",
                    str(edge_port),
                    "--admin-key",
                    "bench-admin",
                    "--workers",
                    str(args.workers),
                    *(["--cache-dir", str(root / "cache")] if args.workers > 1 else []),
                ],
                log="edge.log",
            )
        )
        for url in (origin + "/", f"http://127.0.0.1:{edge_port}/healthz"):
            wait_until(lambda u=url: _answers(u), 30, url)
        results = {"ours": run_suite(package, f"http://127.0.0.1:{edge_port}", root / "ours.json")}
        if not args.no_nginx:
            (root / "nginx.conf").write_text(
                NGINX_PROXY.format(prefix=root, port=nginx_port, upstream=origin)
            )
            procs.append(
                subprocess.Popen(
                    ["nginx", "-c", str(root / "nginx.conf"), "-p", str(root)],
                    start_new_session=True,
                )
            )
            wait_until(lambda: _answers(f"http://127.0.0.1:{nginx_port}/"), 10, "nginx")
            results["nginx"] = run_suite(
                package, f"http://127.0.0.1:{nginx_port}", root / "nginx.json"
            )
    finally:
        for proc in procs:
            stop_process(proc)
        shutil.rmtree(root, ignore_errors=True)
    print(f"machine: {machine()}; {PACKAGE}; our POP with {args.workers} worker(s)")
    for name, r in results.items():
        print(f"  {name:6s} {r['passed']} of {r['required']} required tests pass")
    ours = results["ours"]
    passed = int(str(ours["passed"]))
    print(f"  ours: {'met' if passed >= 140 else 'NOT met'} (target >= 140)")
    failed = ours["failed"]
    assert isinstance(failed, list)
    print("  our failures: " + ", ".join(str(f) for f in failed))
    return 0


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
        return True
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    raise SystemExit(main())
