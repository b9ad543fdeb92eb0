"""API keys for writes under /api/: `Authorization: Bearer <key>`."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from starlette.requests import Request

from origin.errors import ApiError


def require_api_key(request: Request, keys: Sequence[str]) -> None:
    """No credentials → 401; credentials that match no key → 403."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise ApiError(401, "unauthorized", "this call needs 'Authorization: Bearer <api key>'")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "use 'Authorization: Bearer <api key>'")
    token = token.strip()
    # Compare against every key in constant time, so timing says nothing about near misses.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(token.encode(), key.encode())
    if not matched:
        raise ApiError(403, "forbidden", "the API key is not valid")
