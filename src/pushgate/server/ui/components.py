"""Pieces more than one page shows: label badges, times, status, buttons."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pushgate.core.errors import GroupingKeyError
from pushgate.core.grouping import render_grouping_path
from pushgate.core.model import GroupingKey
from pushgate.server.ui.layout import UiContext
from pushgate.server.ui.markup import Markup, join, render
from pushgate.server.ui.query import query_string
from pushgate.server.ui.times import format_absolute, format_iso, format_relative
from pushgate.store.contract import Group

#: Labels the listing shows as headings rather than in every row.
JOB = "job"
BRANCH = "branch"


def expires_at(group: Group) -> float | None:
    """When the group expires (Unix seconds), if the store keeps an expiry.

    Per-group expiry is being added to the store separately (issue 7); until
    :class:`Group` has an ``expires_at`` attribute this is always ``None`` and
    the pages show no expiry. This is the only place that reads it.
    """
    value = getattr(group, "expires_at", None)
    return float(value) if isinstance(value, int | float) and value > 0 else None


def quote_value(value: str) -> str:
    """``value`` as a double-quoted filter value (see :mod:`.query`)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def describe_key(key: GroupingKey) -> str:
    """``{job="a", instance="b"}``: job first, then the other labels sorted."""
    pairs = sorted(key, key=lambda kv: (kv[0] != JOB, kv[0]))
    return "{" + ", ".join(f"{k}={quote_value(v)}" for k, v in pairs) + "}"


def group_path(key: GroupingKey) -> str | None:
    """The grouping path (``/job/a/instance/b``) or ``None`` if it has none."""
    try:
        return render_grouping_path(key)
    except GroupingKeyError:
        return None


def group_url(ctx: UiContext, key: GroupingKey) -> str | None:
    path = group_path(key)
    return None if path is None else ctx.url("/group" + path)


def filter_url(ctx: UiContext, labels: Mapping[str, str]) -> str:
    """The listing filtered to exactly ``labels``."""
    text = " ".join(f"{k}={quote_value(v)}" for k, v in labels.items())
    return ctx.url("/" + query_string({}, match=text))


def label_badges(ctx: UiContext, pairs: Iterable[tuple[str, str]]) -> Markup:
    """One badge per label; each links to the listing filtered by that label."""
    return join(
        render(
            '<a class="badge{cls}" href="{href}" title="Show groups with {name}={value}">'
            '<span class="badge-name">{name}</span>=<span class="badge-value">{shown}</span></a>',
            cls=f" badge-{name}" if name in ("job", "instance", "branch") else "",
            href=filter_url(ctx, {name: value}),
            name=name,
            value=quote_value(value),
            shown=quote_value(value),
        )
        for name, value in pairs
    )


def time_html(ts: float, now: float, *, absolute: bool = True) -> Markup:
    """The relative time, with the absolute UTC time beside it (or as a tooltip)."""
    if ts <= 0:
        return Markup('<span class="muted">never</span>')
    rel = render(
        '<time datetime="{iso}" title="{abs}">{rel}</time>',
        iso=format_iso(ts),
        abs=format_absolute(ts),
        rel=format_relative(ts, now),
    )
    if not absolute:
        return rel
    return render('{rel} <span class="abs-time">{abs}</span>', rel=rel, abs=format_absolute(ts))


def push_status(group: Group, now: float) -> Markup:
    """ "OK" or "Last push failed" with when, in words and colour."""
    if group.last_push_successful:
        return Markup('<span class="status status-ok">OK</span>')
    return render(
        '<span class="status status-failed">Last push failed</span>'
        ' <span class="abs-time">{when}</span>',
        when=format_relative(group.push_failure_time, now),
    )


def expiry_html(group: Group, now: float) -> Markup:
    expiry = expires_at(group)
    if expiry is None:
        return Markup('<span class="muted" title="No expiry set">—</span>')
    if expiry <= now:
        return render(
            '<span class="status status-failed" title="{abs}">expired</span>',
            abs=format_absolute(expiry),
        )
    return render(
        '<time datetime="{iso}" title="{abs}">{rel}</time>',
        iso=format_iso(expiry),
        abs=format_absolute(expiry),
        rel=format_relative(expiry, now),
    )


def delete_button(
    ctx: UiContext, key: GroupingKey, *, after: str = "", compact: bool = False
) -> Markup:
    """A button that deletes the group after a confirmation (JavaScript only).

    It sends ``DELETE <prefix>/metrics/job@base64/...`` as the official UI
    does; the push API is always there, so the button does not depend on
    ``--web.enable-admin-api``, only on the credential (``ctx.may``). ``after`` is where to go once it is deleted
    (empty: remove the button's table row).
    """
    path = group_path(key)
    if path is None or not ctx.may("delete", key):
        return Markup("")
    return render(
        '<button type="button" class="button danger{small}" hidden data-js-only'
        ' data-delete-url="{url}" data-group="{group}" data-after="{after}"'
        ' aria-label="Delete group {group}">{text}</button>',
        small=" small" if compact else "",
        url=ctx.url("/metrics" + path),
        group=describe_key(key),
        after=after,
        text="Delete" if compact else "Delete group",
    )


def notice(kind: str, message: object) -> Markup:
    role = "alert" if kind == "error" else "status"
    return render(
        '<p class="notice notice-{kind}" role="{role}">{message}</p>',
        kind=kind,
        role=role,
        message=message,
    )
