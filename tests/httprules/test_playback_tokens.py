"""Signed playback tokens: table of what grants what."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from httprules.playback_tokens import (
    KeyFile,
    KeyRing,
    TokenRejected,
    admit,
    ancestors,
    canonical_ip,
    grants_site,
    mint,
    split_path,
    verify,
)

RING = KeyRing({"k1": b"0123456789abcdef-one", "k2": b"0123456789abcdef-two"}, "k2")
NOW = 1_800_000_000
PREFIX = "/vod/abc/"


def signed(path_after_prefix: str, token: str, prefix: str = PREFIX) -> str:
    return f"{prefix}~{token}/{path_after_prefix}"


def test_a_token_in_the_path_grants_every_file_under_its_prefix() -> None:
    token = mint(RING, PREFIX, NOW + 60)
    for rest in ("master.m3u8", "720p/index.m3u8", "720p/init.mp4", "720p/3.m4s", "en/1.vtt"):
        path, granted = admit(RING, signed(rest, token), None, "10.0.0.1", NOW)
        assert granted
        assert path == PREFIX + rest


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("tampered", "bad_signature"),
        ("expired", "expired"),
        ("other video", "bad_signature"),
        ("other ip", "bad_signature"),
        ("unknown key", "unknown_key"),
        ("malformed", "malformed"),
        ("no ip when bound", "bad_signature"),
    ],
)
def test_tokens_that_do_not_grant_the_request(case: str, reason: str) -> None:
    good = mint(RING, PREFIX, NOW + 60, "10.0.0.1")
    token, prefix, ip = good, PREFIX, "10.0.0.1"
    if case == "tampered":
        token = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    elif case == "expired":
        token = mint(RING, PREFIX, NOW - 1, "10.0.0.1")
    elif case == "other video":
        prefix = "/vod/xyz/"
    elif case == "other ip":
        ip = "10.0.0.2"
    elif case == "unknown key":
        token = mint(KeyRing({"k9": b"0123456789abcdef-nine"}, "k9"), PREFIX, NOW + 60, ip)
    elif case == "malformed":
        token = "k2.soon.0.sig"
    elif case == "no ip when bound":
        ip = ""
    # a token that is not token-shaped is no token in a path: only the header can carry it
    path, header = (
        (f"{prefix}master.m3u8", token)
        if case == "malformed"
        else (signed("master.m3u8", token, prefix), None)
    )
    with pytest.raises(TokenRejected) as caught:
        admit(RING, path, header, ip, NOW)
    assert caught.value.reason == reason


def test_a_rotated_ring_keeps_old_tokens_until_their_key_is_retired() -> None:
    old = mint(KeyRing({"k1": RING.keys["k1"]}, "k1"), PREFIX, NOW + 60)
    verify(RING, old, PREFIX, None, NOW)  # k1 still in the ring
    assert mint(RING, PREFIX, NOW + 60).startswith("k2.")
    retired = KeyRing({"k2": RING.keys["k2"]}, "k2")
    with pytest.raises(TokenRejected):
        verify(retired, old, PREFIX, None, NOW)


def test_a_header_token_grants_the_directories_below_its_prefix() -> None:
    site = mint(RING, "/", NOW + 60)
    assert admit(RING, "/vod/abc/720p/1.m4s", site, "10.9.9.9", NOW) == (
        "/vod/abc/720p/1.m4s",
        True,
    )
    video = mint(RING, PREFIX, NOW + 60)
    assert admit(RING, "/vod/abc/master.m3u8", video, None, NOW)[1]
    with pytest.raises(TokenRejected):
        admit(RING, "/vod/xyz/master.m3u8", video, None, NOW)


def test_no_token_is_not_a_grant_and_no_ring_refuses_every_token() -> None:
    assert admit(RING, "/vod/abc/master.m3u8", None, None, NOW) == ("/vod/abc/master.m3u8", False)
    token = mint(RING, PREFIX, NOW + 60)
    with pytest.raises(TokenRejected) as caught:
        admit(None, signed("master.m3u8", token), None, None, NOW)
    assert caught.value.reason == "no_keys"


def test_paths_split_at_the_first_token_segment() -> None:
    token = mint(RING, "/~alice/vod/abc/", NOW + 60)
    s = split_path(f"/~alice/vod/abc/~{token}/x/1.m4s")
    assert (s.path, s.prefix, s.token) == ("/~alice/vod/abc/x/1.m4s", "/~alice/vod/abc/", token)
    assert split_path(f"/vod/abc/~{token}").token is None  # grants nothing below it
    assert split_path("/vod/abc/master.m3u8").token is None
    assert split_path("/~alice/index.html").path == "/~alice/index.html"  # not a token
    assert ancestors("/a/b/c") == ["/a/b/", "/a/", "/"]


def test_addresses_have_one_spelling() -> None:
    assert canonical_ip("::ffff:10.0.0.1") == "10.0.0.1"
    assert canonical_ip(" 2001:DB8::1 ") == "2001:db8::/64"
    assert canonical_ip("") is None
    token = mint(RING, PREFIX, NOW + 60, "::ffff:10.0.0.1")
    verify(RING, token, PREFIX, "10.0.0.1", NOW)


def test_a_token_bound_to_an_ipv6_viewer_holds_across_its_64_and_nowhere_else() -> None:
    """A viewer's privacy address changes within its /64 (RFC 8981): its token keeps working."""
    token = mint(RING, PREFIX, NOW + 60, "2001:db8:7:8::1")
    verify(RING, token, PREFIX, "2001:db8:7:8:a1b2:c3d4:e5f6:1", NOW)
    with pytest.raises(TokenRejected, match="client address"):
        verify(RING, token, PREFIX, "2001:db8:7:9::1", NOW)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[keys]\n",
        'signing = "k3"\n[keys]\nk1 = "0123456789abcdef"\n',
        '[keys]\nk1 = "short"\n',
        '[keys]\n"k 1" = "0123456789abcdef"\n',
        '[keys]\nk1 = "0123456789abcdef"\nk2 = "0123456789abcdef"\n',  # which one signs?
    ],
)
def test_key_files_that_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"key|secret|sign"):
        KeyRing.parse(text)


def test_a_key_file_with_one_key_signs_with_it() -> None:
    assert KeyRing.parse('[keys]\nk1 = "0123456789abcdef"\n').signing == "k1"


def test_a_key_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    path.write_text('[keys]\nk1 = "0123456789abcdef"\n')
    keys = KeyFile(path)
    assert keys.current().signing == "k1"
    path.write_text('signing = "k2"\n[keys]\nk1 = "0123456789abcdef"\nk2 = "fedcba9876543210"\n')
    time.sleep(1.05)
    assert keys.current().signing == "k2"
    path.write_text("not toml [")
    time.sleep(1.05)
    assert keys.current().signing == "k2"  # a broken file keeps the last ring


def test_only_a_site_wide_token_is_a_fill_credential() -> None:
    assert grants_site(RING, mint(RING, "/", NOW + 60), NOW)
    assert not grants_site(RING, mint(RING, PREFIX, NOW + 60), NOW)
    assert not grants_site(RING, mint(RING, "/", NOW - 1), NOW)
