"""The status page (``P/status``): start time, build information, flags."""

from __future__ import annotations

import platform
from collections.abc import Mapping

from pushgate.server.ui.layout import UiContext, render_page
from pushgate.server.ui.markup import Markup, join, render
from pushgate.server.ui.times import format_absolute, format_relative


def _table(caption: str, rows: Mapping[str, str]) -> Markup:
    body = join(
        render('<tr><th scope="row"><code>{k}</code></th><td><code>{v}</code></td></tr>', k=k, v=v)
        for k, v in sorted(rows.items())
    )
    return render(
        '<section aria-labelledby="{id}"><h2 id="{id}">{caption}</h2><div class="table-wrap">'
        '<table class="kv"><tbody>{body}</tbody></table></div></section>',
        id=caption.lower().replace(" ", "-"),
        caption=caption,
        body=body or Markup('<tr><td class="muted">none</td></tr>'),
    )


def render_status(ctx: UiContext, *, store_name: str, groups: int, flags: Mapping[str, str]) -> str:
    build = {
        "version": ctx.version,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
    }
    content = render(
        "<h1>Status</h1>"
        '<dl class="facts"><dt>Started</dt><dd>{started} <span class="abs-time">({ago})</span></dd>'
        "<dt>Store</dt><dd><code>{store}</code></dd><dt>Groups</dt><dd>{groups}</dd>"
        "<dt>Admin API</dt><dd>{admin}</dd></dl>{build}{flags}",
        started=format_absolute(ctx.started),
        ago=format_relative(ctx.started, ctx.now),
        store=store_name,
        groups=f"{groups:,}",
        admin="enabled (wipe is available)" if ctx.admin_api else "disabled",
        build=_table("Build information", build),
        flags=_table("Startup flags", flags),
    )
    return render_page(ctx, page="status", title="Status", content=content)
