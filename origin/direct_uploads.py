"""Direct-upload URLs: a backend holding an API key asks for one (`POST /api/direct-uploads`)
and hands it to a browser, which uploads one file with tus through it and never sees the key.

A grant is a signed, expiring token naming the one tus upload it may create (its id is in the
token), the most bytes it may send and the key it acts for (as a digest: the video belongs to
that key). It is stateless, so any origin sharing the secret honours it; it is one-time
because the upload it names can be created once (the catalog's primary key), and it lets its
holder resume, finish or cancel that upload and nothing else."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from httprules.times import iso_utc
from origin.access import json_object
from origin.auth import owner_of, require_api_key
from origin.errors import ApiError
from origin.settings import Settings

TOKEN_PREFIX = "du."
_URL_SAFE = re.compile(r"[A-Za-z0-9_-]*")
DEFAULT_TTL_S = 3600
MAX_TTL_S = 86_400


class GrantRefused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True, slots=True)
class Grant:
    upload_id: str
    owner: str  # the digest of the API key that asked for it
    max_bytes: int
    expires_at: float


def signing_secret(configured: str, api_keys: Sequence[str]) -> bytes:
    """The configured secret, else one derived from the API keys (every origin holding the
    same keys honours the same URLs; changing the keys voids the URLs still out)."""
    if configured:
        return configured.encode()
    material = "\n".join(sorted(api_keys)).encode()
    return hashlib.sha256(b"mediacdn direct uploads\n" + material).digest()


def upload_secret(settings: Settings) -> bytes:
    return signing_secret(settings.upload_secret, settings.api_keys)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Strictly: a character outside the URL-safe alphabet is an error, not skipped (else
    one token could be written many ways, with anything slipped between its characters)."""
    if not _URL_SAFE.fullmatch(text):
        raise ValueError("not URL-safe base64")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mint(secret: bytes, owner: str, max_bytes: int, ttl_s: float, now: float) -> tuple[str, Grant]:
    grant = Grant(secrets.token_hex(16), owner, max_bytes, int(now + ttl_s))
    claims = {"u": grant.upload_id, "o": owner, "m": max_bytes, "e": grant.expires_at}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    return f"{TOKEN_PREFIX}{payload}.{_b64(mac)}", grant


def verify(secret: bytes, token: str, now: float | None = None) -> Grant:
    """The grant a token carries; GrantRefused (403) if it is forged, damaged or expired."""
    body = token.removeprefix(TOKEN_PREFIX)
    payload, _, mac = body.partition(".")
    try:
        expected = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(mac)):
            raise ValueError("bad signature")
        claims = json.loads(_unb64(payload))
        grant = Grant(str(claims["u"]), str(claims["o"]), int(claims["m"]), float(claims["e"]))
    except (ValueError, KeyError, TypeError, UnicodeError):
        raise GrantRefused(403, "invalid_upload_token", "this upload URL is not valid") from None
    if (time.time() if now is None else now) >= grant.expires_at:
        raise GrantRefused(403, "upload_token_expired", "this upload URL has expired") from None
    return grant


def is_upload_token(credential: str) -> bool:
    return credential.startswith(TOKEN_PREFIX)


def check_ttl(raw: object) -> int:
    """`expires_in_s` as asked: a whole number of seconds, 60 to MAX_TTL_S."""
    if raw is None:
        return DEFAULT_TTL_S
    if isinstance(raw, bool) or not isinstance(raw, int) or not 60 <= raw <= MAX_TTL_S:
        raise GrantRefused(
            422, "invalid_expiry", f"expires_in_s must be a whole number from 60 to {MAX_TTL_S}"
        )
    return raw


def request_upload_token(authorization: str, query_token: str | None) -> str | None:
    """The direct-upload token a request carries: in `?token=` (the URL as handed out) or
    as its bearer credential."""
    if query_token:
        return query_token
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() == "bearer" and is_upload_token(credential.strip()):
        return credential.strip()
    return None


class DirectUploadApi:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def create(self, request: Request) -> Response:
        """POST /api/direct-uploads {"max_bytes"?, "expires_in_s"?}: a one-time tus URL."""
        settings = self.settings
        require_api_key(request, settings.api_keys)
        data = await json_object(request)
        unknown = set(data) - {"max_bytes", "expires_in_s"}
        if unknown:
            raise ApiError(422, "invalid_field", f"unknown field {sorted(unknown)[0]!r}")
        max_bytes = data.get("max_bytes", settings.max_upload_bytes)
        if (
            isinstance(max_bytes, bool)
            or not isinstance(max_bytes, int)
            or not 1 <= max_bytes <= settings.max_upload_bytes
        ):
            raise ApiError(
                422,
                "invalid_size",
                f"max_bytes must be a whole number from 1 to {settings.max_upload_bytes}",
            )
        try:
            ttl_s = check_ttl(data.get("expires_in_s"))
        except GrantRefused as exc:
            raise ApiError(exc.status, exc.code, exc.message) from None
        token, grant = mint(
            upload_secret(settings), owner_of(request), max_bytes, ttl_s, time.time()
        )
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "upload_id": grant.upload_id,
                "url": f"{base}/api/uploads/?token={token}",
                "token": token,
                "max_bytes": max_bytes,
                "expires_at": iso_utc(grant.expires_at),
            },
            status_code=201,
            headers={"cache-control": "no-store"},
        )
