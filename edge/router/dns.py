"""DNS routing: the router answers A/AAAA queries for names in its zone with the addresses of
the best POP for the querier, by the same decision as HTTP routing (edge/router/routing.py).
The querier is placed by the EDNS Client Subnet option when the resolver sends one (RFC 7871),
else by the resolver's own address, through the coverage zones. The zone's apex has SOA and NS.
Queries come over UDP and over TCP (RFC 7766: an authoritative server must take both; a
resolver retries over TCP when a UDP answer is truncated, and some always use it).
Packets are read and written with dnspython; `DnsAnswerer.answer` is pure (no I/O)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from edge.router.coverage import CoverageZones
from edge.router.registry import PopRegistry
from edge.router.routing import RoutingPolicy, choose_pop

log = logging.getLogger("mediacdn.router.dns")
MAX_QUERY_BYTES = 4096
OUR_UDP_PAYLOAD = 1232  # the EDNS buffer size advertised (DNS Flag Day 2020: no fragments)
TCP_IDLE_S = 10.0  # a TCP connection with no query for this long is closed (RFC 7766 §6.2.3)
MAX_TCP_CONNECTIONS = 256


@dataclass(frozen=True, slots=True)
class DnsZone:
    name: str  # e.g. "cdn.example."
    ttl_s: int = 20
    nameserver: str = ""  # the NS of the zone (default ns.<zone>)
    soa_ttl_s: int = 300

    def __post_init__(self) -> None:
        for option, text in (("--dns-zone", self.name), ("--dns-ns", self.nameserver)):
            if not text:  # no --dns-ns: ns.<zone>
                continue
            try:
                dns.name.from_text(text)
            except dns.exception.DNSException as exc:
                raise ValueError(f"{option} {text!r} is no DNS name: {exc}") from None

    @property
    def origin(self) -> dns.name.Name:
        return dns.name.from_text(self.name)

    @property
    def ns(self) -> dns.name.Name:
        if self.nameserver:
            return dns.name.from_text(self.nameserver)
        return dns.name.from_text("ns", origin=self.origin)


class DnsAnswerer:
    def __init__(
        self,
        zone: DnsZone,
        registry: PopRegistry,
        policy: RoutingPolicy,
        zones: CoverageZones | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.zone = zone
        self.registry = registry
        self.policy = policy
        self.zones = zones
        self.clock = clock
        self.answered = 0

    def answer(self, wire: bytes, resolver: str, tcp: bool = False) -> bytes | None:
        """The response to one query from `resolver`'s address, over UDP or TCP; None to drop
        (not a DNS query). Over UDP it fits the querier's buffer (512 bytes without EDNS), or
        is sent truncated (TC) so the querier asks again over TCP (RFC 1035 §4.2.1)."""
        if len(wire) > MAX_QUERY_BYTES:
            return None
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if query.flags & dns.flags.QR:  # a response: answering it could start a loop
            return None
        response = self._respond(query, resolver)
        if tcp:
            return response.to_wire()
        limit = max(512, min(query.payload, OUR_UDP_PAYLOAD)) if query.edns >= 0 else 512
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            response.answer.clear()
            response.authority.clear()
            response.additional.clear()
            response.flags |= dns.flags.TC
            return response.to_wire(max_size=limit)

    def _respond(self, query: dns.message.Message, resolver: str) -> dns.message.Message:
        response = dns.message.make_response(query, our_payload=OUR_UDP_PAYLOAD)
        response.flags |= dns.flags.AA
        if query.edns > 0:  # RFC 6891 §6.1.3: only EDNS version 0 is spoken here
            response.use_edns(0, payload=OUR_UDP_PAYLOAD)
            response.set_rcode(dns.rcode.BADVERS)
            return response
        if query.opcode() != 0 or len(query.question) != 1:
            response.set_rcode(dns.rcode.NOTIMP if query.opcode() != 0 else dns.rcode.FORMERR)
            return response
        question = query.question[0]
        name, rdtype = question.name, question.rdtype
        origin = self.zone.origin
        if not name.is_subdomain(origin) or question.rdclass != dns.rdataclass.IN:
            response.flags &= ~dns.flags.AA
            response.set_rcode(dns.rcode.REFUSED)
            return response
        subnet = _client_subnet(query)
        if subnet is not None:  # RFC 7871 §7.2.1: echo the option with the scope we used
            response.use_edns(0, options=[subnet])
        if name == origin and rdtype in (dns.rdatatype.SOA, dns.rdatatype.NS):
            response.answer.append(self._apex(rdtype))
        elif rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.ANY):
            # A source prefix of 0 carries no address (RFC 7871 §7.1.2): place the resolver.
            placed = subnet.address if subnet is not None and subnet.srclen else resolver
            addresses = self._addresses(placed)
            if addresses is None:
                response.set_rcode(dns.rcode.SERVFAIL)  # no healthy POP
                return response
            for wanted, version in ((dns.rdatatype.A, 4), (dns.rdatatype.AAAA, 6)):
                if rdtype not in (wanted, dns.rdatatype.ANY):
                    continue
                found = [a for a in addresses if ipaddress.ip_address(a).version == version]
                if found:
                    response.answer.append(
                        dns.rrset.from_text_list(name, self.zone.ttl_s, "IN", wanted, found)
                    )
        if not response.answer:  # NOERROR with no data: SOA in authority (RFC 2308 §2.2)
            response.authority.append(self._apex(dns.rdatatype.SOA))
        self.answered += 1
        return response

    def _apex(self, rdtype: int) -> dns.rrset.RRset:
        zone = self.zone
        if rdtype == dns.rdatatype.NS:
            return dns.rrset.from_text(zone.origin, zone.soa_ttl_s, "IN", "NS", zone.ns.to_text())
        serial = int(time.time()) // 60
        # mname rname serial refresh retry expire minimum (the negative-answer TTL)
        soa = f"{zone.ns} hostmaster.{zone.origin} {serial} 60 30 600 {zone.ttl_s}"
        return dns.rrset.from_text(zone.origin, zone.soa_ttl_s, "IN", "SOA", soa)

    def _addresses(self, client: str) -> tuple[str, ...] | None:
        """The addresses of the best POP for a client at `client`'s address; None if none."""
        known, loads, _ = self.registry.snapshot(self.clock())
        where = self.zones.locate(client) if self.zones is not None else None
        candidates = [p for p in known if self.registry.addresses(p.name)]
        if where is None:  # unplaced: the least loaded healthy POP
            healthy = [p for p in candidates if loads[p.name].healthy and p.tier == "edge"]
            if not healthy:
                return None
            best = min(healthy, key=lambda p: (loads[p.name].in_flight / p.max_in_flight, p.name))
            return self.registry.addresses(best.name)
        route = choose_pop(*where, candidates, loads, self.policy)
        return self.registry.addresses(route.pop.name) if route is not None else None


