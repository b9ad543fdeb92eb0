"""API keys on the origin's write calls: the shared bearer check, raised as an `ApiError`."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request

from httprules.bearer import bearer_refusal
from origin.errors import ApiError


def require_api_key(request: Request, keys: Sequence[str]) -> None:
    refusal = bearer_refusal(request.headers.get("authorization", ""), keys, "api key")
    if refusal is not None:
        raise ApiError(*refusal)
