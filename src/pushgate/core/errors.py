"""The one exception tree of pushgate.

Every error a client can cause or an operator must act on is a subclass of
:class:`PushgateError`. The HTTP edge maps each class to one status code in a
single place (``pushgate.server.errors``); the CLI maps them to exit codes in
``pushgate.cli.main``. Messages quote the bad input and, where it helps, say
what to do.
"""

from __future__ import annotations


class PushgateError(Exception):
    """Base of every pushgate error."""


class ParseError(PushgateError):
    """A request body could not be decoded (text 0.0.4, protobuf, gzip).

    The message is the one the official Pushgateway sends (HTTP 400), e.g.
    ``text format parsing error in line 3: unexpected end of input stream``.
    """


class GroupingKeyError(PushgateError):
    """The grouping key in a push URL is invalid (HTTP 400)."""


class ConsistencyError(PushgateError):
    """A push would make the exposed metrics invalid or inconsistent (HTTP 400).

    The message is the bare reason; the HTTP layer prefixes it with
    ``pushed metrics are invalid or inconsistent with existing metrics: ``.
    """


class StoreError(PushgateError):
    """The store could not durably apply a write (HTTP 503); nothing changed."""


class StoreOpenError(PushgateError):
    """The store cannot be opened at start-up (corrupt, unreadable, too new)."""


class ConfigError(PushgateError):
    """Invalid command-line flag or configuration file."""


class ForbiddenError(PushgateError):
    """The credential is valid but does not allow this action here (HTTP 403).

    The message names the principal (never its secret), the action and the
    grouping key; nothing was changed.
    """


class RequestTimeoutError(PushgateError):
    """The client did not send the request body in time (HTTP 408)."""


class LimitError(PushgateError):
    """A request exceeds a configured limit; nothing was stored (HTTP 400, 413 or 429).

    ``reason`` names the limit (``series_per_job``, ``push_rate``...) for the
    rejection counters; the message names the limit and the current figure.
    ``retry_after`` (seconds) is set when waiting makes a retry succeed.
    """

    def __init__(
        self, message: str, *, reason: str, status: int, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
