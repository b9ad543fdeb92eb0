"""A request body is taken from the server as it arrives, whatever its handler is doing: a
client that closes right after its body (ffmpeg's HTTP output) loses nothing."""

from __future__ import annotations

import asyncio

import pytest
from starlette.requests import ClientDisconnect, Request
from starlette.types import Message

from origin.body_ahead import BodyAhead


def request_of(messages: list[Message], pulled: list[Message]) -> Request:
    """A request whose server hands on `messages`, then reports the client gone (as uvicorn
    does once the connection closed: what it had not handed on is dropped)."""
    pending = list(messages)

    async def receive() -> Message:
        message = pending.pop(0) if pending else {"type": "http.disconnect"}
        pulled.append(message)
        return message

    return Request({"type": "http", "method": "PUT", "headers": []}, receive)


def body(*chunks: bytes, complete: bool = True) -> list[Message]:
    last = len(chunks) - 1
    return [
        {"type": "http.request", "body": c, "more_body": i < last or not complete}
        for i, c in enumerate(chunks)
    ]


def test_the_body_is_taken_while_the_handler_is_busy() -> None:
    async def run() -> bytes:
        pulled: list[Message] = []
        ahead = BodyAhead(request_of(body(b"ab", b"", b"cd", b"ef"), pulled))
        await asyncio.sleep(0.05)  # the handler waits for its turn; the client closes
        assert len(pulled) == 4  # every message was taken from the server meanwhile
        try:
            return b"".join([chunk async for chunk in ahead])
        finally:
            await ahead.close()

    assert asyncio.run(run()) == b"abcdef"


def test_a_client_gone_mid_body_is_told_after_what_came() -> None:
    got: list[bytes] = []

    async def run() -> None:
        ahead = BodyAhead(request_of(body(b"ab", b"cd", complete=False), []))
        try:
            async for chunk in ahead:
                got.append(chunk)
        finally:
            await ahead.close()

    with pytest.raises(ClientDisconnect):
        asyncio.run(run())
    assert got == [b"ab", b"cd"]


def test_it_holds_a_bounded_amount_ahead() -> None:
    async def run() -> None:
        pulled: list[Message] = []
        ahead = BodyAhead(request_of(body(*[b"x" * 10] * 10), pulled), max_bytes=30)
        await asyncio.sleep(0.05)
        assert len(pulled) == 4  # 30 bytes held, the 4th chunk waits for room
        assert await ahead.read(1000) == b"x" * 100
        await ahead.close()

    async def too_long() -> None:
        ahead = BodyAhead(request_of(body(b"x" * 10, b"x" * 10), []))
        try:
            await ahead.read(15)
        finally:
            await ahead.close()

    asyncio.run(run())
    with pytest.raises(ValueError, match="more than 15 bytes"):
        asyncio.run(too_long())


def test_a_peek_at_its_first_bytes_leaves_the_whole_body_to_read() -> None:
    async def run(*chunks: bytes) -> tuple[bytes, bytes]:
        ahead = BodyAhead(request_of(body(*chunks), []))
        try:
            head = await ahead.peek(8)
            assert await ahead.peek(8) == head  # again: the same bytes
            return head, b"".join([chunk async for chunk in ahead])
        finally:
            await ahead.close()

    assert asyncio.run(run(b"\0\0\0\x18ft", b"yp", b"isom")) == (
        b"\0\0\0\x18ftyp",
        b"\0\0\0\x18ftypisom",
    )
    assert asyncio.run(run(b"abc")) == (b"abc", b"abc")  # shorter than asked: all of it
    assert asyncio.run(run(b"")) == (b"", b"")
