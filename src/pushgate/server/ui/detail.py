"""A group's page (``P/group/job/<job>/...``): its families, samples and commands.

The URL is the group's push URL with ``/group`` in place of ``/metrics``, so
a group's page is found from its push URL and the other way round.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal

from pushgate.core.model import GroupingKey, Metric, MetricFamily
from pushgate.core.textformat import render_text
from pushgate.server.ui.components import (
    BRANCH,
    JOB,
    delete_button,
    describe_key,
    expiry_html,
    filter_url,
    group_path,
    label_badges,
    notice,
    push_status,
    quote_value,
    time_html,
)
from pushgate.server.ui.layout import UiContext, render_page
from pushgate.server.ui.markup import Markup, join, render
from pushgate.server.ui.query import int_param, query_string
from pushgate.server.ui.times import format_absolute
from pushgate.store.contract import PUSH_FAILURE_TIME_NAME, PUSH_TIME_NAME, Group

#: Series shown per family unless ``?series=`` asks for more (up to the max).
DEFAULT_SERIES = 500
MAX_SERIES = 10_000
#: Above this many lines the recreate command is not shown (it would be the
#: whole group pasted into a terminal).
MAX_COMMAND_LINES = 2_000
_BOOKKEEPING = (PUSH_TIME_NAME, PUSH_FAILURE_TIME_NAME)
#: Unix times between 2001 and 2096 in a ``*time*_seconds`` gauge are shown as dates too.
_EPOCH_RANGE = (1e9, 4e9)


def format_value(v: float) -> str:
    """A sample value in plain decimal notation, as the official UI shows it.

    Go's ``FormatFloat(v, 'f', -1, 64)``: the shortest digits that read back
    as ``v``, never an exponent (``1714567890.123``, not ``1.714567890123e+09``).
    """
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    text = format(Decimal(repr(v)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _series_labels(metric: Metric, key: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The labels that tell a group's series apart: not the grouping labels."""
    return tuple(
        (k, v)
        for k, v in metric.labels
        if key.get(k) != v and not (k == "instance" and v == "" and "instance" not in key)
    )


def _labels_text(pairs: tuple[tuple[str, str], ...]) -> Markup:
    if not pairs:
        return Markup('<span class="muted">(no other labels)</span>')
    return join(
        (
            render('<span class="label-pair">{k}={v}</span>', k=k, v=quote_value(v))
            for k, v in pairs
        ),
        ", ",
    )


def _value_html(family: MetricFamily, value: float) -> Markup:
    text = format_value(value)
    looks_like_time = "time" in family.name and family.name.endswith("_seconds")
    if looks_like_time and _EPOCH_RANGE[0] <= value <= _EPOCH_RANGE[1]:
        return render(
            '{v} <span class="abs-time">{when}</span>', v=text, when=format_absolute(value)
        )
    return render("{v}", v=text)


def _simple_table(
    family: MetricFamily, metrics: tuple[Metric, ...], key: Mapping[str, str]
) -> Markup:
    rows = join(
        render(
            '<tr><td>{labels}</td><td class="num">{value}</td></tr>',
            labels=_labels_text(_series_labels(m, key)),
            value=_value_html(family, m.value),
        )
        for m in metrics
    )
    return render(
        '<div class="table-wrap"><table class="samples"><caption class="visually-hidden">'
        'Samples of {name}</caption><thead><tr><th scope="col">Labels</th>'
        '<th scope="col" class="num">Value</th></tr></thead><tbody>{rows}</tbody></table></div>',
        name=family.name,
        rows=rows,
    )


def _count_sum(m: Metric) -> Markup:
    return render(
        '<p class="count-sum">Count <strong>{count}</strong> · Sum <strong>{sum}</strong></p>',
        count=f"{m.sample_count:,}",
        sum=format_value(m.sample_sum),
    )


def _histogram(family: MetricFamily, m: Metric, key: Mapping[str, str]) -> Markup:
    buckets = list(m.buckets)
    if not buckets or not math.isinf(buckets[-1][0]):
        buckets.append((math.inf, m.sample_count))
    cumulative_counts = [c for _, c in buckets]
    counts = [c - p for c, p in zip(cumulative_counts, [0, *cumulative_counts[:-1]], strict=True)]
    peak = max(1, *counts)
    rows = []
    for (bound, cumulative), in_bucket in zip(buckets, counts, strict=True):
        rows.append(
            render(
                '<tr><th scope="row" class="num">≤ {le}</th><td class="num">{cum}</td>'
                '<td class="num">{n}</td><td class="bar-cell"><meter min="0" max="{peak}"'
                ' value="{n_raw}" aria-label="{n} observations up to {le}"></meter></td></tr>',
                le=format_value(bound),
                cum=f"{cumulative:,}",
                n=f"{in_bucket:,}",
                n_raw=max(in_bucket, 0),
                peak=peak,
            )
        )
    return render(
        '<div class="metric-block"><h4>{labels}</h4><div class="table-wrap"><table class="buckets">'
        '<caption class="visually-hidden">Buckets of {name} {labels_text}</caption>'
        '<thead><tr><th scope="col" class="num">Upper bound (le)</th>'
        '<th scope="col" class="num">Cumulative count</th>'
        '<th scope="col" class="num">In bucket</th><th scope="col">Distribution</th></tr></thead>'
        "<tbody>{rows}</tbody></table></div>{count_sum}</div>",
        labels=_labels_text(_series_labels(m, key)),
        labels_text=", ".join(f"{k}={v}" for k, v in _series_labels(m, key)),
        name=family.name,
        rows=join(rows),
        count_sum=_count_sum(m),
    )


