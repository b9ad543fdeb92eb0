"""API keys on the origin's write calls: the shared bearer check, raised as an `ApiError`."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from starlette.requests import Request

from httprules.bearer import bearer_refusal
from origin.errors import ApiError


def key_digest(authorization: bytes) -> str:
    """Who a request is, by its API key, without keeping the key: rate limits count by it
    and transcodes are shared fairly by it."""
    return hashlib.sha256(authorization).hexdigest()[:32]


def owner_of(request: Request) -> str:
    return key_digest(request.headers.get("authorization", "").encode("latin-1"))


def require_api_key(request: Request, keys: Sequence[str]) -> None:
    refusal = bearer_refusal(request.headers.get("authorization", ""), keys, "api key")
    if refusal is not None:
        raise ApiError(*refusal)
