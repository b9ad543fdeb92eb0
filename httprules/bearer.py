"""Bearer keys: `Authorization: Bearer <key>`, for API writes and the POPs' admin calls."""

from __future__ import annotations

import hmac
from collections.abc import Sequence


def bearer_refusal(header: str, keys: Sequence[str], noun: str) -> tuple[int, str, str] | None:
    """None if `header` carries one of `keys`; else (status, code, message): no or malformed
    credentials → 401, credentials that match no key → 403."""
    scheme, _, token = header.partition(" ")
    if not header:
        return 401, "unauthorized", f"this call needs 'Authorization: Bearer <{noun}>'"
    if scheme.lower() != "bearer" or not token.strip():
        return 401, "unauthorized", f"use 'Authorization: Bearer <{noun}>'"
    token = token.strip()
    # Compare against every key in constant time, so timing says nothing about near misses.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(token.encode(), key.encode())
    return None if matched else (403, "forbidden", f"the {noun} is not valid")
