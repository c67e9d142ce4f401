"""The web UI at ``/`` and ``/status``: groups, their families, and the status.

Server-rendered HTML that works without JavaScript. Deleting uses the same
``@base64`` URL scheme as the official UI, so empty label values work.
"""

from __future__ import annotations

import html
import importlib.resources
import mimetypes

from aiohttp import web

from pushgate import __version__
from pushgate.core.floats import format_float
from pushgate.core.grouping import render_grouping_path
from pushgate.server.api_v1 import rfc3339_nano
from pushgate.server.errors import text_error
from pushgate.server.gateway import Gateway
from pushgate.store.contract import Group

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pushgate</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1.5rem;color:#1b1b1b;background:#fff}}
h1{{font-size:1.4rem}} .group{{border:1px solid #bbb;border-radius:6px;margin:.6rem 0;padding:.5rem .8rem}}
.badge{{display:inline-block;border-radius:4px;padding:0 .4rem;margin:0 .2rem .2rem 0;background:#e8eef7;font-family:monospace}}
.job{{background:#ffe8b3}} .failed{{background:#b00020;color:#fff}}
table{{border-collapse:collapse;margin:.3rem 0}} td,th{{border:1px solid #ccc;padding:.15rem .5rem;text-align:left;font-family:monospace}}
</style></head><body>
<h1>pushgate</h1>
<p>{count} group(s). Version {version}. Started {started}.</p>
{groups}
</body></html>
"""


def _badges(group: Group) -> str:
    out = []
    for name, value in sorted(group.key, key=lambda kv: (kv[0] != "job", kv[0])):
        cls = "badge job" if name == "job" else "badge"
        out.append(f'<span class="{cls}">{html.escape(name)}="{html.escape(value)}"</span>')
    if not group.last_push_successful:
        out.append('<span class="badge failed">Last push failed!</span>')
    return "".join(out)


def _group_html(group: Group, prefix: str, admin: bool) -> str:
    rows = []
    for name, stored in sorted(group.families.items()):
        family = stored.family
        for metric in family.metrics:
            labels = ",".join(f'{k}="{v}"' for k, v in metric.labels)
            value = (
                format_float(metric.value)
                if family.type not in ("summary", "histogram")
                else f"count={metric.sample_count} sum={format_float(metric.sample_sum)}"
            )
            rows.append(
                f"<tr><td>{html.escape(name)}</td><td>{family.type.upper()}</td>"
                f"<td>{html.escape(labels)}</td><td>{html.escape(value)}</td>"
                f"<td>{rfc3339_nano(stored.last_push)[:19]}Z</td></tr>"
            )
    delete = ""
    if admin:
        path = html.escape(prefix + "/metrics" + render_grouping_path(group.key))
        delete = f'<button type="button" data-delete="{path}">Delete Group</button>'
    return (
        f'<div class="group"><div>{_badges(group)} {delete}</div>'
        "<table><tr><th>Metric</th><th>Type</th><th>Labels</th><th>Value</th>"
        f"<th>Last pushed</th></tr>{''.join(rows)}</table></div>"
    )


async def handle_index(gw: Gateway, request: web.Request, params: dict[str, str]) -> web.Response:
    groups = gw.store.groups()
    prefix = gw.settings.effective_prefix
    page = _PAGE.format(
        count=len(groups),
        version=html.escape(__version__),
        started=rfc3339_nano(gw.start_time),
        groups="".join(_group_html(g, prefix, gw.settings.enable_admin_api) for g in groups),
    )
    gw.metrics.count_request(200, "status", "get")
    return web.Response(text=page, headers={"Content-Type": "text/html; charset=utf-8"})


async def handle_static(gw: Gateway, request: web.Request, params: dict[str, str]) -> web.Response:
    name = params.get("filepath", "").lstrip("/")
    root = importlib.resources.files("pushgate.server") / "static"
    if not name or ".." in name.split("/"):
        return text_error(404, "404 page not found")
    resource = root.joinpath(*name.split("/"))
    if not resource.is_file():
        gw.metrics.count_request(404, "static", "get")
        return text_error(404, "404 page not found")
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    gw.metrics.count_request(200, "static", "get")
    return web.Response(body=resource.read_bytes(), headers={"Content-Type": content_type})
