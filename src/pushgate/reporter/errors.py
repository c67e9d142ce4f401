"""Errors of the CI reporter, all under :class:`pushgate.core.errors.PushgateError`.

The report command treats every one of them the same way: a warning and exit 0
by default, exit 1 with ``--strict`` (a CI job must not fail because metrics
could not be sent). Command-line mistakes are :class:`ConfigError` instead and
always fail, because they are the same on every run and a person must fix them.
"""

from __future__ import annotations

from pushgate.core.errors import ConfigError, PushgateError

__all__ = ["ConfigError", "PushError", "ReportError", "ReportInputError", "SonarError"]


class ReportError(PushgateError):
    """Base of the errors that ``--strict`` turns into a failed build."""


class ReportInputError(ReportError):
    """A report file (JUnit, coverage, metrics text) is missing, too big or malformed.

    The message always names the file.
    """


class SonarError(ReportError):
    """The SonarCloud/SonarQube Web API could not be read (HTTP error, timeout, bad JSON)."""


class PushError(ReportError):
    """A payload could not be delivered to the gateway.

    ``retryable`` is true for failures that may pass later (connection refused,
    timeout, HTTP 5xx, 429); false when the gateway rejected the payload itself
    (other 4xx), where sending it again gives the same answer.
    """

    def __init__(self, message: str, *, status: int | None = None, retryable: bool) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
