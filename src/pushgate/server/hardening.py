"""HTTP hardening: size limits, slow-client timeouts, error answers that echo nothing.

The numbers (documented in docs/security.md):

* request line at most :data:`MAX_REQUEST_LINE_BYTES`, each header line at
  most :data:`MAX_HEADER_FIELD_BYTES`, at most :data:`MAX_HEADERS` headers
  (431 beyond the sizes, 400 beyond the count); the body is limited by
  ``client_max_size`` (``Settings.max_body_bytes``, 413);
* a connection must deliver a request's headers within
  :data:`KEEPALIVE_TIMEOUT_SECONDS` of opening or of the previous answer,
  else it is closed (aiohttp's keep-alive timer also covers a request that
  has started but not finished its headers), and idle keep-alive
  connections are closed after the same time;
* a body must arrive within :data:`BODY_TIMEOUT_SECONDS` (408); after an
  answer, the unread rest of a body is drained for at most
  :data:`LINGERING_SECONDS` before the connection is closed;
* a TLS handshake must finish within asyncio's 60 s.

aiohttp answers a malformed request with the offending bytes in the body
and logs them at error level with a traceback: with an ``Authorization``
header that is a credential in the log and on the wire. The request
handler here answers ``400 Bad Request``/``431`` with a fixed body and logs
only the kind of error, at debug level.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler, RequestPayloadError
from aiohttp.web_request import BaseRequest

from pushgate.core.errors import ParseError, RequestTimeoutError
from pushgate.server.errors import text_error

log = logging.getLogger("pushgate.server")

MAX_REQUEST_LINE_BYTES = 16384
MAX_HEADER_FIELD_BYTES = 8190
MAX_HEADERS = 100
KEEPALIVE_TIMEOUT_SECONDS = 75.0
BODY_TIMEOUT_SECONDS = 60.0
LINGERING_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """The limits above; tests shorten the timeouts."""

    max_request_line: int = MAX_REQUEST_LINE_BYTES
    max_header_field: int = MAX_HEADER_FIELD_BYTES
    max_headers: int = MAX_HEADERS
    keepalive_timeout: float = KEEPALIVE_TIMEOUT_SECONDS
    lingering_time: float = LINGERING_SECONDS

    def handler_args(self) -> dict[str, Any]:
        return {
            "max_line_size": self.max_request_line,
            "max_field_size": self.max_header_field,
            "max_headers": self.max_headers,
            "keepalive_timeout": self.keepalive_timeout,
            "lingering_time": self.lingering_time,
        }


class _QuietRequestHandler(RequestHandler):
    """aiohttp's per-connection handler: no echo, and a deadline for the first request."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # Recent aiohttp arms its keep-alive timer when a connection opens;
        # older releases waited for a first request forever. This deadline
        # closes a connection that has not completed one request's headers.
        self._loop.call_later(self.keepalive_timeout, self._first_request_deadline)

    def _first_request_deadline(self) -> None:
        if getattr(self, "_request_count", 1) == 0 and self.transport is not None:
            log.debug("closed a connection that sent no complete request in time")
            self.force_close()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if not isinstance(exc, HttpProcessingError):
            return super().handle_error(request, status, exc, message)
        # Only the class of the error: its message quotes the raw request.
        log.debug("rejected a malformed request from %s: %s", request.remote, type(exc).__name__)
        if isinstance(exc, LineTooLong):
            response = text_error(431, "Request Header Fields Too Large")
        else:
            response = text_error(400, "Bad Request")
        response.force_close()
        return response


class _QuietServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _QuietRequestHandler(self, loop=self._loop, **self._kwargs)


class HardenedAppRunner(web.AppRunner):
    """An :class:`~aiohttp.web.AppRunner` with :class:`HttpLimits` and quiet errors."""

    def __init__(
        self, app: web.Application, *, limits: HttpLimits | None = None, **kwargs: Any
    ) -> None:
        super().__init__(app, **kwargs, **(limits or HttpLimits()).handler_args())

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # Same handler, factory and arguments; only the connection class differs.
        return _QuietServer(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=server._loop,
            **server._kwargs,
        )


async def read_body(request: web.BaseRequest, timeout: float | None = None) -> bytes:
    """The request body, read within ``timeout`` (default :data:`BODY_TIMEOUT_SECONDS`).

    Raises :class:`RequestTimeoutError` (408) for a client too slow to send
    it and :class:`ParseError` (400) for a malformed chunked encoding. A body
    over ``client_max_size`` raises aiohttp's 413 as before.
    """
    limit = BODY_TIMEOUT_SECONDS if timeout is None else timeout
    try:
        if request.content.is_eof():
            # Already received in full (most pushes arrive with their
            # headers): nothing to wait for, so no timer to arm.
            return await request.read()
        async with asyncio.timeout(limit):
            return await request.read()
    except TimeoutError:
        raise RequestTimeoutError(f"the request body did not arrive within {limit:g}s") from None
    except RequestPayloadError as e:
        raise ParseError(f"malformed request body: {type(e.__cause__ or e).__name__}") from None
