"""DNS routing: the router answers A/AAAA queries for names in its zone with the addresses of
the best POP for the querier, by the same decision as HTTP routing (edge/router/routing.py).
The querier is placed by the EDNS Client Subnet option when the resolver sends one (RFC 7871),
else by the resolver's own address, through the coverage zones. The zone's apex has SOA and NS.
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

    def answer(self, wire: bytes, resolver: str) -> bytes | None:
        """The response to one query from `resolver`'s address; None to drop (not DNS)."""
        if len(wire) > MAX_QUERY_BYTES:
            return None
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if query.opcode() != 0 or len(query.question) != 1:
            response.set_rcode(dns.rcode.NOTIMP if query.opcode() != 0 else dns.rcode.FORMERR)
            return response.to_wire()
        question = query.question[0]
        name, rdtype = question.name, question.rdtype
        origin = self.zone.origin
        if not name.is_subdomain(origin) or question.rdclass != dns.rdataclass.IN:
            response.flags &= ~dns.flags.AA
            response.set_rcode(dns.rcode.REFUSED)
            return response.to_wire()
        subnet = _client_subnet(query)
        if subnet is not None:  # RFC 7871 §7.2.1: echo the option with the scope we used
            response.use_edns(0, options=[subnet])
        if name == origin and rdtype in (dns.rdatatype.SOA, dns.rdatatype.NS):
            response.answer.append(self._apex(rdtype))
        elif rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.ANY):
            placed = subnet.address if subnet is not None else resolver
            addresses = self._addresses(placed)
            if addresses is None:
                response.set_rcode(dns.rcode.SERVFAIL)  # no healthy POP
                return response.to_wire()
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
        return response.to_wire()

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


async def serve_dns(answerer: DnsAnswerer, host: str, port: int) -> asyncio.DatagramTransport:
    """Answer UDP queries on (host, port) in the running loop until the transport is closed."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Protocol(answerer), local_addr=(host, port)
    )
    return transport