def _summary(family: MetricFamily, m: Metric, key: Mapping[str, str]) -> Markup:
    rows = join(
        render(
            '<tr><th scope="row" class="num">{q}</th><td class="num">{v}</td></tr>',
            q=format_value(q),
            v=format_value(v),
        )
        for q, v in m.quantiles
    )
    table = (
        render(
            '<div class="table-wrap"><table class="quantiles"><caption class="visually-hidden">'
            'Quantiles of {name}</caption><thead><tr><th scope="col" class="num">Quantile</th>'
            '<th scope="col" class="num">Value</th></tr></thead><tbody>{rows}</tbody></table></div>',
            name=family.name,
            rows=rows,
        )
        if m.quantiles
        else Markup("")
    )
    return render(
        '<div class="metric-block"><h4>{labels}</h4>{table}{count_sum}</div>',
        labels=_labels_text(_series_labels(m, key)),
        table=table,
        count_sum=_count_sum(m),
    )


def _family(
    ctx: UiContext,
    family: MetricFamily,
    last_push: float,
    key: Mapping[str, str],
    limit: int,
    query: Mapping[str, str],
) -> Markup:
    metrics = family.metrics[:limit]
    if family.type == "histogram":
        body = join(_histogram(family, m, key) for m in metrics)
    elif family.type == "summary":
        body = join(_summary(family, m, key) for m in metrics)
    else:
        body = _simple_table(family, metrics, key)
    more = Markup("")
    if len(family.metrics) > limit:
        bigger = min(MAX_SERIES, max(limit * 10, len(family.metrics)))
        link = (
            render(
                ' <a href="{href}">Show up to {n}</a>',
                href=query_string(query, series=bigger),
                n=f"{bigger:,}",
            )
            if limit < MAX_SERIES
            else Markup("")
        )
        more = notice(
            "info",
            render(
                "Showing {shown} of {total} series.{link}",
                shown=f"{limit:,}",
                total=f"{len(family.metrics):,}",
                link=link,
            ),
        )
    help_html = (
        render('<p class="help-text">{h}</p>', h=family.help)
        if family.help
        else Markup('<p class="help-text muted">No HELP text.</p>')
    )
    return render(
        '<section class="family" id="family-{name}" aria-labelledby="family-title-{name}">'
        '<h3 id="family-title-{name}"><code>{name}</code> '
        '<span class="type type-{type}">{TYPE}</span></h3>{help}'
        '<p class="family-meta">Last pushed {when} · {count}</p>{body}{more}</section>',
        name=family.name,
        type=family.type,
        TYPE=family.type.upper(),
        help=help_html,
        when=time_html(last_push, ctx.now),
        count=f"{len(family.metrics):,} series" if len(family.metrics) != 1 else "1 series",
        body=body,
        more=more,
    )


def _shell_quote(s: str) -> str:
    return "'" + s.replace("'", "'\"'\"'") + "'"


def recreate_body(group: Group) -> str | None:
    """The text exposition that a PUT would need to recreate ``group``.

    The gateway's own bookkeeping families are left out (it writes them on
    every push), and so are the grouping labels of each series (the URL sets
    them). ``None`` if the group is too large to paste.
    """
    key = dict(group.key)
    families = []
    lines = 0
    for name in sorted(group.families):
        if name in _BOOKKEEPING:
            continue
        family = group.families[name].family
        metrics = tuple(m._replace(labels=_series_labels(m, key)) for m in family.metrics)
        lines += 2 + sum(len(m.buckets) + len(m.quantiles) + 2 for m in metrics)
        if lines > MAX_COMMAND_LINES:
            return None
        families.append(MetricFamily(family.name, family.type, family.help, metrics))
    return render_text(families).decode("utf-8", "replace")


def commands(ctx: UiContext, group: Group) -> tuple[str | None, str]:
    """The shell commands that recreate (``None`` if too large) and delete ``group``."""
    path = group_path(group.key) or ""
    url = _shell_quote(ctx.public_url + "/metrics" + path)
    body = recreate_body(group)
    recreate = None
    if body is not None:
        recreate = f"cat <<'PUSHGATE_EOF' | curl -X PUT --data-binary @- {url}\n{body}PUSHGATE_EOF"
    return recreate, f"curl -X DELETE {url}"


