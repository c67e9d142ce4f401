"""The one place that turns errors into HTTP responses.

Error responses look like Go's ``http.Error``: ``text/plain; charset=utf-8``,
``X-Content-Type-Options: nosniff`` and the message followed by a newline.
"""

from __future__ import annotations

import math

from aiohttp import web

from pushgate.core.errors import (
    ConsistencyError,
    ForbiddenError,
    GroupingKeyError,
    LimitError,
    ParseError,
    PushgateError,
    RequestTimeoutError,
    StoreError,
)

CONSISTENCY_PREFIX = "pushed metrics are invalid or inconsistent with existing metrics: "


def text_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=(message + "\n").encode("utf-8", "surrogateescape"),
        headers={
            "Content-Type": "text/plain; charset=utf-8",
            "X-Content-Type-Options": "nosniff",
            **(headers or {}),
        },
    )


def error_response(error: PushgateError) -> web.Response:
    """The status and body for every pushgate error a request can cause."""
    if isinstance(error, ConsistencyError):
        return text_error(400, CONSISTENCY_PREFIX + str(error))
    if isinstance(error, ParseError | GroupingKeyError):
        return text_error(400, str(error))
    if isinstance(error, StoreError):
        return text_error(503, str(error))
    if isinstance(error, LimitError):
        # Retry-After in whole seconds, rounded up (RFC 9110 allows no fraction).
        wait = error.retry_after
        headers = {"Retry-After": str(max(1, math.ceil(wait)))} if wait is not None else None
        return text_error(error.status, str(error), headers)
    if isinstance(error, ForbiddenError):
        return text_error(403, str(error))
    if isinstance(error, RequestTimeoutError):
        response = text_error(408, str(error))
        response.force_close()
        return response
    return text_error(500, str(error))
