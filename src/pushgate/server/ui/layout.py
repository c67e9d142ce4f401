"""The frame every page shares: head, navigation, dialogs, scripts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from pushgate.core.model import GroupingKey
from pushgate.server.ui.assets import asset_url, load_template
from pushgate.server.ui.markup import Markup, join, render

PageName = Literal["groups", "group", "ci", "status", "error"]

#: The write actions the UI offers: deleting a group, wiping them all.
UiAction = Literal["delete", "admin"]
#: Whether the request's credential may do an action (on a group, or at all).
Permission = Callable[[UiAction, GroupingKey | None], bool]


def allow_all(action: UiAction, key: GroupingKey | None) -> bool:
    """The permission without credentials: everyone may do everything."""
    return True


_NAV: tuple[tuple[PageName, str, str], ...] = (
    ("groups", "/", "Groups"),
    ("ci", "/ci", "CI overview"),
    ("status", "/status", "Status"),
)

#: The confirmation dialog the delete and wipe buttons open (ui.js fills it).
#: Without JavaScript the buttons stay hidden, so the dialog is never shown.
_CONFIRM_DIALOG = Markup(
    '<dialog id="confirm-dialog" aria-labelledby="confirm-title" aria-describedby="confirm-text">'
    '<form method="dialog" class="dialog-body">'
    '<h2 id="confirm-title">Confirm</h2>'
    '<p id="confirm-text"></p>'
    '<p class="dialog-error" id="confirm-error" role="alert" hidden></p>'
    '<div class="dialog-actions">'
    '<button type="submit" value="cancel" class="button" autofocus>Cancel</button> '
    '<button type="button" id="confirm-ok" class="button danger">Delete</button>'
    "</div></form></dialog>"
    '<div id="announcer" class="visually-hidden" role="status" aria-live="polite"></div>'
)


@dataclass(frozen=True, slots=True)
class UiContext:
    """What every page needs to know about the request and the gateway.

    ``base`` prefixes every link: the external URL's path when one is set,
    otherwise a relative path back to the route prefix (``.``, ``../..``), as
    the official UI does, so a proxy that strips a prefix still works.
    ``public_url`` is the absolute URL shown in copyable commands. ``may``
    tells which buttons to offer; the server checks again on every request.
    """

    base: str
    public_url: str
    admin_api: bool
    now: float
    version: str
    started: float
    may: Permission = field(default=allow_all)

    def url(self, path: str) -> str:
        """A link to ``path`` (starting with ``/``) under the UI base."""
        return self.base + path


def render_page(
    ctx: UiContext,
    *,
    page: PageName,
    title: str,
    content: Markup,
    charts: bool = False,
    dialogs: bool = False,
) -> str:
    """The whole HTML document of one page."""
    styles = [asset_url(ctx.base, "ui.css")]
    scripts = [asset_url(ctx.base, "ui.js")]
    if charts:
        styles.insert(0, asset_url(ctx.base, "vendor/uPlot.min.css"))
        scripts.insert(0, asset_url(ctx.base, "vendor/uPlot.iife.min.js"))
    nav = join(
        render(
            '<li><a href="{href}"{current}>{label}</a></li>',
            href=ctx.url(path),
            current=Markup(' aria-current="page"' if name == page else ""),
            label=label,
        )
        for name, path, label in _NAV
    )
    return render(
        load_template("page.html"),
        title=title,
        base=ctx.base,
        page=page,
        favicon=asset_url(ctx.base, "favicon.svg"),
        styles=join(render('<link rel="stylesheet" href="{href}">', href=s) for s in styles),
        nav=nav,
        info=f"pushgate {ctx.version}",
        content=content,
        dialogs=_CONFIRM_DIALOG if dialogs else Markup(""),
        scripts=join(render('<script src="{src}" defer></script>', src=s) for s in scripts),
    )
