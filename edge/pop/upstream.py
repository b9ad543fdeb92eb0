"""The POP's client to its upstream (the origin or a parent POP): one connection pool, the
headers a request carries upstream and those of a response it passes on, and failures as one
error type with the status to answer."""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import urlsplit

import httpcore
import httpx

from httprules.headers import HOP_BY_HOP, connection_named, encode, end_to_end

# A fill fetches the whole object for every client: the client's conditionals and range stay
# with the POP, which answers them from the filled object.
NOT_FORWARDED_ON_FILL = frozenset(
    {
        "range",
        "if-range",
        "if-none-match",
        "if-modified-since",
        "if-match",
        "if-unmodified-since",
        "content-length",
    }
)


# Fields that name a URL a client may follow or compare with the ones it asks the POP for
URL_FIELDS = ("location", "content-location")
DEFAULT_PORTS = {"http": 80, "https": 443}


def local_reference(target: str, base: httpx.URL) -> str:
    """`target` (a Location or Content-Location) as a path on this POP where it is an
    absolute URL under the upstream's base URL `base` (the part after the base's path, which
    a client resolves against the POP's own URL, as nginx's default `proxy_redirect` does);
    any other value as it came. A redirect to the origin's address would take the client off
    the CDN, to an address it may not reach, and name the origin to it."""
    try:
        url = urlsplit(target.strip())
        port = url.port
    except ValueError:
        return target
    if not url.netloc:  # already a reference on whichever host the client asked
        return target
    scheme = (url.scheme or base.scheme).lower()
    if (
        scheme != base.scheme
        or (url.hostname or "") != base.host.lower()
        or (port or DEFAULT_PORTS.get(scheme)) != (base.port or DEFAULT_PORTS.get(base.scheme))
    ):
        return target
    prefix = base.raw_path.decode("latin-1").rstrip("/")
    if url.path != prefix and not url.path.startswith(prefix + "/"):
        return target  # outside what the POP fronts
    path = url.path[len(prefix) :] or "/"
    return (
        path + (f"?{url.query}" if url.query else "") + (f"#{url.fragment}" if url.fragment else "")
    )


# What httpx adds to a request that does not say (its client's default headers)
CLIENT_DEFAULTS = ("accept", "accept-encoding", "user-agent")


class UpstreamFailed(Exception):
    """No response from upstream: `status` is what the client gets (502, or 504 on timeout)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = "upstream_timeout" if status == 504 else "upstream_error"


def via_after(upstream_via: str | None, own: str) -> str:
    """RFC 9110 §7.6.3: each intermediary appends itself to Via."""
    return f"{upstream_via}, {own}" if upstream_via else own


def received_by(via: str | None) -> list[str]:
    """Who added each entry of a Via field, in order ("1.1 a, 2 b (comment)" → a, b)."""
    entries = [entry.split() for entry in (via or "").split(",")]
    return [entry[1] for entry in entries if len(entry) > 1]


def forward_headers(headers: Mapping[str, str], via: str, *, fill: bool) -> dict[str, str]:
    """The client's headers as sent upstream: no hop-by-hop ones (nor, for a fill, the
    client's conditionals and range), and this POP (`via`: "1.1 name") in Via, unless its
    entry is there already: a client's request gets it where it comes in, with the version of
    HTTP it came in (RFC 9110 §7.6.3); a fetch for no client (a prefetch) gets `via`."""
    dropped = NOT_FORWARDED_ON_FILL if fill else frozenset()
    named = connection_named(headers.get("connection", ""))  # for the POP only
    out = {
        k: v
        for k, v in headers.items()
        if k not in HOP_BY_HOP and k not in dropped and k not in named
    }
    if received_by(headers.get("via"))[-1:] != [via.split(" ", 1)[1]]:
        out["via"] = via_after(headers.get("via"), via)
    return out


def no_cookie_jar() -> CookieJar:
    """A jar that keeps nothing: a shared cache's upstream client must hold no client state,
    or one client's cookies would be sent upstream on every other client's requests."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


# What a kept-alive connection the upstream closed while it lay idle fails with, when the
# request is sent on it just as it closes: no response began, so nothing was done upstream.
STALE_CONNECTION = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
RETRIED_METHODS = frozenset({"GET", "HEAD"})
# Idle connections are let go before the 5 s after which common servers (uvicorn, our own
# listeners, many others) close them, so a request rarely meets one closing.
KEEPALIVE_EXPIRY_S = 4.0