def _command_block(ident: str, title: str, explanation: str, command: str) -> Markup:
    return render(
        '<div class="command"><div class="command-head"><h3 id="{id}-title">{title}</h3>'
        '<button type="button" class="button small copy" hidden data-js-only'
        ' data-copy-target="{id}" aria-label="Copy the command: {title}">Copy</button></div>'
        "<p>{explanation}</p>"
        '<div class="code-block"><pre id="{id}" tabindex="0" aria-labelledby="{id}-title">'
        "<code>{command}</code></pre></div></div>",
        id=ident,
        title=title,
        explanation=explanation,
        command=command,
    )


def render_detail(ctx: UiContext, group: Group, query: Mapping[str, str]) -> str:
    key = dict(group.key)
    limit = int_param(query, "series", DEFAULT_SERIES, 1, MAX_SERIES)
    title = key.get("instance") or key.get(JOB, "")
    crumbs = [render('<li><a href="{href}">Groups</a></li>', href=ctx.url("/"))]
    crumbs.append(
        render(
            '<li><a href="{href}">job {job}</a></li>',
            href=filter_url(ctx, {JOB: key.get(JOB, "")}),
            job=key.get(JOB, ""),
        )
    )
    if BRANCH in key:
        crumbs.append(
            render(
                '<li><a href="{href}">branch {b}</a></li>',
                href=filter_url(ctx, {JOB: key.get(JOB, ""), BRANCH: key[BRANCH]}),
                b=key[BRANCH],
            )
        )
    crumbs.append(render('<li aria-current="page">{t}</li>', t=title))
    families = [group.families[n] for n in sorted(group.families)]
    failure = (
        render(
            ' <span class="abs-time">(failed at {t})</span>',
            t=format_absolute(group.push_failure_time),
        )
        if not group.last_push_successful
        else Markup("")
    )
    recreate, delete = commands(ctx, group)
    recreate_html = (
        _command_block(
            "cmd-recreate",
            "Recreate this group",
            "PUT replaces the whole group with these families; the gateway adds"
            " push_time_seconds itself. Add -u USER if the gateway asks for credentials.",
            recreate,
        )
        if recreate is not None
        else notice(
            "info",
            f"The group is too large for a recreate command ({group.series_count:,} series).",
        )
    )
    delete_html = _command_block(
        "cmd-delete", "Delete this group", "Deletes every family of this group.", delete
    )
    toc = join(
        render(
            '<li><a href="#family-{n}"><code>{n}</code></a> <span class="muted">{t}</span></li>',
            n=s.family.name,
            t=s.family.type,
        )
        for s in families
    )
    content = render(
        '<nav class="breadcrumb" aria-label="Breadcrumb"><ol>{crumbs}</ol></nav>'
        '<div class="group-header"><h1>Group <span class="group-title">{title}</span></h1>{delete}</div>'
        '<dl class="facts">'
        '<dt>Grouping key</dt><dd><div class="badges">{badges}</div></dd>'
        "<dt>Last push</dt><dd>{push}</dd>"
        "<dt>Last push status</dt><dd>{status}{failure}</dd>"
        "<dt>Series</dt><dd>{series} in {nfam}</dd>"
        "<dt>Expires</dt><dd>{expiry}</dd>"
        "</dl>"
        '<section aria-labelledby="commands-title"><h2 id="commands-title">Commands</h2>'
        '<div class="commands">{recreate}{delete_cmd}</div></section>'
        '<section aria-labelledby="families-title"><h2 id="families-title">Metric families</h2>'
        '<nav aria-label="Families of this group"><ul class="toc">{toc}</ul></nav>'
        "{families}</section>",
        crumbs=join(crumbs),
        title=title,
        delete=delete_button(ctx, group.key, after=ctx.url("/")),
        badges=label_badges(ctx, sorted(group.key, key=lambda kv: (kv[0] != JOB, kv[0]))),
        push=time_html(group.push_time, ctx.now),
        status=push_status(group, ctx.now),
        failure=failure,
        series=f"{group.series_count:,} series",
        nfam=f"{len(families)} families" if len(families) != 1 else "1 family",
        expiry=expiry_html(group, ctx.now),
        recreate=recreate_html,
        delete_cmd=delete_html,
        toc=toc,
        families=join(_family(ctx, s.family, s.last_push, key, limit, query) for s in families),
    )
    return render_page(
        ctx, page="group", title=f"Group {describe_key(group.key)}", content=content, dialogs=True
    )


def render_missing(ctx: UiContext, key: GroupingKey | None, message: str = "") -> str:
    """The 404 page for a group that does not exist (or a bad group URL)."""
    what = describe_key(key) if key is not None else ""
    text = message or f"There is no group {what}. It may have been deleted."
    content = render(
        '<h1>Group not found</h1>{notice}<p><a href="{href}">Back to all groups</a></p>',
        notice=notice("error", text),
        href=ctx.url("/"),
    )
    return render_page(ctx, page="error", title="Group not found", content=content)
