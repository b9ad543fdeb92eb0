"""The one error shape every service answers with: {"error": {"code", "message"}}, and the
default code for each HTTP status."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "invalid_request",
    460: "checksum_mismatch",
    500: "internal_error",
    502: "upstream_error",
    503: "unavailable",
    504: "upstream_timeout",
}


def error_document(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def error_body(code: str, message: str) -> bytes:
    return json.dumps(error_document(code, message)).encode()


def code_for_status(status: int) -> str:
    return STATUS_CODES.get(status, "error")


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route: 404; a method its route does not take: 405,
    with its Allow) in the one error shape."""
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if "Allow" in headers:  # Starlette lists a route's methods in a set's order: one order
        headers["Allow"] = ", ".join(sorted(m.strip() for m in headers["Allow"].split(",")))
    return JSONResponse(
        error_document(code_for_status(exc.status_code), str(exc.detail)),
        status_code=exc.status_code,
        headers=headers,
    )