def _close_on_surplus_bytes() -> None:
    """httpcore keeps a connection for the next request once a response's body has ended where
    its Content-Length said, even when the upstream sent more bytes in the same read: those
    would be read as the next request's response, perhaps another user's, and stored for
    everyone (response desynchronisation). nginx and Varnish close such a connection; with
    this, so does every httpx HTTP/1.1 connection in a process that imports this module (the
    POP's upstream client is what it is for)."""
    original = httpcore.AsyncHTTP11Connection._response_closed
    if getattr(original, "closes_on_surplus", False):
        return

    async def response_closed(self: httpcore.AsyncHTTP11Connection) -> None:
        surplus, _ = self._h11_state.trailing_data
        if surplus:
            async with self._state_lock:
                await self.aclose()
            return
        await original(self)

    setattr(response_closed, "closes_on_surplus", True)  # noqa: B010
    setattr(httpcore.AsyncHTTP11Connection, "_response_closed", response_closed)  # noqa: B010


_close_on_surplus_bytes()


class Upstream:
    """Requests to one upstream. A GET or HEAD (no body) that fails before any response, as
    one sent on a kept-alive connection the upstream was closing does, is sent once more on a
    new connection (as nginx's `proxy_next_upstream error` and Varnish do) instead of failing
    every client waiting on it with a 502."""

    def __init__(
        self, base_url: str, timeout_s: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            limits=httpx.Limits(
                max_connections=512,
                max_keepalive_connections=64,
                keepalive_expiry=KEEPALIVE_EXPIRY_S,
            ),
            cookies=no_cookie_jar(),
        )
        # httpx sends its own Accept, Accept-Encoding and User-Agent where a request has none:
        # an upstream would then answer a client that asked for no coding with gzip (which the
        # POP passes on as it came) and see httpx as the client. A request goes upstream with
        # the client's own fields only.
        for name in CLIENT_DEFAULTS:
            del self.client.headers[name]
        self._base_path = self.client.base_url.raw_path.rstrip(b"/")  # a request's path follows

    async def open(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: AsyncIterable[bytes] | None = None,
    ) -> httpx.Response:
        """The response with its body still to stream (close it with `aclose`)."""
        # as octets: a value's bytes go upstream as the client sent them (httpx would encode
        # text as ASCII and fail on any other byte)
        # and the path joined to the base URL's as it is: httpx would read one that starts
        # with "//" (a player's sloppy join: "//v/a/1.m4s") as a host, and send "/a/1.m4s"
        target = self.client.base_url.copy_with(raw_path=self._base_path + url.encode("latin-1"))
        request = self.client.build_request(
            method, target, headers=encode(headers), content=content
        )
        retry = content is None and method in RETRIED_METHODS
        while True:
            try:
                response = await self.client.send(request, stream=True)
            except httpx.TimeoutException:
                raise UpstreamFailed(504, "the upstream timed out") from None
            except STALE_CONNECTION as exc:
                if retry:
                    retry = False  # once: an upstream that fails again is failing
                    continue
                raise UpstreamFailed(502, f"the upstream failed: {exc}") from None
            except httpx.HTTPError as exc:
                raise UpstreamFailed(502, f"the upstream failed: {exc}") from None
            if not 100 <= response.status_code <= 599:  # RFC 9110 §15: nothing to pass on
                await response.aclose()
                message = f"the upstream answered with an invalid status {response.status_code}"
                raise UpstreamFailed(502, message)
            return response

    def response_headers(self, response: httpx.Response) -> dict[str, str]:
        """A response's end-to-end fields, its URLs on the upstream made paths on the POP."""
        out = end_to_end(response.headers)
        for name in URL_FIELDS:
            if name in out:
                out[name] = local_reference(out[name], self.client.base_url)
        return out

    async def ready(self, timeout_s: float = 2.0) -> bool:
        """Whether the upstream answers its readiness check (`/healthz`, which origins and
        POPs both have) with a success."""
        try:
            response = await self.client.get("/healthz", timeout=timeout_s)
        except httpx.HTTPError:
            return False
        return response.status_code < 400

    async def aclose(self) -> None:
        await self.client.aclose()
