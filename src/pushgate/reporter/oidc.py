"""GitHub Actions OIDC: a short-lived token that proves which repository pushes.

A job with ``permissions: id-token: write`` gets two variables from the
runner: ``ACTIONS_ID_TOKEN_REQUEST_URL`` and ``ACTIONS_ID_TOKEN_REQUEST_TOKEN``.
``GET <url>&audience=<aud>`` with ``Authorization: Bearer <request token>``
answers ``{"value": "<JWT>"}``: a token signed by GitHub naming the
repository, ref, environment and workflow, for the audience asked for. The
gateway verifies it (``pushgate.server.oidc``), so no secret has to be
shared with the workflow at all.

Neither the request token nor the JWT ever appears in a message: errors
name the variables and the HTTP status only.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping

from pushgate.reporter.client import USER_AGENT, Credentials, HttpClient, HttpRequest
from pushgate.reporter.errors import PushError

ENV_REQUEST_URL = "ACTIONS_ID_TOKEN_REQUEST_URL"
ENV_REQUEST_TOKEN = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"

#: The audience asked for unless ``--oidc-audience`` says otherwise; the
#: gateway's ``pushgate_authorization.oidc.audience`` must name it.
DEFAULT_AUDIENCE = "pushgate"


def oidc_available(env: Mapping[str, str]) -> bool:
    """Whether this job may ask GitHub for a token (``id-token: write``)."""
    return bool(env.get(ENV_REQUEST_URL)) and bool(env.get(ENV_REQUEST_TOKEN))


def token_request_url(base: str, audience: str) -> str:
    """``base`` with ``audience`` set (the runner's URL already has a query)."""
    parts = urllib.parse.urlsplit(base)
    query = [
        (k, v)
        for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        if k != "audience"
    ]
    query.append(("audience", audience))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def describe(audience: str) -> str:
    """What ``Credentials.kind`` says for such a token."""
    return f"GitHub Actions OIDC token (audience {audience!r})"


def fetch_github_token(env: Mapping[str, str], audience: str, client: HttpClient) -> Credentials:
    """Bearer credentials holding a fresh OIDC token; raises :class:`PushError`."""
    base = env.get(ENV_REQUEST_URL) or ""
    request_token = env.get(ENV_REQUEST_TOKEN) or ""
    if not base or not request_token:
        raise PushError(
            f"no GitHub Actions OIDC token: {ENV_REQUEST_URL}/{ENV_REQUEST_TOKEN} are not set;"
            " give the job `permissions: id-token: write`",
            retryable=False,
        )
    request = HttpRequest(
        "GET",
        token_request_url(base, audience),
        headers=(
            ("Authorization", f"Bearer {request_token}"),
            ("Accept", "application/json; api-version=2.0"),
            ("User-Agent", USER_AGENT),
        ),
    )
    try:
        delivery = client.send(request, what="GitHub OIDC token request", gateway=False)
    except PushError as e:
        # The underlying message quotes the runner's URL; the status is enough.
        status = f"HTTP {e.status}" if e.status is not None else "no answer"
        raise PushError(
            f"could not get a GitHub Actions OIDC token from {ENV_REQUEST_URL} ({status});"
            " does the job have `permissions: id-token: write`?",
            status=e.status,
            retryable=e.retryable,
        ) from None
    try:
        value = json.loads(delivery.response.body)["value"]
    except (ValueError, KeyError, TypeError):
        value = None
    if not isinstance(value, str) or value.count(".") != 2:
        raise PushError(
            f"the GitHub OIDC token endpoint ({ENV_REQUEST_URL}) answered without a token",
            retryable=False,
        )
    return Credentials(token=value, token_source=describe(audience))
