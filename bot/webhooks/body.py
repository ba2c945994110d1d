"""Read a request's raw body under a size limit, refusing early rather than buffering it all."""

from __future__ import annotations

from starlette.requests import Request

from reviewers.errors import ReviewbotError


class BodyTooLarge(ReviewbotError):
    """The body is over the limit; nothing beyond the limit was read."""

    def __init__(self, limit: int, declared: int | None = None) -> None:
        super().__init__(f"request body exceeds {limit} bytes")
        self.limit = limit
        self.declared = declared


def declared_length(request: Request) -> int | None:
    """The Content-Length header as an int, or None when absent or not a number."""
    value = request.headers.get("content-length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


async def read_limited_body(request: Request, max_bytes: int) -> bytes:
    """The raw body, byte for byte (signatures need it exact), at most `max_bytes` long."""
    declared = declared_length(request)
    if declared is not None and declared > max_bytes:
        raise BodyTooLarge(max_bytes, declared)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge(max_bytes, declared)
        chunks.append(chunk)
    return b"".join(chunks)
