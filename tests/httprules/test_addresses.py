"""What a client address stands for: itself for IPv4, its /64 for IPv6."""

from __future__ import annotations

from httprules.addresses import client_key


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