def _client_subnet(query: dns.message.Message) -> dns.edns.ECSOption | None:
    for option in query.options:
        if isinstance(option, dns.edns.ECSOption):
            return dns.edns.ECSOption(option.address, option.srclen, option.srclen)
    return None


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, answerer: DnsAnswerer) -> None:
        self.answerer = answerer
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's UDP transport has the datagram methods without subclassing asyncio's.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        try:
            reply = self.answerer.answer(data, str(addr[0]))
        except Exception:  # one bad packet never stops the server
            log.exception("DNS query from %s failed", addr[0])
            return
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


class DnsServer:
    """The UDP endpoint and the TCP listener on one port, closed together."""

    def __init__(self, udp: asyncio.DatagramTransport, tcp: asyncio.Server) -> None:
        self.udp = udp
        self.tcp = tcp

    @property
    def port(self) -> int:
        return int(self.udp.get_extra_info("sockname")[1])

    def close(self) -> None:
        self.udp.close()
        self.tcp.close()


class _TcpClients:
    """Queries over TCP (RFC 7766): each a two-byte length and the message; several may come
    on one connection, which closes after TCP_IDLE_S without a query or at anything not DNS."""

    def __init__(self, answerer: DnsAnswerer) -> None:
        self.answerer = answerer
        self.open = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        self.open += 1
        try:
            if self.open <= MAX_TCP_CONNECTIONS:
                await self._queries(reader, writer, str(peer[0]) if peer else "")
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        except Exception:  # one bad client never stops the server
            log.exception("DNS over TCP from %s failed", peer)
        finally:
            self.open -= 1
            writer.close()

    async def _queries(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, resolver: str
    ) -> None:
        while True:
            length = int.from_bytes(await asyncio.wait_for(reader.readexactly(2), TCP_IDLE_S))
            if length > MAX_QUERY_BYTES:
                return
            wire = await asyncio.wait_for(reader.readexactly(length), TCP_IDLE_S)
            reply = self.answerer.answer(wire, resolver, tcp=True)
            if reply is None:
                return
            writer.write(len(reply).to_bytes(2) + reply)
            await asyncio.wait_for(writer.drain(), TCP_IDLE_S)


PICKS = 20  # ports the system picks for UDP before one is also free for TCP (port 0)


async def serve_dns(answerer: DnsAnswerer, host: str, port: int) -> DnsServer:
    """Answer queries over UDP and TCP on (host, port) (port 0: one the system picks for UDP
    that is also free for TCP, where a connection's local end may hold it) in the running loop
    until the server is closed."""
    loop = asyncio.get_running_loop()
    left = 1 if port else PICKS
    while True:
        udp, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(answerer), local_addr=(host, port)
        )
        bound = udp.get_extra_info("sockname")[1]
        try:
            return DnsServer(
                udp, await asyncio.start_server(_TcpClients(answerer).serve, host, bound)
            )
        except OSError:
            udp.close()
            left -= 1
            if not left:
                raise
