"""HTTP ground rules shared by the origin, the POPs and the router: ASGI types, RFC 9110
serving rules, RFC 9111 caching rules, header handling, the bearer-key check and the one JSON
error shape."""
