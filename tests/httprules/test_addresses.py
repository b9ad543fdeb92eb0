"""What a client address stands for: itself for IPv4, its /64 for IPv6."""

from __future__ import annotations

import pytest

from httprules.addresses import client_key, networks, within


def test_an_ipv6_client_is_its_64_and_an_ipv4_one_its_address() -> None:
    """One subscriber line has a whole /64 to send from: its addresses are one client."""
    one = client_key("2001:db8:1:2::1")
    assert one == client_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != one
    assert client_key(" 2001:DB8:1:2:0:0:0:9 ") == one  # one spelling
    assert client_key("::ffff:192.0.2.7") == client_key("192.0.2.7") == "192.0.2.7"
    assert client_key("192.0.2.8") != client_key("192.0.2.7")
    assert client_key(None) == client_key("") == ""
    assert client_key("unix:/run/x.sock") == "unix:/run/x.sock"


def test_addresses_within_networks() -> None:
    """What a rate limit exempts: addresses and networks, IPv4 and IPv6."""
    among = networks(["10.1.0.0/16", " 192.0.2.7 ", "2001:db8:9::/48"])
    assert within("10.1.200.3", among)
    assert within("::ffff:10.1.0.1", among)  # as its IPv4 address
    assert within("192.0.2.7", among)
    assert not within("192.0.2.8", among)
    assert within("2001:db8:9:ffff::1", among)
    assert not within("2001:db8:a::1", among)
    assert not within(None, among)
    assert not within("unix:/run/x.sock", among)
    assert not within("10.1.0.1", ())


@pytest.mark.parametrize("bad", ["10.1.0.0/33", "10.1.0.1/16", "pop-1.example", "", "::g"])
def test_what_is_not_a_network_is_named(bad: str) -> None:
    with pytest.raises(ValueError, match="is not an address or a network"):
        networks(["10.0.0.0/8", bad])
