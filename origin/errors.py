"""API errors: raised by handlers, answered in the one JSON error shape (httprules/errors.py)."""

from __future__ import annotations

from httprules.errors import error_body


class ApiError(Exception):
    """`close`: the connection is closed after the answer (a request body still coming is
    not read: its sender sees the end at once)."""

    def __init__(self, status: int, code: str, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.close = close

    def body(self) -> bytes:
        return error_body(self.code, self.message)
