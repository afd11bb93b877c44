"""A report people can open without Grafana: one HTML file with plots, from ClickHouse.

``make demo`` writes it after its run.  Plotly's JavaScript is inlined from the
installed ``plotly`` package (no CDN: the file works offline and from a laptop).
Each chart reads the latest revision of its rows (``FINAL``), like the dashboards;
a chart without rows says so instead of drawing an empty frame.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

QUERIES: dict[str, str] = {
    "activity": """
        SELECT community_id, window_start, messages, speakers
        FROM {db}.community_activity_hour FINAL
        WHERE community_id NOT LIKE 'zz-%'
        ORDER BY window_start, community_id""",
    "hourly": """
        SELECT hour, sum(hourly_interactions[hour + 1]) AS interactions
        FROM {db}.community_health_day FINAL
        ARRAY JOIN range(24) AS hour
        GROUP BY hour ORDER BY hour""",
    "sentiment": """
        SELECT community_id, day, positive_share, negative_share
        FROM {db}.community_health_day FINAL
        WHERE scored_messages > 0
        ORDER BY day, community_id""",
    "incidents": """
        SELECT incident_id, argMax(tier, revision), min(opened_at),
               argMax(community_id, revision), argMax(negative_messages, revision)
        FROM {db}.sentiment_alerts
        GROUP BY incident_id ORDER BY min(opened_at)""",
    "retention": """
        SELECT cohort_day, sum(cohort_size),
               sumIf(retained_d1, retained_d1 IS NOT NULL)
                 / nullIf(sumIf(cohort_size, retained_d1 IS NOT NULL), 0),
               sumIf(retained_d7, retained_d7 IS NOT NULL)
                 / nullIf(sumIf(cohort_size, retained_d7 IS NOT NULL), 0),
               sumIf(retained_d30, retained_d30 IS NOT NULL)
                 / nullIf(sumIf(cohort_size, retained_d30 IS NOT NULL), 0)
        FROM {db}.community_retention_cohort FINAL
        WHERE channel = '*'
        GROUP BY cohort_day ORDER BY cohort_day""",
    "funnel": """
        SELECT campaign_id, any(campaign_name), any(step_names), any(step_persons)
        FROM {db}.campaign_funnel FINAL
        WHERE window = 'campaign' AND channel = '*'
        GROUP BY campaign_id ORDER BY campaign_id""",
    "gmv": """
        SELECT window_start, gmv_fen / 100, net_gmv_fen / 100, orders
        FROM {db}.sales_totals FINAL
        WHERE dimension = 'all' AND window = 'day'
        ORDER BY window_start""",
}
"""Chart -> query (``{db}``: the database)."""

TIER_COLOURS = {"mild": "#f2c94c", "moderate": "#f2994a", "severe": "#eb5757"}


@dataclass(frozen=True, slots=True)
class Chart:
    chart_id: str
    title: str
    note: str
    figure: go.Figure | None
    """None: no rows yet (the note says why)."""


def _layout(figure: go.Figure, **extra: Any) -> go.Figure:
    figure.update_layout(margin={"l": 50, "r": 20, "t": 30, "b": 40}, height=360,
                         template="plotly_white", **extra)
    return figure


def activity_chart(rows: list[tuple]) -> go.Figure | None:
    if not rows:
        return None
    figure = go.Figure()
    for community in sorted({r[0] for r in rows}):
        mine = [r for r in rows if r[0] == community]
        figure.add_trace(go.Scatter(x=[r[1] for r in mine], y=[r[2] for r in mine],
                                    mode="lines", name=community))
    return _layout(figure, yaxis_title="messages per hour")


def hourly_chart(rows: list[tuple]) -> go.Figure | None:
    if not rows or not any(r[1] for r in rows):
        return None
    slots = {9, 12, 20}
    figure = go.Figure(go.Bar(
        x=[f"{r[0]:02d}:00" for r in rows], y=[r[1] for r in rows],
        marker_color=["#2f80ed" if r[0] in slots else "#9bb7d4" for r in rows]))
    return _layout(figure, yaxis_title="member interactions", xaxis_title="local hour")


def sentiment_chart(shares: list[tuple], incidents: list[tuple]) -> go.Figure | None:
    if not shares and not incidents:
        return None
    figure = go.Figure()
    for community in sorted({r[0] for r in shares}):
        mine = [r for r in shares if r[0] == community]
        figure.add_trace(go.Scatter(x=[r[1] for r in mine], y=[r[2] for r in mine],
                                    mode="lines+markers", name=f"{community} positive"))
    for tier, colour in TIER_COLOURS.items():
        mine = [r for r in incidents if r[1] == tier]
        if mine:
            figure.add_trace(go.Scatter(
                x=[r[2] for r in mine], y=[0.02] * len(mine), mode="markers",
                marker={"symbol": "triangle-up", "size": 12, "color": colour},
                name=f"{tier} incidents", text=[f"{r[0]} {r[3]} ({r[4]} negative)"
                                                 for r in mine]))
    figure.add_hline(y=0.6, line_dash="dash", annotation_text="target 60%")
    return _layout(figure, yaxis_title="positive share", yaxis_range=[0, 1])


def retention_chart(rows: list[tuple]) -> go.Figure | None:
    if not rows:
        return None
    figure = go.Figure(go.Heatmap(
        x=["day 1", "day 7", "day 30"], y=[str(r[0]) for r in rows],
        z=[[r[2], r[3], r[4]] for r in rows], zmin=0, zmax=1, colorscale="Blues",
        text=[[("—" if v is None else f"{v:.0%}") for v in r[2:5]] for r in rows],
        texttemplate="%{text}", hovertemplate="cohort %{y}, %{x}: %{z:.1%}<extra></extra>"))
    return _layout(figure, yaxis_title="join cohort (local day)")


def funnel_chart(rows: list[tuple]) -> go.Figure | None:
    if not rows:
        return None
    figure = go.Figure()
    for campaign, name, steps, persons in rows:
        figure.add_trace(go.Funnel(y=list(steps), x=list(persons), name=name or campaign,
                                   textinfo="value+percent initial"))
    return _layout(figure)


def gmv_chart(rows: list[tuple]) -> go.Figure | None:
    if not rows:
        return None
    figure = go.Figure([
        go.Bar(x=[r[0] for r in rows], y=[r[1] for r in rows], name="GMV (yuan)"),
        go.Bar(x=[r[0] for r in rows], y=[r[2] for r in rows], name="net of refunds (yuan)")])
    return _layout(figure, barmode="group", yaxis_title="CNY")


def charts(data: dict[str, list[tuple]]) -> list[Chart]:
    """The report's charts from the rows of :data:`QUERIES`."""
    return [
        Chart("activity", "Activity over time", "Messages per UTC hour, per community.",
              activity_chart(data["activity"])),
        Chart("hourly", "Hourly distribution", "Member interactions by local hour "
              "(Asia/Shanghai); the 3+2 slots (09:00, 12:00, 20:00) darker.",
              hourly_chart(data["hourly"])),
        Chart("sentiment", "Sentiment and incidents", "Positive share of scored member "
              "messages per community and day (target 60%), and when incidents opened.",
              sentiment_chart(data["sentiment"], data["incidents"])),
        Chart("retention", "Retention by join cohort", "Share of each day's new members "
              "present and active 1, 7 and 30 days later (all communities).",
              retention_chart(data["retention"])),
        Chart("funnel", "Campaign funnels", "Persons reaching each step (whole campaign).",
              funnel_chart(data["funnel"])),
        Chart("gmv", "GMV by day", "Paid orders and net of refunds per local day, yuan.",
              gmv_chart(data["gmv"])),
    ]


