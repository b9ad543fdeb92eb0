"""A bounded flood of unsigned heartbeats, from 127.0.0.2 (not the POPs' address), as a
separate process: `python -m tests.support.beatflood URL RATE SECONDS` prints
`sent refused seconds`. Raw HTTP/1.1 on 8 kept-alive connections, so that the flood itself
costs little CPU. Loopback only."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from urllib.parse import urlsplit

CONNECTIONS = 8


async def flood(url: str, rate: float, seconds: float) -> tuple[int, int, float]:
    parts = urlsplit(url)
    if parts.hostname is None or not parts.hostname.startswith("127."):
        raise SystemExit("floods go to loopback only")
    body = json.dumps({"name": "paris", "url": "http://x.example", "lat": 1, "lon": 2}).encode()
    request = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    counts = {"sent": 0, "refused": 0}
    start = time.monotonic()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(
            parts.hostname, parts.port, local_addr=("127.0.0.2", 0)
        )
        while time.monotonic() - start < seconds:
            wait = start + counts["sent"] / rate - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            counts["sent"] += 1
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            await reader.readexactly(length)
            counts["refused"] += int(head.split()[1]) >= 400
        writer.close()

    await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
    return counts["sent"], counts["refused"], time.monotonic() - start


if __name__ == "__main__":
    sent, refused, took = asyncio.run(flood(sys.argv[1], float(sys.argv[2]), float(sys.argv[3])))
    print(sent, refused, round(took, 2))
