"""What a client address stands for, as rate limits count it and playback tokens bind it.

An IPv4 address stands for itself (an IPv4-mapped IPv6 address for its IPv4 one). An IPv6
address stands for its /64: a subscriber line is given a whole /64 (RFC 6177) and sends from any
of its 2**64 addresses, with privacy addresses that change on their own (RFC 8981), so counting
each address alone would let one client past any limit, and a token bound to one address would
stop working for its own viewer when the address changed."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

IPV6_PREFIX = 64  # the IPv6 addresses that are one client: one subscriber's prefix


def client_key(address: str | None) -> str:
    """One spelling for what `address` stands for: the IPv4 address, or the IPv6 /64
    (`2001:db8:1:2::/64`); a text that is not an address (a Unix socket's) as it is, stripped;
    "" for none."""
    text = (address or "").strip()
    if not text:
        return ""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return text
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)


def networks(texts: Iterable[str]) -> tuple[Network, ...]:
    """Addresses and networks (`203.0.113.7`, `10.1.0.0/16`, `2001:db8::/48`) as networks;
    ValueError naming the first that is neither (or has bits set past its prefix)."""
    found = []
    for text in texts:
        try:
            found.append(ipaddress.ip_network(text.strip()))
        except ValueError:
            raise ValueError(f"{text.strip()!r} is not an address or a network") from None
    return tuple(found)


def within(address: str | None, among: tuple[Network, ...]) -> bool:
    """Whether `address` (an IPv4-mapped IPv6 address as its IPv4 one) is in one of `among`."""
    if not among or not address:
        return False
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in among)
