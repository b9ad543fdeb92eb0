"""DNS routing with a real router process, queried with dnspython: the nearest healthy POP's
address for the resolver's location or for the EDNS Client Subnet it sends, a short TTL, SOA
and NS at the zone's apex, and a new answer when that POP dies."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import httpx
import pytest

from edge.router.dns import DnsZone
from tests.support.edges import beating, router_process, write_pop_keys
from tests.support.servers import free_port

ZONE = "cdn.test."
PARIS = {
    "name": "paris",
    "lat": 48.86,
    "lon": 2.35,
    "url": "http://127.0.0.1:1",
    "addresses": ["192.0.2.1", "2001:db8::1"],
}
NEW_YORK = {
    "name": "new-york",
    "lat": 40.71,
    "lon": -74.01,
    "url": "http://127.0.0.1:2",
    "addresses": ["192.0.2.2"],
}
ZONES = {
    "coverageZones": {
        "local": {"network": ["127.0.0.0/8"], "coordinates": {"latitude": 48.8, "longitude": 2.3}},
        "nyc": {"network": ["10.2.0.0/16"], "coordinates": {"latitude": 40.7, "longitude": -74.0}},
    }
}


def ask(port: int, name: str, rdtype: str, subnet: str | None = None) -> dns.message.Message:
    options: list[dns.edns.Option] = []
    if subnet is not None:
        address, prefix = subnet.split("/")
        options = [dns.edns.ECSOption(address, int(prefix))]
    query = dns.message.make_query(name, rdtype, use_edns=0, options=options)
    return dns.query.udp(query, "127.0.0.1", port=port, timeout=2)


def addresses(reply: dns.message.Message) -> set[str]:
    return {r.to_text() for rrset in reply.answer for r in rrset}


@contextmanager
def dns_router(tmp_path: Path) -> Iterator[tuple[str, int]]:
    (tmp_path / "czf.json").write_text(json.dumps(ZONES))
    keys = write_pop_keys(tmp_path / "keys.toml", ["paris", "new-york"])
    port = free_port()
    with router_process(
        tmp_path,
        "--pop-keys",
        str(keys),
        "--allow-enrollment",
        "--coverage-zone",
        str(tmp_path / "czf.json"),
        "--dns-zone",
        ZONE,
        "--dns-port",
        str(port),
        "--dns-ttl",
        "15",
    ) as url:
        yield url, port


def wait_for_pops(router: str, count: int) -> None:
    """Until the router lists `count` POPs (their first beats are in)."""
    with httpx.Client(base_url=router, timeout=5) as http:
        deadline = time.monotonic() + 10
        while len(http.get("/pops").json()["pops"]) < count:
            assert time.monotonic() < deadline, "heartbeats"
            time.sleep(0.1)


def test_dns_answers_with_the_nearest_healthy_pop(tmp_path: Path) -> None:
    with ExitStack() as stack:
        router, port = stack.enter_context(dns_router(tmp_path))
        stack.enter_context(beating(router, NEW_YORK))
        paris = ExitStack()
        paris.enter_context(beating(router, PARIS))
        wait_for_pops(router, 2)

        # The resolver (127.0.0.1) is in Paris's coverage zone.
        a = ask(port, f"video.{ZONE}", "A")
        assert a.rcode() == dns.rcode.NOERROR
        assert a.flags & dns.flags.AA
        assert addresses(a) == {"192.0.2.1"}
        assert all(rrset.ttl == 15 for rrset in a.answer)
        assert addresses(ask(port, f"video.{ZONE}", "AAAA")) == {"2001:db8::1"}

        # A client subnet in New York's zone (RFC 7871): its POP, and the scope echoed.
        ecs = ask(port, f"video.{ZONE}", "A", subnet="10.2.3.0/24")
        assert addresses(ecs) == {"192.0.2.2"}
        echoed = [o for o in ecs.options if isinstance(o, dns.edns.ECSOption)]
        assert echoed
        assert echoed[0].scopelen == 24

        # The zone's apex: SOA and NS; names outside the zone are refused.
        soa = ask(port, ZONE, "SOA")
        assert soa.answer[0].rdtype == dns.rdatatype.SOA
        assert ask(port, ZONE, "NS").answer[0][0].to_text() == f"ns.{ZONE}"
        assert ask(port, "example.org.", "A").rcode() == dns.rcode.REFUSED

        # Paris dies (its beats stop): within the heartbeat timeout the answer moves.
        paris.close()
        deadline = time.monotonic() + 10
        while addresses(ask(port, f"video.{ZONE}", "A")) != {"192.0.2.2"}:
            assert time.monotonic() < deadline, "the answer did not move to New York"
            time.sleep(0.2)


def test_garbage_packets_do_not_stop_the_dns_server(tmp_path: Path) -> None:
    with dns_router(tmp_path) as (_, port):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for junk in (b"", b"\x00", b"\xff" * 600, b"x" * 5000):
                s.sendto(junk, ("127.0.0.1", port))
        reply = ask(port, ZONE, "SOA")
        assert reply.rcode() == dns.rcode.NOERROR
        # No POP has beaten yet: A queries have no healthy POP to name.
        assert ask(port, f"a.{ZONE}", "A").rcode() == dns.rcode.SERVFAIL


@pytest.mark.parametrize(
    ("zone", "nameserver", "said"),
    [
        ("cdn..example.", "", "--dns-zone 'cdn..example.' is no DNS name"),
        ("a" * 64 + ".example.", "", "is no DNS name: A DNS label is > 63 octets"),
        ("cdn.example.", "ns..cdn.example.", "--dns-ns 'ns..cdn.example.' is no DNS name"),
    ],
)
def test_a_zone_or_nameserver_that_is_no_dns_name_is_refused(
    zone: str, nameserver: str, said: str
) -> None:
    """Refused as the router starts, not on every query answered."""
    with pytest.raises(ValueError, match=re.escape(said)):
        DnsZone(zone, nameserver=nameserver)


def tcp_exchange(port: int, frames: list[bytes], replies: int) -> list[dns.message.Message]:
    """Send `frames` (each a length-prefixed message or junk) on one TCP connection and read
    `replies` answers from it."""
    answers = []
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(b"".join(frames))
        stream = s.makefile("rb")
        for _ in range(replies):
            length = int.from_bytes(stream.read(2))
            answers.append(dns.message.from_wire(stream.read(length)))
        assert stream.read(1) == b"", "the server closes a connection after junk"
    return answers


def framed(message: dns.message.Message) -> bytes:
    wire = message.to_wire()
    return len(wire).to_bytes(2) + wire


def test_dns_over_tcp_and_queries_it_must_not_answer_as_asked(tmp_path: Path) -> None:
    with ExitStack() as stack:
        router, port = stack.enter_context(dns_router(tmp_path))
        stack.enter_context(beating(router, NEW_YORK))
        stack.enter_context(beating(router, PARIS))
        wait_for_pops(router, 2)

        # TCP (RFC 7766), as a resolver retries a truncated answer: the same answer as UDP.
        query = dns.message.make_query(f"video.{ZONE}", "A")
        over_tcp = dns.query.tcp(query, "127.0.0.1", port=port, timeout=2)
        assert addresses(over_tcp) == {"192.0.2.1"}
        # Several queries on one connection (pipelined), then junk: answered, then closed.
        aaaa = dns.message.make_query(f"video.{ZONE}", "AAAA")
        ecs = dns.message.make_query(
            f"video.{ZONE}", "A", use_edns=0, options=[dns.edns.ECSOption("10.2.3.0", 24)]
        )
        junk = (5000).to_bytes(2) + b"x" * 50
        got = tcp_exchange(port, [framed(aaaa), framed(ecs), junk], replies=2)
        assert [addresses(m) for m in got] == [{"2001:db8::1"}, {"192.0.2.2"}]
        assert [m.id for m in got] == [aaaa.id, ecs.id]

        # A response is never answered (two servers could bounce it between them for ever).
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.5)
            s.sendto(dns.message.make_response(query).to_wire(), ("127.0.0.1", port))
            with pytest.raises(TimeoutError):
                s.recv(4096)

        # EDNS version 1 is not spoken here: BADVERS with an OPT of version 0 (RFC 6891).
        v1 = dns.message.make_query(f"video.{ZONE}", "A", use_edns=1)
        reply = dns.query.udp(v1, "127.0.0.1", port=port, timeout=2)
        assert reply.rcode() == dns.rcode.BADVERS
        assert reply.edns == 0
        assert not reply.answer

        # A client subnet of prefix 0 names nobody: the resolver (Paris's zone) is placed.
        zero = ask(port, f"video.{ZONE}", "A", subnet="0.0.0.0/0")
        assert addresses(zero) == {"192.0.2.1"}
        assert [o.scopelen for o in zero.options if isinstance(o, dns.edns.ECSOption)] == [0]


def test_a_udp_answer_too_big_for_the_querier_is_truncated() -> None:
    """512 bytes without EDNS (RFC 1035 §4.2.1), else the querier's buffer up to ours: past
    that the answer goes out empty with TC, and whole over TCP."""
    from edge.router.dns import DnsAnswerer
    from edge.router.registry import Heartbeat, PopRegistry
    from edge.router.routing import Pop, PopLoad, RoutingPolicy

    registry = PopRegistry(allow_enrollment=True)
    many = tuple(f"2001:db8::{i:x}" for i in range(1, 41))  # more than a beat may carry
    pop = Pop("paris", 48.86, 2.35)
    registry.heartbeat(Heartbeat(pop, "http://127.0.0.1:1", PopLoad(0, 0.0), 0.0, many))
    answerer = DnsAnswerer(DnsZone(ZONE), registry, RoutingPolicy(), None, clock=lambda: 0.0)

    plain = dns.message.make_query(f"video.{ZONE}", "AAAA").to_wire()
    small = answerer.answer(plain, "127.0.0.1")
    assert small is not None
    assert len(small) <= 512
    cut = dns.message.from_wire(small)
    assert cut.flags & dns.flags.TC
    assert not cut.answer

    whole = answerer.answer(plain, "127.0.0.1", tcp=True)
    assert whole is not None
    assert len(addresses(dns.message.from_wire(whole))) == 40
    big = dns.message.make_query(f"video.{ZONE}", "AAAA", use_edns=0, payload=4096).to_wire()
    fits = answerer.answer(big, "127.0.0.1")
    assert fits is not None
    assert len(addresses(dns.message.from_wire(fits))) == 40


def test_a_port_picked_for_udp_that_tcp_cannot_have_is_picked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Port 0: the system picks UDP's port, and a connection's local end may hold the same
    TCP port; the server picks again rather than failing to start."""
    import asyncio

    from edge.router import dns as router_dns
    from edge.router.registry import PopRegistry
    from edge.router.routing import RoutingPolicy

    real = asyncio.start_server
    taken: list[int] = []

    async def first_taken(*args: object, **kwargs: object) -> asyncio.Server:
        if not taken:
            taken.append(int(str(args[2])))
            raise OSError(98, "address already in use")
        return await real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(asyncio, "start_server", first_taken)
    answerer = router_dns.DnsAnswerer(DnsZone(ZONE), PopRegistry(), RoutingPolicy(), None)

    async def run() -> tuple[int, int]:
        server = await router_dns.serve_dns(answerer, "127.0.0.1", 0)
        try:
            sockets = server.tcp.sockets
            return server.port, int(sockets[0].getsockname()[1])
        finally:
            server.close()

    udp_port, tcp_port = asyncio.run(run())
    assert taken
    assert udp_port == tcp_port
    assert udp_port != taken[0]
