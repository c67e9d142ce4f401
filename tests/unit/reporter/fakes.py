"""A scripted fake of the one HTTP seam (``Transport``), and a git reader."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pushgate.reporter.client import HttpRequest, HttpResponse, TransportError

Answer = HttpResponse | TransportError | Callable[[HttpRequest], HttpResponse]


@dataclass
class FakeTransport:
    """Answers requests from a script; once the script is used up, the last answer repeats."""

    answers: list[Answer] = field(default_factory=lambda: [HttpResponse(200)])
    requests: list[HttpRequest] = field(default_factory=list)
    timeouts: list[float] = field(default_factory=list)

    def __call__(self, request: HttpRequest, timeout: float) -> HttpResponse:
        self.requests.append(request)
        self.timeouts.append(timeout)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, TransportError):
            raise answer
        if isinstance(answer, HttpResponse):
            return answer
        return answer(request)


def fake_git(answers: Mapping[str, str] | None = None) -> Callable[..., str | None]:
    """A git reader answering ``" ".join(args)`` from a mapping (else: git failed)."""
    table = dict(answers or {})

    def run(*args: str) -> str | None:
        return table.get(" ".join(args))

    return run


NO_SLEEP: Callable[[float], None] = lambda seconds: None  # noqa: E731
