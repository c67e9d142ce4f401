"""A static HTML preview of a generated Grafana dashboard, with live data.

Grafana cannot run on the build machines, so scripts/screenshot_prometheus.py
renders the dashboard JSON itself: the same panels on the same grid, each
query run against Prometheus with the dashboard variables substituted. Stat,
table, bar gauge and time series panels are drawn plainly (HTML and SVG);
it shows the dashboard's data and layout, not Grafana's look.
"""

from __future__ import annotations

import datetime
import html
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: (expr, instant) -> Prometheus result list (vector or matrix).
Query = Callable[[str, bool], list[dict[str, Any]]]

ROW_HEIGHT = 34
COLOURS = ("#3274d9", "#56a64b", "#e0b400", "#e02f44", "#8f3bb8", "#fa6400", "#37872d", "#c4162a")
BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}


def substitute(expr: str, variables: Mapping[str, str]) -> str:
    values = {**BUILTINS, **variables}
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: values[m.group(1) or m.group(2)], expr)


def legend(template: str, labels: Mapping[str, str]) -> str:
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template)
    return text.strip() or ", ".join(f"{k}={v}" for k, v in labels.items() if k != "__name__")


def fmt(value: float, unit: str | None, decimals: float | None = None) -> str:
    if value != value:  # NaN
        return "NaN"
    if unit == "dateTimeAsIso":
        moment = datetime.datetime.fromtimestamp(value / 1000, tz=datetime.UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    if unit == "s":
        seconds = int(value)
        if seconds >= 3600:
            return f"{seconds // 3600}h {seconds % 3600 // 60}m"
        if seconds >= 60:
            return f"{seconds // 60}m {seconds % 60}s"
        if 0 < value < 1:
            return f"{1000 * value:.1f} ms"
        return f"{value:.1f} s" if value < 10 else f"{seconds} s"
    if unit == "percent":
        return f"{value:.1f}%"
    if unit == "percentunit":
        return f"{100 * value:.1f}%"
    if unit == "bytes":
        for suffix in ("B", "KiB", "MiB", "GiB"):
            if abs(value) < 1024 or suffix == "GiB":
                return f"{value:.0f} {suffix}" if suffix == "B" else f"{value:.1f} {suffix}"
            value /= 1024
    if decimals == 0 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.3g}"


def threshold_colour(value: float, defaults: Mapping[str, Any]) -> str | None:
    steps = defaults.get("thresholds", {}).get("steps", [])
    colour = None
    for step in steps:
        if step.get("value") is None or value >= step["value"]:
            colour = step["color"]
    return colour


def mapped(value: float, defaults: Mapping[str, Any]) -> tuple[str, str] | None:
    for mapping in defaults.get("mappings", []):
        option = mapping.get("options", {}).get(fmt(value, None))
        if option:
            return option.get("text", ""), option.get("color", "")
    return None


CSS_COLOURS = {"green": "#299c46", "red": "#d44a3a", "orange": "#eb7b18", "yellow": "#e0b400"}


def stat(panel: Mapping[str, Any], results: Sequence[tuple[dict[str, Any], list[Any]]]) -> str:
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    cells = []
    for target, result in results:
        for series in result:
            value = float(series["value"][1])
            name = legend(target.get("legendFormat", ""), series["metric"])
            text = fmt(value, defaults.get("unit"), defaults.get("decimals"))
            colour = threshold_colour(value, defaults)
            if (found := mapped(value, defaults)) is not None:
                text, colour = found[0], found[1] or colour
            background = CSS_COLOURS.get(colour or "", "#555")
            cells.append(
                f'<div class="stat" style="background:{background}">'
                f"<small>{html.escape(name)}</small><b>{html.escape(text)}</b></div>"
            )
    return '<div class="stats">' + "".join(cells) + "</div>"


def table(panel: Mapping[str, Any], results: Sequence[tuple[dict[str, Any], list[Any]]]) -> str:
    organize: dict[str, Any] = {}
    for transformation in panel.get("transformations", []):
        if transformation["id"] == "organize":
            organize = transformation["options"]
    renames: dict[str, str] = organize.get("renameByName", {})
    hidden = {k for k, v in organize.get("excludeByName", {}).items() if v}
    units = {
        o["matcher"]["options"]: p["value"]
        for o in panel.get("fieldConfig", {}).get("overrides", [])
        for p in o["properties"]
        if p["id"] == "unit"
    }
    rows: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
    label_columns: list[str] = []
    value_columns: list[str] = []
    for target, result in results:
        column = f"Value #{target['refId']}"
        if column not in hidden:
            value_columns.append(column)
        for series in result:
            labels = {k: v for k, v in series["metric"].items() if k != "__name__"}
            # Merge like Grafana's "merge": rows agree on their common labels.
            key = next(
                (k for k in rows if all(dict(k).get(n, v) == v for n, v in labels.items())),
                tuple(sorted(labels.items())),
            )
            row = rows.setdefault(key, {})
            row.update(labels)
            row[column] = fmt(float(series["value"][1]), units.get(column))
            for name in labels:
                if name not in label_columns:
                    label_columns.append(name)
    order: dict[str, int] = organize.get("indexByName", {})
    label_columns.sort(key=lambda c: order.get(c, len(order)))
    columns = [c for c in label_columns if c not in hidden] + value_columns
    head = "".join(f"<th>{html.escape(renames.get(c, c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(row.get(c, ''))}</td>" for c in columns) + "</tr>"
        for row in rows.values()
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def bargauge(panel: Mapping[str, Any], results: Sequence[tuple[dict[str, Any], list[Any]]]) -> str:
    bars = [
        (legend(t.get("legendFormat", ""), s["metric"]), float(s["value"][1]))
        for t, result in results
        for s in result
    ]
    top = max((v for _, v in bars), default=1) or 1
    return "".join(
        f'<div class="bar"><span>{html.escape(name)}</span>'
        f'<i style="width:{70 * value / top:.0f}%"></i><b>{fmt(value, None)}</b></div>'
        for name, value in bars
    )


