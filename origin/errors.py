"""API errors: raised by handlers, answered in the one JSON error shape (httprules/errors.py)."""

from __future__ import annotations

from httprules.errors import error_body


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> bytes:
        return error_body(self.code, self.message)
