"""The groups page (``P/``): every group by job, then branch, filtered and paged.

Filtering and paging happen here, over the store's snapshot, so the page
costs what one page shows plus one pass over the groups' keys; it never
renders the series themselves (those are on each group's page).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from pushgate.core.model import GroupingKey
from pushgate.server.ui.components import (
    BRANCH,
    JOB,
    delete_button,
    expiry_html,
    filter_url,
    group_url,
    label_badges,
    notice,
    push_status,
    quote_value,
    time_html,
)
from pushgate.server.ui.layout import UiContext, render_page
from pushgate.server.ui.markup import Markup, escape, join, render
from pushgate.server.ui.query import GroupFilter, Page, int_param, query_string
from pushgate.store.contract import Group

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
PAGE_SIZES = (50, 100, 200, 500)
#: How many matching family names a row lists under a metric search.
SHOWN_FAMILY_MATCHES = 5
NO_BRANCH = "(no branch label)"


class ListedGroup(NamedTuple):
    """A group that passed the filter, as the listing sorts it.

    A plain tuple: sorting 10,000 of them must be cheap. The order is job,
    then branch (groups without one last), then newest push first; grouping
    keys are unique, so ``group`` itself is never compared.
    """

    job: str
    no_branch: bool
    branch_value: str
    newest_first: float
    key: GroupingKey
    group: Group

    @property
    def branch(self) -> str | None:
        return None if self.no_branch else self.branch_value


def select_groups(groups: Sequence[Group], flt: GroupFilter) -> list[ListedGroup]:
    """The groups ``flt`` lets through, in listing order."""
    out: list[ListedGroup] = []
    active = flt.active
    for group in groups:
        labels = dict(group.key)
        if active and not flt.matches(group, labels):
            continue
        branch = labels.get(BRANCH)
        out.append(
            ListedGroup(
                labels.get(JOB, ""),
                branch is None,
                branch or "",
                -group.push_time,
                group.key,
                group,
            )
        )
    out.sort()
    return out


def _filter_form(ctx: UiContext, flt: GroupFilter, query: Mapping[str, str], size: int) -> Markup:
    status_options = join(
        render(
            '<option value="{value}"{selected}>{label}</option>',
            value=value,
            label=label,
            selected=Markup(" selected" if flt.status == value else ""),
        )
        for value, label in (("", "any"), ("failed", "failed"), ("ok", "succeeded"))
    )
    size_options = join(
        render(
            '<option value="{n}"{selected}>{n}</option>',
            n=n,
            selected=Markup(" selected" if n == size else ""),
        )
        for n in PAGE_SIZES
    )
    return render(
        '<form class="filters" method="get" action="{action}" role="search"'
        ' aria-label="Filter groups">'
        '<div class="field field-wide"><label for="f-match">Labels</label>'
        '<input id="f-match" name="match" type="search" value="{match}"'
        ' placeholder=\'branch=main job=~"api-.*" 1.4.2\' aria-describedby="f-match-help"'
        ' autocomplete="off" spellcheck="false">'
        '<small id="f-match-help" class="help">name=value, name!=value, name=~regex, name!~regex;'
        " a plain word matches any label.</small></div>"
        '<div class="field"><label for="f-metric">Metric name contains</label>'
        '<input id="f-metric" name="metric" type="search" value="{metric}"'
        ' placeholder="coverage" autocomplete="off" spellcheck="false"></div>'
        '<div class="field"><label for="f-status">Last push</label>'
        '<select id="f-status" name="status">{status_options}</select></div>'
        '<div class="field"><label for="f-size">Per page</label>'
        '<select id="f-size" name="size">{size_options}</select></div>'
        '<div class="field field-buttons"><button type="submit" class="button primary">Filter</button>'
        ' <a class="button" href="{reset}">Clear</a></div>'
        "</form>",
        action=ctx.url("/"),
        match=flt.text,
        metric=flt.metric,
        status_options=status_options,
        size_options=size_options,
        reset=ctx.url("/"),
    )


def pager(ctx: UiContext, path: str, page: Page, query: Mapping[str, str], noun: str) -> Markup:
    """Previous/next links and where this page is in the list."""
    if page.pages == 1:
        return Markup("")

    def link(number: int, text: str, rel: str) -> Markup:
        href = ctx.url(path + query_string(query, page=number))
        return render(
            '<a class="button" href="{href}" rel="{rel}">{text}</a>', href=href, rel=rel, text=text
        )

    def disabled(text: str) -> Markup:
        return render('<span class="button" aria-disabled="true">{text}</span>', text=text)

    prev = (
        link(page.number - 1, "← Previous", "prev") if page.number > 1 else disabled("← Previous")
    )
    nxt = (
        link(page.number + 1, "Next →", "next") if page.number < page.pages else disabled("Next →")
    )
    first = link(1, "First", "first") if page.number > 2 else Markup("")
    last = link(page.pages, "Last", "last") if page.number < page.pages - 1 else Markup("")
    return render(
        '<nav class="pager" aria-label="Pages of {noun}">{first}{prev}'
        '<span class="pager-info">Page {n} of {pages}</span>{nxt}{last}</nav>',
        noun=noun,
        first=first,
        prev=prev,
        n=page.number,
        pages=page.pages,
        nxt=nxt,
        last=last,
    )


_TABLE_HEAD = Markup(
    "<thead><tr>"
    '<th scope="col">Group</th><th scope="col">Last push</th><th scope="col">Status</th>'
    '<th scope="col" class="num">Series</th><th scope="col">Expires</th>'
    '<th scope="col"><span class="visually-hidden">Actions</span></th>'
    "</tr></thead>"
)


def _row(ctx: UiContext, item: ListedGroup, flt: GroupFilter) -> Markup:
    group = item.group
    # The row's title is the instance (one CI run) and the other labels are
    # badges; a group without an instance is titled by its other labels.
    instance = dict(group.key).get("instance")
    rest = [(k, v) for k, v in group.key if k not in (JOB, BRANCH, "instance")]
    if instance:
        title, others = instance, rest
    else:
        title = ", ".join(f"{k}={quote_value(v)}" for k, v in rest) or "(no other labels)"
        others = []
    href = group_url(ctx, group.key)
    link = (
        render('<a class="group-link" href="{href}">{title}</a>', href=href, title=title)
        if href is not None
        else escape(title)
    )
    matched = Markup("")
    families = flt.matching_families(group) if flt.metric else []
    if families:
        shown = families[:SHOWN_FAMILY_MATCHES]
        more = len(families) - len(shown)
        matched = render(
            '<div class="family-matches">Metrics: {names}{more}</div>',
            names=join((render("<code>{n}</code>", n=n) for n in shown), ", "),
            more=f" and {more} more" if more > 0 else "",
        )
    return render(
        '<tr data-group-row class="{cls}"><td class="group-cell">{link}'
        '<div class="badges">{badges}</div>{matched}</td>'
        "<td>{time}</td><td>{status}</td>"
        '<td class="num">{series}</td><td>{expiry}</td><td class="actions">{delete}</td></tr>',
        cls="row-failed" if not group.last_push_successful else "",
        link=link,
        badges=label_badges(ctx, others),
        matched=matched,
        time=time_html(group.push_time, ctx.now),
        status=push_status(group, ctx.now),
        series=f"{group.series_count:,}",
        expiry=expiry_html(group, ctx.now),
        delete=delete_button(ctx, group.key, compact=True),
    )


_CLOSE_BRANCH = Markup("</tbody></table></div></section>")
_CLOSE_JOB = Markup("</section>")
_CONTINUED = Markup(' <span class="muted">(continued)</span>')


def _sections(
    ctx: UiContext,
    shown: Sequence[ListedGroup],
    all_items: Sequence[ListedGroup],
    first: int,
    flt: GroupFilter,
) -> Markup:
    """Job sections holding branch sections holding one table each.

    Counts are those of every matching group, not only this page's; a
    section that began on the previous page says "(continued)".
    """
    job_counts = Counter(i[0] for i in all_items)
    branch_counts = Counter(i[:3] for i in all_items)
    before = all_items[first - 1] if first > 0 else None
    out: list[Markup] = []
    current: tuple[str, str | None] | None = None
    for n, item in enumerate(shown):
        new_job = current is None or item.job != current[0]
        new_branch = new_job or current is None or item.branch != current[1]
        if new_branch and current is not None:
            out.append(_CLOSE_BRANCH)
        if new_job and current is not None:
            out.append(_CLOSE_JOB)
        if new_job:
            continued = n == 0 and before is not None and before.job == item.job
            out.append(
                render(
                    '<section class="job-section" aria-labelledby="job-{n}">'
                    '<h2 id="job-{n}"><span class="heading-kind">job</span> '
                    '<a href="{href}">{job}</a> <span class="count">{count}</span>{cont}</h2>',
                    n=n,
                    href=filter_url(ctx, {JOB: item.job}),
                    job=item.job,
                    count=_count(job_counts[item.job], "group"),
                    cont=_CONTINUED if continued else "",
                )
            )
        if new_branch:
            continued = (
                n == 0
                and before is not None
                and (before.job, before.branch) == (item.job, item.branch)
            )
            branch = item.branch if item.branch is not None else NO_BRANCH
            out.append(
                render(
                    '<section class="branch-section" aria-labelledby="branch-{n}">'
                    '<h3 id="branch-{n}"><span class="heading-kind">branch</span> '
                    '<a href="{href}">{branch}</a> <span class="count">{count}</span>{cont}</h3>'
                    '<div class="table-wrap"><table class="groups">'
                    '<caption class="visually-hidden">Groups of job {job}, branch {branch}</caption>'
                    "{head}<tbody>",
                    n=n,
                    href=filter_url(ctx, {JOB: item.job, BRANCH: item.branch or ""}),
                    branch=branch,
                    job=item.job,
                    count=_count(branch_counts[item[:3]], "group"),
                    cont=_CONTINUED if continued else "",
                    head=_TABLE_HEAD,
                )
            )
        current = (item.job, item.branch)
        out.append(_row(ctx, item, flt))
    if current is not None:
        out += [_CLOSE_BRANCH, _CLOSE_JOB]
    return join(out)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def render_listing(ctx: UiContext, groups: Sequence[Group], query: Mapping[str, str]) -> str:
    flt = GroupFilter.from_query(query)
    size = int_param(query, "size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    items = select_groups(groups, flt) if not flt.error else []
    page = Page(int_param(query, "page", 1, 1, 10**9), size, len(items))
    shown = page.items(items)
    parts = [Markup("<h1>Groups</h1>"), _filter_form(ctx, flt, query, size)]
    if flt.error:
        parts.append(notice("error", f"The label filter was not applied: {flt.error}"))
    summary: Markup
    if not groups:
        summary = render(
            '<p>No groups yet. Push one with <code>echo "some_metric 3.14" | curl'
            " --data-binary @- {url}/metrics/job/some_job</code></p>",
            url=ctx.public_url,
        )
    elif not items:
        summary = render(
            "<p>No group matches the filter ({total} stored).</p>",
            total=_count(len(groups), "group"),
        )
    else:
        summary = (
            render(
                "<p>Showing {first}\N{EN DASH}{last} of {matching} matching groups ({total} stored).</p>",
                first=f"{page.start + 1:,}",
                last=f"{page.end:,}",
                matching=f"{len(items):,}",
                total=f"{len(groups):,}",
            )
            if flt.active
            else render(
                "<p>Showing {first}\N{EN DASH}{last} of {total}.</p>",
                first=f"{page.start + 1:,}",
                last=f"{page.end:,}",
                total=_count(len(groups), "group"),
            )
        )
    wipe = Markup("")
    if ctx.admin_api and groups and ctx.may("admin", None):
        wipe = render(
            '<button type="button" class="button danger" hidden data-js-only'
            ' data-wipe-url="{url}" data-count="{n}">Delete all {label}</button>',
            url=ctx.url("/api/v1/admin/wipe"),
            n=len(groups),
            label=_count(len(groups), "group"),
        )
    parts.append(
        render('<div class="summary-bar">{summary}{wipe}</div>', summary=summary, wipe=wipe)
    )
    paging = pager(ctx, "/", page, _paging_query(query), "groups")
    parts += [paging, _sections(ctx, shown, items, page.start, flt), paging]
    return render_page(ctx, page="groups", title="Groups", content=join(parts), dialogs=True)


def _paging_query(query: Mapping[str, str]) -> dict[str, str]:
    return {k: query[k] for k in ("match", "metric", "status", "size") if query.get(k)}