def timeseries(
    panel: Mapping[str, Any], results: Sequence[tuple[dict[str, Any], list[Any]]], height: int
) -> str:
    unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
    lines = [
        (
            legend(t.get("legendFormat", ""), s["metric"]),
            [(float(a), float(b)) for a, b in s["values"]],
        )
        for t, result in results
        for s in result
    ]
    points = [p for _, ps in lines for p in ps if p[1] == p[1]]
    if not points:
        return "<p>no data</p>"
    t0, t1 = min(p[0] for p in points), max(p[0] for p in points)
    v0, v1 = min(0.0, *(p[1] for p in points)), max(p[1] for p in points)
    width, plot = 560, max(60, height - 40 - 16 * len(lines))
    scale_t = (width - 50) / ((t1 - t0) or 1)
    scale_v = (plot - 10) / ((v1 - v0) or 1)
    svg = [f'<svg width="100%" height="{plot}" viewBox="0 0 {width} {plot}">']
    svg.append(f'<text x="0" y="12" class="axis">{fmt(v1, unit)}</text>')
    svg.append(f'<text x="0" y="{plot - 2}" class="axis">{fmt(v0, unit)}</text>')
    items = []
    for i, (name, series) in enumerate(lines):
        colour = COLOURS[i % len(COLOURS)]
        path = " ".join(
            f"{50 + (t - t0) * scale_t:.1f},{plot - 5 - (v - v0) * scale_v:.1f}"
            for t, v in series
            if v == v
        )
        svg.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        last = fmt(series[-1][1], unit) if series else ""
        items.append(
            f'<div class="item"><i style="background:{colour}"></i>{html.escape(name)}'
            f"<b>{html.escape(last)}</b></div>"
        )
    svg.append("</svg>")
    return "".join(svg) + '<div class="legend">' + "".join(items) + "</div>"


def render(dashboard: Mapping[str, Any], query: Query, variables: Mapping[str, str]) -> str:
    """The dashboard as one HTML page, its queries answered by ``query``."""
    blocks = []
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        style = (
            f"grid-column:{pos['x'] + 1}/span {pos['w']};grid-row:{pos['y'] + 1}/span {pos['h']}"
        )
        if panel["type"] == "row":
            blocks.append(f'<h2 style="{style}">{html.escape(panel["title"])}</h2>')
            continue
        results = [
            (t, query(substitute(t["expr"], variables), bool(t.get("instant"))))
            for t in panel.get("targets", [])
        ]
        kind = panel["type"]
        if kind == "stat":
            content = stat(panel, results)
        elif kind == "table":
            content = table(panel, results)
        elif kind == "bargauge":
            content = bargauge(panel, results)
        else:
            content = timeseries(panel, results, pos["h"] * ROW_HEIGHT)
        blocks.append(
            f'<section style="{style}"><h3>{html.escape(panel["title"])}</h3>{content}</section>'
        )
    chosen = " ".join(
        f"{k}={v}" for k, v in variables.items() if not k.startswith("__") and k != "datasource"
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>
body {{ font-family: sans-serif; background: #111217; color: #ccccdc; margin: 12px; }}
header {{ display: flex; gap: 16px; align-items: baseline; }}
header h1 {{ font-size: 20px; margin: 0 0 8px; color: #fff; }}
header span {{ font-size: 12px; color: #8e8e9e; }}
main {{ display: grid; grid-template-columns: repeat(24, 1fr);
       grid-auto-rows: {ROW_HEIGHT}px; gap: 6px; }}
h2 {{ font-size: 15px; margin: 8px 0 0; color: #fff; }}
section {{ background: #181b1f; border: 1px solid #2c3235; border-radius: 3px;
          padding: 4px 8px; overflow: hidden; }}
h3 {{ font-size: 13px; margin: 2px 0 6px; color: #fff; }}
.stats {{ display: flex; flex-wrap: wrap; gap: 4px; }}
.stat {{ flex: 1 1 40%; border-radius: 3px; padding: 4px 6px; color: #fff; }}
.stat small {{ display: block; font-size: 11px; }} .stat b {{ font-size: 22px; }}
table {{ border-collapse: collapse; font-size: 11px; width: 100%; }}
th {{ text-align: left; color: #6e9fff; border-bottom: 1px solid #2c3235; padding: 2px 4px; }}
td {{ border-bottom: 1px solid #22252b; padding: 2px 4px; white-space: nowrap; }}
.axis {{ font-size: 10px; fill: #8e8e9e; }}
.legend {{ font-size: 11px; }} .legend i {{ display: inline-block; width: 10px; height: 3px;
  margin: 0 6px 3px 0; }} .legend b {{ float: right; font-weight: normal; }}
.bar {{ font-size: 11px; display: flex; align-items: center; gap: 6px; margin: 3px 0; }}
.bar span {{ width: 30%; }} .bar i {{ background: #3274d9; height: 12px; }}
</style></head><body><header><h1>{html.escape(dashboard["title"])}</h1>
<span>preview drawn from the dashboard JSON and live Prometheus data ({html.escape(chosen)});
not Grafana</span></header><main>{"".join(blocks)}</main></body></html>"""
