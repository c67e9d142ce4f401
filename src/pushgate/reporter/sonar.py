"""SonarCloud / SonarQube measures through the Web API.

Two documented endpoints are read:

* ``GET /api/measures/component?component=KEY&metricKeys=...`` answers
  ``{"component": {"key": ..., "measures": [{"metric": "bugs", "value": "3"}, ...]}}``;
* ``GET /api/qualitygates/project_status?projectKey=KEY`` answers
  ``{"projectStatus": {"status": "OK" | "WARN" | "ERROR" | "NONE", ...}}``.

Errors come back as ``{"errors": [{"msg": "..."}]}`` with 4xx statuses; their
``msg`` is quoted in our message. The token is sent as the basic-auth user
with an empty password, which SonarCloud and every SonarQube version accept.
"""

from __future__ import annotations

import base64
import json
import math
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from pushgate.reporter.client import HttpClient, HttpRequest, HttpResponse
from pushgate.reporter.errors import PushError, SonarError

#: Environment variable with the token, the one the Sonar scanners read too.
ENV_SONAR_TOKEN = "SONAR_TOKEN"

#: Sonar metric keys read, in the order they are reported.
MEASURE_KEYS = ("coverage", "bugs", "vulnerabilities", "code_smells", "duplicated_lines_density")


@dataclass(frozen=True, slots=True)
class SonarSettings:
    url: str
    project_key: str
    branch: str | None = None
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class SonarMeasures:
    """The measures found (missing ones are absent) and the quality gate status."""

    measures: tuple[tuple[str, float], ...]
    quality_gate: str | None


def _auth(token: str | None) -> tuple[tuple[str, str], ...]:
    if not token:
        return ()
    return (("Authorization", "Basic " + base64.b64encode(f"{token}:".encode()).decode()),)


def _get(
    client: HttpClient, settings: SonarSettings, path: str, query: Mapping[str, str]
) -> object:
    url = f"{settings.url.rstrip('/')}{path}?{urllib.parse.urlencode(query)}"
    headers = (("Accept", "application/json"), ("User-Agent", "pushgate-report"))
    request = HttpRequest("GET", url, headers + _auth(settings.token))
    try:
        response = client.send(request, what="Sonar request", gateway=False).response
    except PushError as exc:
        raise SonarError(_explain(exc, settings)) from exc
    return _json(url, response)


def _json(url: str, response: HttpResponse) -> object:
    try:
        return json.loads(response.body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SonarError(f"Sonar request to {url} answered something that is not JSON") from exc


def _explain(exc: PushError, settings: SonarSettings) -> str:
    base = str(exc)
    if exc.status == 401:
        hint = (
            f"the token in {ENV_SONAR_TOKEN} is invalid or expired"
            if settings.token
            else f"set {ENV_SONAR_TOKEN} to a Sonar user token"
        )
        return f"{base}; {hint}"
    if exc.status == 403:
        return f"{base}; the token's user needs the Browse permission on {settings.project_key!r}"
    if exc.status == 404:
        branch = f" and --sonar-branch {settings.branch!r}" if settings.branch else ""
        return f"{base}; check --sonar-project {settings.project_key!r}{branch}"
    return base


def _errors_text(body: object) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        msgs = [str(e.get("msg")) for e in body["errors"] if isinstance(e, dict) and "msg" in e]
        return "; ".join(msgs) or None
    return None


def fetch_sonar(client: HttpClient, settings: SonarSettings) -> SonarMeasures:
    """The measures and quality gate of ``settings.project_key``."""
    query = {"component": settings.project_key, "metricKeys": ",".join(MEASURE_KEYS)}
    gate_query = {"projectKey": settings.project_key}
    if settings.branch:
        query["branch"] = settings.branch
        gate_query["branch"] = settings.branch
    body = _get(client, settings, "/api/measures/component", query)
    measures = parse_measures(body)
    gate_body = _get(client, settings, "/api/qualitygates/project_status", gate_query)
    return SonarMeasures(measures, parse_gate_status(gate_body))


def parse_measures(body: object) -> tuple[tuple[str, float], ...]:
    """``(metric key, value)`` pairs from an ``/api/measures/component`` answer."""
    errors = _errors_text(body)
    if errors:
        raise SonarError(f"Sonar answered with errors: {errors}")
    component = body.get("component") if isinstance(body, dict) else None
    raw = component.get("measures") if isinstance(component, dict) else None
    if not isinstance(raw, list):
        raise SonarError(
            "Sonar answer to /api/measures/component has no component.measures list; "
            "is --sonar-url a SonarCloud/SonarQube server?"
        )
    found: dict[str, float] = {}
    for item in raw:
        if not isinstance(item, dict) or item.get("metric") not in MEASURE_KEYS:
            continue
        # A measure of new code only carries "period"; the overall value is "value".
        value = item.get("value")
        if value is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise SonarError(
                f"Sonar measure {item['metric']!r} has value {value!r}, not a number"
            ) from None
        if math.isfinite(number):
            found[str(item["metric"])] = number
    return tuple((key, found[key]) for key in MEASURE_KEYS if key in found)


def parse_gate_status(body: object) -> str | None:
    """The quality gate status from an ``/api/qualitygates/project_status`` answer."""
    errors = _errors_text(body)
    if errors:
        raise SonarError(f"Sonar answered with errors: {errors}")
    status = body.get("projectStatus") if isinstance(body, dict) else None
    value = status.get("status") if isinstance(status, dict) else None
    if not isinstance(value, str):
        raise SonarError(
            "Sonar answer to /api/qualitygates/project_status has no projectStatus.status"
        )
    return value