def read_data(client: Any, database: str) -> dict[str, list[tuple]]:
    """Rows of every query (a clickhouse-connect client)."""
    return {name: [tuple(row) for row in client.query(sql.format(db=database)).result_rows]
            for name, sql in QUERIES.items()}


def render(report: list[Chart], title: str = "community-pulse report") -> str:
    """One self-contained HTML page (plotly.js inlined once)."""
    parts = []
    inline_js = True
    for chart in report:
        if chart.figure is None:
            body = '<p class="empty">No data yet for this chart.</p>'
        else:
            body = chart.figure.to_html(full_html=False, include_plotlyjs=inline_js,
                                        div_id=f"chart-{chart.chart_id}",
                                        config={"displaylogo": False})
            inline_js = False
        parts.append(f'<section id="{chart.chart_id}"><h2>{html.escape(chart.title)}</h2>'
                     f'<p class="note">{html.escape(chart.note)}</p>{body}</section>')
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;"
            f"margin:2em;max-width:1100px}}.note{{color:#555}}.empty{{color:#999}}"
            f"</style></head><body><h1>{html.escape(title)}</h1><p>Generated {made} from "
            f"ClickHouse.</p>{''.join(parts)}</body></html>")


def write_report(client: Any, database: str, path: Path) -> Path:
    path.write_text(render(charts(read_data(client, database))), encoding="utf-8")
    return path
