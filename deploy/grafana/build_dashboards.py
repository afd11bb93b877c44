"""Grafana dashboards as code.

    python deploy/grafana/build_dashboards.py          # write dashboards/*.json
    python deploy/grafana/build_dashboards.py --check  # exit 1 if they are stale

Stdlib only.  Datasource uids match provisioning/datasources/datasources.yml.
ClickHouse panels use the grafana-clickhouse-datasource (v4) macros
``$__timeFilter``, ``$__fromTime``, ``$__toTime``, ``$__timeInterval``, ``$__interval_s``
and ``$__conditionalAll``; raw tables and metric windows are ReplacingMergeTree, so every
query reads them with FINAL (a re-emitted window replaces its older revision).
Panels show aggregates only: no message text, no member ids.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

Json = dict[str, Any]

DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboards"
PROMETHEUS: Json = {"type": "prometheus", "uid": "pulse-prometheus"}
CLICKHOUSE: Json = {"type": "grafana-clickhouse-datasource", "uid": "pulse-clickhouse"}
TAGS = ["community-pulse"]

# ClickHouse plugin query formats.
TIME_SERIES, TABLE = 0, 1

DB = "${database}"
COMMUNITY_FILTER = "$__conditionalAll(community_id IN (${community:singlequote}), $community)"
WORKER = 'job="pulse-worker", instance=~"$instance"'
FAUST_INTERNAL_TOPICS = '.*-changelog|.*__assignor.*'


class Layout:
    """Flows panels left to right on Grafana's 24-column grid and numbers them."""

    def __init__(self) -> None:
        self.x = self.y = self.row_height = 0
        self.next_id = 1

    def place(self, panel: Json, w: int, h: int) -> Json:
        if self.x + w > 24:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        panel["id"] = self.next_id
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.next_id += 1
        self.x += w
        self.row_height = max(self.row_height, h)
        return panel

    def row(self, title: str) -> Json:
        """An expanded row header across the grid; the panels placed after it belong to it."""
        if self.x:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        return self.place({"type": "row", "title": title, "collapsed": False, "panels": []},
                          24, 1)

    def sections(self, sections: Iterable[tuple[str, Iterable[tuple[Json, int, int]]]],
                 ) -> list[Json]:
        """Each section as a row header followed by its (panel, width, height) entries."""
        placed: list[Json] = []
        for title, section in sections:
            placed.append(self.row(title))
            placed += [self.place(p, w, h) for p, w, h in section]
        return placed


def sql(query: str, fmt: int, ref: str = "A") -> Json:
    """A ClickHouse target with raw SQL."""
    return {
        "datasource": CLICKHOUSE,
        "editorType": "sql",
        "format": fmt,
        "queryType": "timeseries" if fmt == TIME_SERIES else "table",
        "rawSql": query.strip(),
        "refId": ref,
    }


def promql(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> Json:
    """A Prometheus target."""
    return {
        "datasource": PROMETHEUS,
        "editorMode": "code",
        "expr": expr.strip(),
        "instant": instant,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "refId": ref,
    }


def panel(
    kind: str,
    title: str,
    description: str,
    targets: list[Json],
    unit: str = "short",
    options: Json | None = None,
    defaults: Json | None = None,
    overrides: list[Json] | None = None,
    **extra: Any,
) -> Json:
    """A panel of any type; the datasource is the first target's."""
    field_defaults: Json = {"unit": unit}
    field_defaults.update(defaults or {})
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": targets[0]["datasource"],
        "targets": targets,
        "fieldConfig": {"defaults": field_defaults, "overrides": overrides or []},
        "options": options or {},
        **extra,
    }


def timeseries(title: str, description: str, targets: list[Json], unit: str, **extra: Any) -> Json:
    options = {
        "legend": {"displayMode": "table", "placement": "right", "calcs": ["mean", "max"]},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return panel("timeseries", title, description, targets, unit, options, **extra)


def stat(title: str, description: str, target: Json | list[Json], unit: str,
         **extra: Any) -> Json:
    """One value per target (or per field of a table target)."""
    options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
               "colorMode": "value", "graphMode": "none", "textMode": "auto"}
    targets = target if isinstance(target, list) else [target]
    return panel("stat", title, description, targets, unit, options, **extra)


def table(title: str, description: str, target: Json, **extra: Any) -> Json:
    options = {"showHeader": True, "cellHeight": "sm"}
    return panel("table", title, description, [target], "short", options, **extra)


def thresholds(*steps: tuple[float | None, str]) -> Json:
    """Absolute thresholds, the first step's value being None (base)."""
    return {"thresholds": {"mode": "absolute",
                           "steps": [{"color": color, "value": value} for value, color in steps]}}


def target_line(target: float) -> Json:
    """Time series defaults: red below ``target``, green from it, drawn as a dashed line."""
    return {**thresholds((None, "red"), (target, "green")), "min": 0,
            "custom": {"thresholdsStyle": {"mode": "dashed"}, "showPoints": "always"}}


def dashboard(uid: str, title: str, description: str, panels: list[Json],
              variables: list[Json], timezone: str, refresh: str) -> Json:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": TAGS,
        "editable": False,
        "graphTooltip": 1,
        "timezone": timezone,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": refresh,
        "schemaVersion": 39,
        "version": 1,
        "links": [{"type": "dashboards", "tags": TAGS, "asDropdown": False,
                   "title": "Community Pulse", "includeVars": False, "keepTime": True}],
        "annotations": {"list": []},
        "templating": {"list": variables},
        "panels": panels,
    }


# --- Community activity (ClickHouse) -----------------------------------------------

SEEN_IN_OR_BEFORE_RANGE = ("window_start >= $__fromTime - INTERVAL 30 DAY "
                           "AND window_start <= $__toTime")
"""Communities a selector offers: those with data in the time range shown or the 30 days
before it (re-read when the range changes), so a look at last month lists last month's
communities, and a 6-hour view still lists a community quiet for those hours; not the
wall clock's last 30 days, which offered none of an older range's communities."""

def community_variables() -> list[Json]:
    query = (f"SELECT DISTINCT community_id FROM {DB}.community_activity_minute "
             f"WHERE {SEEN_IN_OR_BEFORE_RANGE} ORDER BY community_id")
    return [
        {"type": "constant", "name": "database", "hide": 2, "query": "pulse",
         "label": "ClickHouse database (PULSE_CLICKHOUSE_DATABASE)"},
        {"type": "query", "name": "community", "label": "Community", "datasource": CLICKHOUSE,
         "query": query, "definition": query, "refresh": 2, "multi": True,
         "includeAll": True, "current": {}, "sort": 1, "options": []},
    ]


def top_communities(limit: int, table: str = "community_activity_minute",
                    window: str = "$__timeFilter(window_start)") -> str:
    """Subquery: ids of the busiest selected communities in the time range."""
    return f"""
  AND community_id IN (
    SELECT community_id FROM {DB}.{table} FINAL
    WHERE {window} AND {COMMUNITY_FILTER}
    GROUP BY community_id ORDER BY sum(messages) DESC LIMIT {limit})"""


OVERVIEW_HEALTH = ("Health report by community (latest day in range)",
                   "Membership conflicts by community", "Membership conflicts by kind")
"""Day-health panels that compare communities: on the overview, not the detail board."""


def community_overview() -> Json:
    """Every community at a glance: activity, the busiest, dead letters, the day report."""
    layout = Layout()
    panels, sizes = activity_panels()
    placed = [layout.place(p, w, h) for p, (w, h) in zip(panels, sizes, strict=True)]
    compared = [(p, w, h) for p, w, h in health_day_panels() if p["title"] in OVERVIEW_HEALTH]
    placed += layout.sections((("Health by community (day)", compared),))
    return dashboard("pulse-community-overview", "Community overview",
                     "All communities at a glance from ClickHouse (event time): activity, the "
                     "busiest communities, rejected input and each community's latest day "
                     "against its targets; open one in 'Community in detail'.", placed,
                     community_variables(), "Asia/Shanghai", "1m")


def community_activity() -> Json:
    """The selected communities in detail: day health over time, and hour windows."""
    layout = Layout()
    detail = [(p, w, h) for p, w, h in health_day_panels() if p["title"] not in OVERVIEW_HEALTH]
    placed = layout.sections((("Community health (day)", detail),
                              ("Community activity (hour)", activity_hour_panels())))
    return dashboard("pulse-community-activity", "Community in detail",
                     "The selected communities over time from ClickHouse (event time): DAU / "
                     "WAU / MAU, interaction and UGC rates against their targets, membership, "
                     "3+2 slots, hot words, and hour windows.", placed,
                     community_variables(), "Asia/Shanghai", "1m")


def activity_panels() -> tuple[list[Json], list[tuple[int, int]]]:
    """Activity of the selected communities (all by default) and rejected input."""
    minute_where = f"WHERE $__timeFilter(window_start) AND {COMMUNITY_FILTER}"
    chat_where = f"WHERE $__timeFilter(ts) AND {COMMUNITY_FILTER}"
    panels = [
        stat("Messages", "Messages in the selected communities and time range "
             "(minute windows, latest revision).", sql(f"""
SELECT sum(messages) AS messages
FROM {DB}.community_activity_minute FINAL
{minute_where}""", TABLE), "short"),
        stat("Active communities", "Communities with at least one message in the range.",
             sql(f"""
SELECT uniqExactIf(community_id, messages > 0) AS communities
FROM {DB}.community_activity_minute FINAL
{minute_where}""", TABLE), "short"),
        stat("Speakers", "Distinct members (sender role 'member') who spoke in the range.",
             sql(f"""
SELECT uniqExactIf(member_id, sender_role = 'member') AS speakers
FROM {DB}.chat_messages FINAL
{chat_where}""", TABLE), "short"),
        stat("UGC share", "Share of messages written by members rather than staff or bots "
             "(target ≥ 60%).", sql(f"""
SELECT countIf(sender_role = 'member') / count() AS ugc_share
FROM {DB}.chat_messages FINAL
{chat_where}""", TABLE), "percentunit",
             defaults=thresholds((None, "red"), (0.6, "green"))),
        timeseries("Messages per minute, top 10 communities",
                   "Messages per minute from the event-time minute windows "
                   "(community_activity_minute FINAL), averaged over the display interval.",
                   [sql(f"""
SELECT $__timeInterval(window_start) AS time, community_id,
       sum(messages) * 60 / greatest($__interval_s, 60) AS messages_per_minute
FROM {DB}.community_activity_minute FINAL
{minute_where}{top_communities(10)}
GROUP BY time, community_id
ORDER BY time, community_id""", TIME_SERIES)], "short", interval="1m"),
        table("Top communities", "Busiest communities in the range: messages, distinct "
              "member speakers and UGC share.", sql(f"""
SELECT community_id AS community,
       count() AS messages,
       uniqExactIf(member_id, sender_role = 'member') AS speakers,
       round(countIf(sender_role = 'member') / count(), 3) AS ugc_share
FROM {DB}.chat_messages FINAL
{chat_where}
GROUP BY community_id
ORDER BY messages DESC
LIMIT 20""", TABLE)),
        timeseries("Speakers per minute, top 10 communities",
                   "Distinct speakers in a minute window; the peak minute of each display "
                   "interval.", [sql(f"""
SELECT $__timeInterval(window_start) AS time, community_id, max(speakers) AS speakers
FROM {DB}.community_activity_minute FINAL
{minute_where}{top_communities(10)}
GROUP BY time, community_id
ORDER BY time, community_id""", TIME_SERIES)], "short", interval="1m"),
        panel("barchart", "Hourly distribution (Asia/Shanghai)",
              "Messages by hour of day, Beijing time, over the range; compare with the "
              "\"3+2\" posting slots 09:00, 12:00 and 20:00.", [sql(f"""
SELECT leftPad(toString(hour), 2, '0') || ':00' AS hour_cst, messages
FROM (
  SELECT toHour(ts, 'Asia/Shanghai') AS hour, count() AS messages
  FROM {DB}.chat_messages FINAL
  {chat_where}
  GROUP BY hour
  ORDER BY hour WITH FILL FROM 0 TO 24
)
ORDER BY hour_cst""", TABLE)], "short",
              options={"xField": "hour_cst", "orientation": "vertical", "showValue": "never",
                       "legend": {"showLegend": False}}),
        timeseries("Dead letters by reason", "Input records rejected to the dead-letter "
                   "topic, per display interval (metadata only; payloads stay in Kafka).",
                   [sql(f"""
SELECT $__timeInterval(rejected_at) AS time, reason, count() AS rejected
FROM {DB}.dead_letters FINAL
WHERE $__timeFilter(rejected_at)
GROUP BY time, reason
ORDER BY time, reason""", TIME_SERIES)], "short", interval="1m"),
        table("Dead letters by topic and reason", "Rejected records in the range.", sql(f"""
SELECT source_topic AS topic, reason, count() AS rejected, max(rejected_at) AS last_rejected
FROM {DB}.dead_letters FINAL
WHERE $__timeFilter(rejected_at)
GROUP BY topic, reason
ORDER BY rejected DESC
LIMIT 50""", TABLE)),
    ]
    sizes = [(6, 4)] * 4 + [(16, 9), (8, 9), (12, 8), (12, 8), (12, 8), (12, 8)]
    return panels, sizes


# --- Community health (ClickHouse hour and day windows) ----------------------------

# A local day (community_health_day) belongs to the range when it overlaps it: its
# window_start/window_end are the UTC instants of its local midnights.
DAY_WHERE = f"WHERE window_end > $__fromTime AND window_start <= $__toTime AND {COMMUNITY_FILTER}"
HOUR_WHERE = f"WHERE $__timeFilter(window_start) AND {COMMUNITY_FILTER}"
TOP_DAY = top_communities(10, "community_health_day",
                          "window_end > $__fromTime AND window_start <= $__toTime")
TOP_HOUR = top_communities(10, "community_activity_hour")
OPEN_DAY = ("The current day is open until it closes (is_final): its counts still grow. "
            "Latest revision of each day (FINAL).")
DAILY = {"custom": {"showPoints": "always"}, "min": 0}


def day_metric(column: str, alias: str | None = None) -> Json:
    """One day column per community (the ten busiest selected ones), by local day."""
    expr = f"{column} AS {alias}" if alias else column
    return sql(f"""
SELECT window_start AS time, community_id, {expr}
FROM {DB}.community_health_day FINAL
{DAY_WHERE}{TOP_DAY}
ORDER BY time, community_id""", TIME_SERIES)


def rate_cell(column: str, target: float | None = None) -> Json:
    """Table override: a fraction column as a percentage, coloured against its target."""
    properties: list[Json] = [{"id": "unit", "value": "percentunit"},
                              {"id": "decimals", "value": 1}]
    if target is not None:
        properties += [{"id": "thresholds",
                        "value": thresholds((None, "red"), (target, "green"))["thresholds"]},
                       {"id": "custom.cellOptions", "value": {"type": "color-text"}}]
    return {"matcher": {"id": "byName", "options": column}, "properties": properties}


def display_names(names: dict[str, str]) -> list[Json]:
    """Overrides: a display name (bilingual label) for each named field."""
    return [{"matcher": {"id": "byName", "options": field},
             "properties": [{"id": "displayName", "value": name}]}
            for field, name in names.items()]


def value_names(column: str, names: dict[str, tuple[str, str]]) -> Json:
    """Table override: each value of ``column`` shown as a (bilingual) text in a colour."""
    options = {value: {"text": text, "color": color, "index": i}
               for i, (value, (text, color)) in enumerate(names.items())}
    return {"matcher": {"id": "byName", "options": column}, "properties": [
        {"id": "mappings", "value": [{"type": "value", "options": options}]},
        {"id": "custom.cellOptions", "value": {"type": "color-text"}}]}


def health_day_panels() -> list[tuple[Json, int, int]]:
    report = table(
        "Health report by community (latest day in range)",
        "Each selected community's latest local day (Asia/Shanghai) in the range, against "
        "the targets: stickiness ≥ 40%, interaction and real interaction rate ≥ 15%, UGC "
        "share ≥ 60%, real interactions per member over 30 days ≥ 8. Rates are per member "
        "count (see anchor: snapshot, or relative to the first membership event seen). "
        + OPEN_DAY, sql(f"""
SELECT community, day, state, member_count, anchor, dau, wau, mau, stickiness,
       interaction_rate, real_interaction_rate, weekly_active_rate, ugc_share, slot_share,
       interactions_per_member_30d, join_rate, leave_rate, membership_conflicts
FROM (
  SELECT community_id AS community, day, if(is_final, 'final', 'open') AS state,
         member_count, member_count_anchor AS anchor, dau, wau, mau, stickiness,
         interaction_rate, real_interaction_rate, weekly_active_rate, ugc_share, slot_share,
         round(interactions_per_member_30d, 2) AS interactions_per_member_30d,
         join_rate, leave_rate, membership_conflicts
  FROM {DB}.community_health_day FINAL
  {DAY_WHERE}
  ORDER BY community_id, day DESC
  LIMIT 1 BY community_id
)
ORDER BY dau DESC, community
LIMIT 100""", TABLE), overrides=[
            rate_cell("stickiness", 0.4), rate_cell("interaction_rate", 0.15),
            rate_cell("real_interaction_rate", 0.15), rate_cell("ugc_share", 0.6),
            rate_cell("weekly_active_rate"), rate_cell("slot_share"),
            rate_cell("join_rate"), rate_cell("leave_rate"),
            {"matcher": {"id": "byName", "options": "interactions_per_member_30d"},
             "properties": [
                 {"id": "thresholds", "value": thresholds((None, "red"), (8, "green"))[
                     "thresholds"]},
                 {"id": "custom.cellOptions", "value": {"type": "color-text"}}]},
        ])
    panels = [
        (report, 24, 8),
        (timeseries("DAU / WAU / MAU", "Members with a real interaction that day (DAU), in "
                    "the 7 (WAU) and 30 (MAU) local days ending with it, summed over the "
                    "selected communities. " + OPEN_DAY, [sql(f"""
SELECT window_start AS time, sum(dau) AS dau, sum(wau) AS wau, sum(mau) AS mau
FROM {DB}.community_health_day FINAL
{DAY_WHERE}
GROUP BY time
ORDER BY time""", TIME_SERIES)], "short", defaults=DAILY), 12, 8),
        (timeseries("Stickiness (DAU / MAU)", "DAU / MAU per community, the ten busiest "
                    "selected ones (target ≥ 40%, dashed line). " + OPEN_DAY,
                    [day_metric("stickiness")], "percentunit", defaults=target_line(0.4)),
         12, 8),
        (timeseries("Interaction rate", "Members who interacted (speakers) / member count, "
                    "per community (target ≥ 15%, dashed line). " + OPEN_DAY,
                    [day_metric("interaction_rate")], "percentunit",
                    defaults=target_line(0.15)), 12, 8),
        (timeseries("Real interaction rate (DAU / members)", "Members with a real "
                    "interaction (neither mechanical nor a copy) / member count: the daily "
                    "active rate, per community (target ≥ 15%, dashed line). " + OPEN_DAY,
                    [day_metric("real_interaction_rate")], "percentunit",
                    defaults=target_line(0.15)), 12, 8),
        (timeseries("UGC share by day", "Real interactions / (real interactions + staff and "
                    "bot messages other than system messages), per community (target ≥ 60%, "
                    "dashed line). " + OPEN_DAY, [day_metric("ugc_share")], "percentunit",
                    defaults=target_line(0.6)), 12, 8),
        (timeseries("Interactions per member per month", "Real interactions of the 30 local "
                    "days ending with the day / member count, per community (target ≥ 8, "
                    "dashed line). " + OPEN_DAY,
                    [day_metric("interactions_per_member_30d", "interactions_per_member")],
                    "short", defaults={**target_line(8), "decimals": 1}), 12, 8),
        (timeseries("Member count by day", "Members at the end of each local day, per "
                    "community; the series name says how it is counted: snapshot (from a "
                    "membership snapshot) or relative (net change since the first membership "
                    "event seen, may be negative). " + OPEN_DAY, [sql(f"""
SELECT window_start AS time, community_id || ' (' || member_count_anchor || ')' AS community,
       member_count
FROM {DB}.community_health_day FINAL
{DAY_WHERE}{TOP_DAY}
ORDER BY time, community""", TIME_SERIES)], "short",
                    defaults={"custom": {"showPoints": "always"}}), 12, 8),
        (timeseries("Joins, leaves, removals and net growth", "Distinct join, leave and "
                    "removal events per local day, and net growth (joins − leaves − "
                    "removals), summed over the selected communities. " + OPEN_DAY,
                    [sql(f"""
SELECT window_start AS time, sum(joins) AS joins, sum(leaves) AS leaves,
       sum(removals) AS removals, sum(net_growth) AS net_growth
FROM {DB}.community_health_day FINAL
{DAY_WHERE}
GROUP BY time
ORDER BY time""", TIME_SERIES)], "short", defaults={"custom": {"showPoints": "always"}}),
         12, 8),
        (timeseries("Slot share (3+2)", "Interactions in the 3+2 posting slots (from 09:00, "
                    "12:00 and 20:00 local time, PULSE_SLOT_MINUTES wide) / interactions, per "
                    "community. " + OPEN_DAY, [day_metric("slot_share")], "percentunit",
                    defaults={**DAILY, "max": 1}), 12, 8),
        (panel("barchart", "Interactions by local hour (3+2 slots)",
               "Member interactions by local hour of day (the day's zone, Asia/Shanghai by "
               "default), summed over the selected communities and the days overlapping the "
               "range; the 3+2 slots start at 09:00, 12:00 and 20:00.", [sql(f"""
SELECT leftPad(toString(hour), 2, '0') || ':00' AS hour_local, interactions
FROM (
  SELECT hour, sum(hourly_interactions[hour + 1]) AS interactions
  FROM {DB}.community_health_day FINAL
  ARRAY JOIN range(24) AS hour
  {DAY_WHERE}
  GROUP BY hour
  ORDER BY hour WITH FILL FROM 0 TO 24
)
ORDER BY hour_local""", TABLE)], "short",
               options={"xField": "hour_local", "orientation": "vertical",
                        "showValue": "never", "legend": {"showLegend": False}}), 12, 8),
        (table("Hot words", "Top words of members' content over the days overlapping the "
               "range, summed over the selected communities: the sum of each day's top-20 "
               "counts (a word counts only on days it made the top 20). Personal data is "
               "masked before segmentation.", sql(f"""
SELECT word, sum(occurrences) AS occurrences, uniqExact(community_id) AS communities,
       uniqExact(day) AS days
FROM (
  SELECT community_id, day, hot.word AS word, hot.count AS occurrences
  FROM {DB}.community_health_day FINAL
  ARRAY JOIN hot_words AS hot
  {DAY_WHERE}
)
GROUP BY word
ORDER BY occurrences DESC, word
LIMIT 30""", TABLE)), 8, 10),
        (table("Membership conflicts by community", "Membership events contradicting the "
               "known state (a join while present, a leave or removal while absent or not in "
               "the snapshot), counted and ignored, over the days overlapping the range.",
               sql(f"""
SELECT community_id AS community, sum(membership_conflicts) AS conflicts,
       countIf(membership_conflicts > 0) AS days_with_conflicts,
       argMax(member_count_anchor, day) AS anchor
FROM {DB}.community_health_day FINAL
{DAY_WHERE}
GROUP BY community
HAVING conflicts > 0
ORDER BY conflicts DESC, community
LIMIT 50""", TABLE)), 8, 10),
        (panel("bargauge", "Membership conflicts by kind",
               "Conflicts the workers counted in the range, all communities "
               "(pulse_membership_conflicts_total): join_while_present, leave_while_absent, "
               "leave_unknown.",
               [promql('sum by (conflict) (increase(pulse_membership_conflicts_total'
                       '{job="pulse-worker"}[$__range]))', "{{conflict}}", instant=True)],
               "short", options={"orientation": "horizontal", "displayMode": "basic",
                                 "reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                                   "values": False}}), 8, 10),
    ]
    return panels


def profile_panels() -> list[tuple[Json, int, int]]:
    """KOC leaderboard and member layers (docs/metrics.md, "KOC and member layers")."""
    return [
        (timeseries("Member layers by day", "Present members at the end of each closed local "
                    "day by layer, summed over the selected communities: core (核心: KOC or "
                    "real interactions on PULSE_CORE_ACTIVE_DAYS of the last 30 days), "
                    "participating (参与: any real interaction in 30 days), onlooker (围观: "
                    "none); shares of the members known present. Layers are judged when a "
                    "day closes: the open day has none.", [sql(f"""
SELECT window_start AS time, sum(core_members) / sum(core_members + participating_members
       + onlooker_members) AS core, sum(participating_members) / sum(core_members
       + participating_members + onlooker_members) AS participating,
       sum(onlooker_members) / sum(core_members + participating_members + onlooker_members)
       AS onlooker
FROM {DB}.community_health_day FINAL
{DAY_WHERE} AND core_members IS NOT NULL
GROUP BY time
HAVING sum(core_members + participating_members + onlooker_members) > 0
ORDER BY time""", TIME_SERIES)], "percentunit",
                    defaults={"custom": {"stacking": {"mode": "normal", "group": "A"},
                                         "fillOpacity": 40, "showPoints": "always"},
                              "min": 0, "max": 1}, overrides=display_names(LAYER_NAMES)),
         12, 8),
        (table("KOC leaderboard", "Members of the selected communities by KOC score (0-100) "
               "at the end of each community's latest closed day in the range, with the "
               "points behind it: messages (real interactions, 30 at 60), engagement "
               "(replies and @mentions received from other members, 25 at 20), content "
               "(mean characters of real texts, 15 at 30), sentiment (positive share, 15), "
               "invitations (invited joins, 15 at 5). KOC: the top PULSE_KOC_SHARE of active "
               "members with at least PULSE_KOC_MIN_SCORE. Members are shown by the salted "
               "reference sentiment alerts use (m-…), never by id.",
               sql(f"""
SELECT community_id AS community, member_ref AS member, rank, score, is_koc AS koc, layer,
       points_messages AS messages, points_engagement AS engagement,
       points_content AS content, points_sentiment AS sentiment,
       points_invitations AS invitations, real_interactions, active_days,
       replies_received + mentions_received AS replies_and_mentions
FROM {DB}.member_profile FINAL
WHERE (community_id, day) IN (
  SELECT community_id, max(day) FROM {DB}.member_profile FINAL
  WHERE day >= toDate($__fromTime, 'Asia/Shanghai') AND day <= toDate($__toTime,
        'Asia/Shanghai') AND {COMMUNITY_FILTER}
  GROUP BY community_id)
  AND rank IS NOT NULL
ORDER BY score DESC, community, member
LIMIT 50""", TABLE)), 12, 10),
    ]


# Join cohorts are judged 1, 7 and 30 days after their day: the retention panels look at the
# last 31 local days whatever the dashboard's range.
COHORT_WHERE = (f"WHERE cohort_day >= toDate($__fromTime, 'Asia/Shanghai') "
                f"AND cohort_day <= toDate($__toTime, 'Asia/Shanghai') AND {COMMUNITY_FILTER}")
RETENTION_RATES = [rate_cell("retention_d1"), rate_cell("retention_d7", 0.6),
                   rate_cell("retention_d30")]


def cohort_rates(matured: bool) -> str:
    """retention_d1, _d7, _d30 of the grouped cohorts: over those whose day N has closed
    (``matured``), else NULL until every cohort of the group has closed it."""
    if matured:
        return ", ".join(
            f"sumIf(retained_d{n}, retained_d{n} IS NOT NULL) / "
            f"nullIf(sumIf(cohort_size, retained_d{n} IS NOT NULL), 0) AS retention_d{n}"
            for n in (1, 7, 30))
    return ", ".join(
        f"if(countIf(retained_d{n} IS NULL) > 0, NULL, sum(retained_d{n}) / sum(cohort_size)) "
        f"AS retention_d{n}" for n in (1, 7, 30))


def retention_panels() -> list[tuple[Json, int, int]]:
    matured, whole = cohort_rates(matured=True), cohort_rates(matured=False)
    return [
        (table("Retention by join cohort", "Members who first joined on each local day "
               "(Asia/Shanghai) of the last 31 days, summed over the selected communities, "
               "and the share of them present and active (a real interaction) 1, 7 and 30 "
               "days later (day-7 target ≥ 60%); empty until that day has closed. Latest "
               "revision of each cohort (FINAL).", sql(f"""
SELECT cohort_day, sum(cohort_size) AS joined, {whole},
       uniqExact(community_id) AS communities
FROM {DB}.community_retention_cohort FINAL
{COHORT_WHERE} AND channel = '*'
GROUP BY cohort_day
ORDER BY cohort_day DESC
LIMIT 31""", TABLE), overrides=RETENTION_RATES, timeFrom="31d"), 12, 8),
        (table("Retention by join channel", "The join cohorts of the last 31 days by the "
               "channel of their first join (UTM channel, else QR code; other beyond a "
               "community's first 20 channels), over the selected communities: each rate "
               "over the cohorts whose day 1, 7 or 30 has closed.", sql(f"""
SELECT channel, sum(cohort_size) AS joined, {matured}
FROM {DB}.community_retention_cohort FINAL
{COHORT_WHERE} AND channel != '*'
GROUP BY channel
ORDER BY joined DESC, channel
LIMIT 50""", TABLE), overrides=RETENTION_RATES, timeFrom="31d"), 12, 8),
    ]


def activity_hour_panels() -> list[tuple[Json, int, int]]:
    hourly = {"interval": "1h"}
    stacked = {"custom": {"stacking": {"mode": "normal", "group": "A"}, "fillOpacity": 40},
               "min": 0}
    return [
        (timeseries("Messages by sender role", "Messages of members, staff and bots per "
                    "display interval (UTC hour windows, latest revision), summed over the "
                    "selected communities.", [sql(f"""
SELECT $__timeInterval(window_start) AS time, sum(member_messages) AS member,
       sum(staff_messages) AS staff, sum(bot_messages) AS bot
FROM {DB}.community_activity_hour FINAL
{HOUR_WHERE}
GROUP BY time
ORDER BY time""", TIME_SERIES)], "short", defaults=stacked, **hourly), 12, 8),
        (timeseries("Speakers vs active members", "Members who interacted (speakers) and "
                    "members with a real interaction (active) per hour, summed over the "
                    "selected communities; the peak hour of each display interval.", [sql(f"""
SELECT $__timeInterval(window_start) AS time, max(speakers) AS speakers,
       max(active_members) AS active_members
FROM (
  SELECT window_start, sum(speakers) AS speakers, sum(active_members) AS active_members
  FROM {DB}.community_activity_hour FINAL
  {HOUR_WHERE}
  GROUP BY window_start
)
GROUP BY time
ORDER BY time""", TIME_SERIES)], "short", defaults={"min": 0}, **hourly), 12, 8),
        (timeseries("Mechanical and copy share", "Share of interactions that are mechanical "
                    "(stickers, 收到, +1, 打卡 …) or copies of an earlier message, per display "
                    "interval, over the selected communities; the rest are real interactions.",
                    [sql(f"""
SELECT $__timeInterval(window_start) AS time,
       sum(mechanical_messages) / nullIf(sum(interactions), 0) AS mechanical_share,
       sum(copy_messages) / nullIf(sum(interactions), 0) AS copy_share
FROM {DB}.community_activity_hour FINAL
{HOUR_WHERE}
GROUP BY time
ORDER BY time""", TIME_SERIES)], "percentunit", defaults={"min": 0, "max": 1}, **hourly),
         12, 8),
        (timeseries("Member count by hour", "Members at the end of each UTC hour, per "
                    "community (the ten busiest selected ones; last hour of each display "
                    "interval), named with how it is counted: snapshot or relative.",
                    [sql(f"""
SELECT $__timeInterval(window_start) AS time,
       community_id || ' (' || argMax(member_count_anchor, window_start) || ')' AS community,
       argMax(member_count, window_start) AS member_count
FROM {DB}.community_activity_hour FINAL
{HOUR_WHERE}{TOP_HOUR}
GROUP BY time, community_id
ORDER BY time, community""", TIME_SERIES)], "short", **hourly), 12, 8),
    ]


# --- Pipeline health (Prometheus) -------------------------------------------------

def rate(metric: str, by: str = "", selector: str = WORKER) -> str:
    grouping = f"sum by ({by}) " if by else "sum"
    return f"{grouping}(rate({metric}{{{selector}}}[$__rate_interval]))"


def quantile(q: float, metric: str, by: str) -> str:
    return (f"histogram_quantile({q}, sum by ({by}, le) "
            f"(rate({metric}_bucket{{{WORKER}}}[$__rate_interval])))")


def pipeline_variables() -> list[Json]:
    query = 'label_values(up{job="pulse-worker"}, instance)'
    return [{"type": "query", "name": "instance", "label": "Worker", "datasource": PROMETHEUS,
             "query": query, "definition": query, "refresh": 2, "multi": True,
             "includeAll": True, "allValue": ".*", "current": {}, "sort": 1, "options": []}]


def pipeline_health() -> Json:
    layout = Layout()
    lag = f"""
sum by (topic) (
  clamp_min(
      max by (topic, partition) (
        faust_topic_partition_end_offset{{{WORKER}, topic!~"{FAUST_INTERNAL_TOPICS}"}})
    - on (topic, partition)
      max by (topic, partition) (faust_topic_partition_offset_commited{{{WORKER}}}),
    0))"""
    panels = [
        stat("Workers up", "Worker targets Prometheus scrapes successfully.",
             promql('sum(up{job="pulse-worker"})', instant=True), "short",
             defaults=thresholds((None, "red"), (1, "green"))),
        stat("Events consumed", "Input records read per second, all topics.",
             promql(rate("pulse_events_consumed_total")), "ops"),
        stat("Dead-letter ratio", "Share of consumed records rejected to the dead-letter topic.",
             promql(f"{rate('pulse_dead_letters_total')} / {rate('pulse_events_consumed_total')}"),
             "percentunit", defaults=thresholds((None, "green"), (0.05, "red"))),
        stat("Firing alerts", "Alerts firing in Prometheus (pipeline and community rules).",
             promql('count(ALERTS{alertstate="firing"}) or vector(0)', instant=True), "short",
             defaults=thresholds((None, "green"), (1, "orange"))),
        timeseries("Consumption rate by topic", "Records read (consumed), passing validation "
                   "(valid) and fully handled (processed) per second.", [
                       promql(rate("pulse_events_consumed_total", "topic"), "consumed {{topic}}"),
                       promql(rate("pulse_events_valid_total", "topic"), "valid {{topic}}", "B"),
                       promql(rate("pulse_events_processed_total", "topic"),
                              "processed {{topic}}", "C"),
                   ], "ops"),
        timeseries("Consumer lag by topic", "Messages not yet committed by the consumer "
                   "group (Faust end offset − committed offset).",
                   [promql(lag, "{{topic}}")], "short"),
        timeseries("Dead letters by reason", "Records rejected to the dead-letter topic "
                   "per second.", [promql(rate("pulse_dead_letters_total", "reason"),
                                          "{{reason}}")], "ops"),
        timeseries("Too late and duplicate events", "Events after their window closed "
                   "(kept raw only) by topic and by window size (minute; hour and day), and "
                   "redeliveries recognised as duplicates, per second.", [
                       promql(rate("pulse_events_too_late_total", "topic"), "too late {{topic}}"),
                       promql(rate("pulse_events_duplicate_total", "topic"),
                              "duplicate {{topic}}", "B"),
                       promql(rate("pulse_window_too_late_total", "window"),
                              "too late for {{window}} windows", "C"),
                   ], "ops"),
        timeseries("Batch duration by agent", "Time to handle one agent batch, p50 and p99.", [
            promql(quantile(0.5, "pulse_batch_duration_seconds", "agent"), "p50 {{agent}}"),
            promql(quantile(0.99, "pulse_batch_duration_seconds", "agent"), "p99 {{agent}}", "B"),
        ], "s"),
        timeseries("Sink write latency", "Time of one sink write, p50 and p99.", [
            promql(quantile(0.5, "pulse_sink_write_duration_seconds", "sink"), "p50 {{sink}}"),
            promql(quantile(0.99, "pulse_sink_write_duration_seconds", "sink"), "p99 {{sink}}",
                   "B"),
        ], "s"),
        timeseries("Sink rows by table", "Rows written per second.",
                   [promql(rate("pulse_sink_rows_total", "sink, table"), "{{sink}} {{table}}")],
                   "ops"),
        timeseries("Sink errors", "Failed (retried) sink writes per second.",
                   [promql(rate("pulse_sink_errors_total", "sink"), "{{sink}}")], "ops"),
        timeseries("Event-time delay", "Wall clock minus the highest event time seen per "
                   "topic: how far behind real time the input is.",
                   [promql("time() - max by (topic) "
                           f"(pulse_watermark_timestamp_seconds{{{WORKER}}})", "{{topic}}")],
                   "s"),
        timeseries("Kafka commit latency", "Faust offset commit latency, p50 and p99.", [
            promql(quantile(0.5, "faust_consumer_commit_latency", "instance"), "p50 {{instance}}"),
            promql(quantile(0.99, "faust_consumer_commit_latency", "instance"),
                   "p99 {{instance}}", "B"),
        ], "ms"),
        panel("bargauge", "Messages in the last closed minute, top 10 communities",
              "Live per-community counter from the workers (communities beyond the label cap "
              "are summed as _other).",
              [promql(f"topk(10, sum by (community) "
                      f"(pulse_community_last_minute_messages{{{WORKER}}}))",
                      "{{community}}", instant=True)], "short",
              options={"orientation": "horizontal", "displayMode": "basic",
                       "reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                         "values": False}}),
        table("Firing alerts by name", "Firing alerts with their severity or tier.",
              promql('sum by (alertname, severity, tier) (ALERTS{alertstate="firing"})',
                     instant=True)),
    ]
    sizes = [(6, 4)] * 4 + [(12, 8)] * 10 + [(12, 8), (12, 8)]
    placed = [layout.place(p, w, h) for p, (w, h) in zip(panels, sizes, strict=True)]
    return dashboard("pulse-pipeline-health", "Pipeline health",
                     "Throughput, rejects, latency and lag of the workers (Prometheus).",
                     placed, pipeline_variables(), "browser", "30s")


# --- Campaigns and sales (ClickHouse and Prometheus) ---------------------------------

CAMPAIGN = "campaign_id = ${campaign:singlequote}"
CAMPAIGN_WHERE = f"WHERE {CAMPAIGN} AND channel = ${{channel:singlequote}}"
STEPS = ("ARRAY JOIN step_names AS step_name, step_persons AS arrived, step_conversion AS "
         "conversion, step_threshold AS target, step_median_seconds AS median_seconds, "
         "arrayEnumerate(step_names) AS i")
STEP = "concat(toString(i), '. ', step_name)"
TRANSITION = "concat(toString(i), '. ', step_names[i - 1], ' → ', step_name)"
SALES_DAY_RANGE = "window_start > $__fromTime - INTERVAL 1 DAY AND window_start <= $__toTime"
SALES_ALL = "dimension = 'all' AND dimension_value = '*'"
BARGAUGE = {"orientation": "horizontal", "displayMode": "basic", "showUnfilled": True,
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": True}}
FEN = "Amounts are stored in fen and shown in yuan (CNY)."
WHOLE_CAMPAIGN = ("Whole-campaign window (everyone who reached a step, whatever the time "
                  "range), latest revision (FINAL).")
CHANNEL_NOTE = "Channel is the person's first-touch channel; * counts all channels."


def campaign_variables() -> list[Json]:
    campaigns = (f"SELECT DISTINCT campaign_id FROM {DB}.campaign_funnel "
                 "WHERE window = 'campaign' ORDER BY campaign_id")
    channels = (f"SELECT channel FROM {DB}.campaign_funnel "
                f"WHERE {CAMPAIGN} AND window = 'campaign' "
                "GROUP BY channel ORDER BY channel != '*', channel")
    communities = (f"SELECT DISTINCT dimension_value AS community_id FROM {DB}.sales_totals "
                   "WHERE dimension = 'community' AND window = 'day' "
                   f"AND {SEEN_IN_OR_BEFORE_RANGE} ORDER BY community_id")

    def query(name: str, label: str, sql_text: str, multi: bool, sort: int) -> Json:
        return {"type": "query", "name": name, "label": label, "datasource": CLICKHOUSE,
                "query": sql_text, "definition": sql_text, "refresh": 2, "multi": multi,
                "includeAll": multi, "current": {}, "sort": sort, "options": []}

    return [
        {"type": "constant", "name": "database", "hide": 2, "query": "pulse",
         "label": "ClickHouse database (PULSE_CLICKHOUSE_DATABASE)"},
        query("campaign", "Campaign", campaigns, False, 1),
        query("channel", "Channel (* = all)", channels, False, 0),
        query("community", "Community", communities, True, 1),
    ]


def cells(unit: str, *columns: str, decimals: int | None = None) -> list[Json]:
    """Table overrides: a unit (and decimals) for the named columns."""
    properties: list[Json] = [{"id": "unit", "value": unit}]
    if decimals is not None:
        properties.append({"id": "decimals", "value": decimals})
    return [{"matcher": {"id": "byName", "options": column}, "properties": properties}
            for column in columns]


def yuan(*columns: str) -> list[Json]:
    return cells("currencyCNY", *columns, decimals=2)


def sales_series(window: str, range_filter: str, time: str, columns: str) -> Json:
    """Total sales (dimension all) of the hour or day windows in the range."""
    return sql(f"""
SELECT {time} AS time, {columns}
FROM {DB}.sales_totals FINAL
WHERE {SALES_ALL} AND window = '{window}' AND {range_filter}
GROUP BY time
ORDER BY time""", TIME_SERIES)


def live_sales(metric: str, legend: str, ref: str, scale: str = "") -> Json:
    """A cumulative total (dimension all) from the workers' pulse_sales gauge."""
    return promql(f'max(pulse_sales{{job="pulse-worker", dimension="all", value="*", '
                  f'metric="{metric}"}}){scale}', legend, ref, instant=True)


def funnel_panels() -> list[tuple[Json, int, int]]:
    bars = {"orientation": "vertical", "showValue": "auto", "xTickLabelRotation": -30,
            "legend": {"showLegend": True, "displayMode": "list", "placement": "bottom"}}
    transitions = f"{CAMPAIGN_WHERE} AND window = 'campaign' AND i > 1"
    alerts = f"""
SELECT campaign_id AS campaign, campaign_name AS name,
       concat(from_step, ' → ', to_step) AS transition, entered, converted, rate,
       upper_bound, threshold, opened_at, evaluated_at
FROM {DB}.campaign_conversion_alerts FINAL
WHERE status = 'open'
ORDER BY campaign_id = ${{campaign:singlequote}} DESC, opened_at DESC
LIMIT 100"""
    return [
        (panel("bargauge", "Funnel (whole campaign)",
               "Distinct persons who reached each step of the selected campaign and channel, "
               "in step order: the drop between two bars is the funnel's loss. "
               f"{WHOLE_CAMPAIGN} {CHANNEL_NOTE}", [sql(f"""
SELECT {STEP} AS step, arrived AS persons
FROM {DB}.campaign_funnel FINAL
{STEPS}
{CAMPAIGN_WHERE} AND window = 'campaign'
ORDER BY i""", TABLE)], "short", options=BARGAUGE, defaults={"min": 0}), 8, 9),
        (panel("barchart", "Step conversion vs target",
               "Of the persons who reached the previous step, the share who reached this one "
               "(bar), next to the step's target from the campaign registry (85% unless the "
               "registry says otherwise): a conversion bar shorter than its target bar is a "
               f"step to fix. {WHOLE_CAMPAIGN}", [sql(f"""
SELECT {TRANSITION} AS transition, conversion, target
FROM {DB}.campaign_funnel FINAL
{STEPS}
{transitions}
ORDER BY i""", TABLE)], "percentunit",
               options={**bars, "xField": "transition"}, defaults={"min": 0, "max": 1},
               overrides=[{"matcher": {"id": "byName", "options": "target"},
                           "properties": [{"id": "color", "value": {
                               "mode": "fixed", "fixedColor": "text"}}]}]), 8, 9),
        (panel("barchart", "Median time between steps",
               "Median time from the previous step to this one, over the persons who "
               "converted, for the selected campaign and channel: a long wait before a step "
               f"often explains a low conversion. {WHOLE_CAMPAIGN}", [sql(f"""
SELECT {TRANSITION} AS transition, median_seconds
FROM {DB}.campaign_funnel FINAL
{STEPS}
{transitions}
ORDER BY i""", TABLE)], "s", options={**bars, "xField": "transition",
                                     "legend": {"showLegend": False}}, defaults={"min": 0}),
         8, 9),
        (table("Step conversion by channel",
               "Every channel of the selected campaign, step by step: persons who reached the "
               "step, conversion from the previous step, its target and whether it meets it "
               f"(below: under target). {WHOLE_CAMPAIGN} {CHANNEL_NOTE}", sql(f"""
SELECT channel, {STEP} AS step, arrived AS persons, conversion, target,
       multiIf(conversion IS NULL, '', conversion < target, 'below', 'ok') AS vs_target,
       median_seconds
FROM {DB}.campaign_funnel FINAL
{STEPS}
WHERE {CAMPAIGN} AND window = 'campaign'
ORDER BY channel != '*', channel, i
LIMIT 500""", TABLE), overrides=[
            rate_cell("conversion"), rate_cell("target"), *cells("s", "median_seconds"),
            {"matcher": {"id": "byName", "options": "vs_target"}, "properties": [
                {"id": "mappings", "value": [{"type": "value", "options": {
                    "below": {"color": "red", "index": 0},
                    "ok": {"color": "green", "index": 1}}}]},
                {"id": "custom.cellOptions", "value": {"type": "color-text"}}]}]), 14, 10),
        (table("Open conversion alerts",
               "Funnel steps converting confidently below target right now, every campaign "
               "(the selected one first), whatever the time range: the Wilson upper bound of "
               "the rate is under the threshold. An alert leaves this table when it resolves "
               "(latest revision per alert, FINAL).", sql(alerts, TABLE),
               overrides=[rate_cell("rate"), rate_cell("upper_bound"),
                          rate_cell("threshold")]), 10, 10),
        (timeseries("Funnel arrivals per hour",
                    "Distinct persons arriving at each step per display interval (UTC hour "
                    "windows of the selected campaign and channel, latest revision): when the "
                    "campaign draws people and where they stop.", [sql(f"""
SELECT $__timeInterval(window_start) AS time, {STEP} AS step, sum(arrived) AS persons
FROM {DB}.campaign_funnel FINAL
{STEPS}
{CAMPAIGN_WHERE} AND window = 'hour' AND $__timeFilter(window_start)
GROUP BY time, step
ORDER BY time, step""", TIME_SERIES)], "short", defaults={"min": 0}, interval="1h"), 8, 8),
        (timeseries("Step conversion (live)",
                    "Whole-campaign conversion of each step of the selected campaign, all "
                    "channels, as the workers report it (pulse_campaign_conversion; registered "
                    "campaigns only). Target ≥ 85% (dashed line).",
                    [promql('max by (transition) (pulse_campaign_conversion'
                            '{job="pulse-worker", campaign="$campaign"})', "{{transition}}")],
                    "percentunit", defaults={**target_line(0.85), "max": 1}), 8, 8),
        (panel("bargauge", "Conversion alerts opened and resolved",
               "Conversion alerts opened and resolved in the time range, by campaign "
               "(pulse_campaign_conversion_alerts_total; unregistered campaigns share one "
               "label). More openings than resolutions: steps still below target.",
               [promql('sum by (campaign, event) (increase('
                       'pulse_campaign_conversion_alerts_total{job="pulse-worker"}[$__range]))',
                       "{{campaign}} {{event}}", instant=True)], "short",
               options={**BARGAUGE, "reduceOptions": {**BARGAUGE["reduceOptions"],
                                                      "values": False}}), 8, 8),
    ]


def sales_panels() -> list[tuple[Json, int, int]]:
    hourly = {"interval": "1h"}
    daily = {**DAILY, "custom": {"drawStyle": "bars", "fillOpacity": 60}}
    amounts = ("sum(gmv_fen) / 100 AS gmv, sum(net_gmv_fen) / 100 AS net_gmv, "
               "sum(refund_fen) / 100 AS refunds")
    return [
        (stat("Sales to date (live)", "Cumulative GMV (paid orders), refunds (each capped at "
              "its order) and net GMV = GMV − refunds, all communities, campaigns and channels "
              f"(pulse_sales, dimension all). {FEN}",
              [live_sales("gmv_fen", "GMV", "A", " / 100"),
               live_sales("net_gmv_fen", "Net GMV", "B", " / 100"),
               live_sales("refund_fen", "Refunds", "C", " / 100")], "currencyCNY",
              defaults={"decimals": 2}), 12, 4),
        (stat("Orders and buyers to date (live)", "Cumulative paid orders, distinct paying "
              "members and members with two or more paid orders (repeat buyers), all "
              "communities (pulse_sales, dimension all).",
              [live_sales("orders", "Orders", "A"),
               live_sales("paying_members", "Paying members", "B"),
               live_sales("repeat_members", "Repeat buyers", "C")], "short"), 12, 4),
        (timeseries("GMV, net GMV and refunds per hour", "Paid order amounts (GMV), refunded "
                    "amounts (by refund time) and net GMV per display interval, all sales "
                    f"(UTC hour windows, latest revision). {FEN}",
                    [sales_series("hour", "$__timeFilter(window_start)",
                                  "$__timeInterval(window_start)", amounts)],
                    "currencyCNY", **hourly), 12, 8),
        (timeseries("GMV, net GMV and refunds per day", "The same per local day "
                    f"(Asia/Shanghai), all sales. {FEN} {OPEN_DAY}",
                    [sales_series("day", SALES_DAY_RANGE, "window_start", amounts)],
                    "currencyCNY", defaults=daily), 12, 8),
        (timeseries("Orders and paying members per day", "Paid orders, distinct paying "
                    "members and repeat buyers (two or more paid orders that day) per local "
                    f"day, all sales. {OPEN_DAY}", [sales_series(
                        "day", SALES_DAY_RANGE, "window_start",
                        "sum(orders) AS orders, sum(paying_members) AS paying_members, "
                        "sum(repeat_members) AS repeat_members")],
                    "short", defaults=DAILY), 12, 8),
        (timeseries("AOV and repurchase rate per day", "Average order value (GMV / orders, "
                    "客单价, left axis) and repurchase rate (repeat buyers / paying members, "
                    f"复购率, right axis) per local day, all sales. {FEN} {OPEN_DAY}",
                    [sales_series("day", SALES_DAY_RANGE, "window_start",
                                  "any(aov_fen) / 100 AS aov, "
                                  "any(repurchase_rate) AS repurchase_rate")],
                    "currencyCNY", defaults=DAILY, overrides=[
                        {"matcher": {"id": "byName", "options": "repurchase_rate"},
                         "properties": [{"id": "unit", "value": "percentunit"},
                                        {"id": "max", "value": 1},
                                        {"id": "custom.axisPlacement", "value": "right"}]}]),
         12, 8),
    ]


def breakdown_panels() -> list[tuple[Json, int, int]]:
    totals = ("orders, gmv_fen / 100 AS gmv, refund_fen / 100 AS refunds, "
              "net_gmv_fen / 100 AS net_gmv, paying_members, repeat_members, "
              "aov_fen / 100 AS aov, repurchase_rate")
    money = yuan("gmv", "refunds", "net_gmv", "aov")
    return [
        (table("Sales by community and day",
               "Each selected community's local days overlapping the range: orders, GMV, "
               "refunds, net GMV, buyers, AOV, and the conversion rate = paying members / "
               "members at the end of the day (member count from the community's health "
               "day; 0 and no rate when there is none). View community_sales_day (reads "
               f"FINAL). {FEN}", sql(f"""
SELECT community_id AS community,
       if(day = toDate(0), toDate(window_start, 'Asia/Shanghai'), day) AS local_day,
       orders, gmv_fen / 100 AS gmv, refund_fen / 100 AS refunds,
       net_gmv_fen / 100 AS net_gmv, paying_members, repeat_members, aov_fen / 100 AS aov,
       member_count, conversion_rate
FROM {DB}.community_sales_day
WHERE {SALES_DAY_RANGE} AND {COMMUNITY_FILTER}
ORDER BY local_day DESC, gmv DESC, community
LIMIT 200""", TABLE), overrides=[*money, rate_cell("conversion_rate")]), 24, 9),
        (table("Sales by campaign (to date)",
               "Cumulative sales attributed to each campaign, next to its funnel (persons "
               "who entered, share who reached the last step; all channels), best-selling "
               f"first. {FEN}", sql(f"""
SELECT s.dimension_value AS campaign, f.campaign_name AS name, f.entered AS entered,
       f.overall_conversion AS overall_conversion, s.orders AS orders,
       s.gmv_fen / 100 AS gmv, s.refund_fen / 100 AS refunds, s.net_gmv_fen / 100 AS net_gmv,
       s.paying_members AS paying_members, s.repeat_members AS repeat_members,
       s.aov_fen / 100 AS aov, s.repurchase_rate AS repurchase_rate
FROM (
  SELECT * FROM {DB}.sales_totals FINAL WHERE dimension = 'campaign' AND window = 'all'
) AS s
LEFT JOIN (
  SELECT campaign_id, campaign_name, entered, overall_conversion
  FROM {DB}.campaign_funnel FINAL
  WHERE window = 'campaign' AND channel = '*'
) AS f ON s.dimension_value = f.campaign_id
ORDER BY gmv DESC, campaign
LIMIT 100""", TABLE), overrides=[*money, rate_cell("overall_conversion"),
                                 rate_cell("repurchase_rate")]), 10, 9),
        (table("Sales by channel (to date)",
               "Cumulative sales by the order's channel attribution, best-selling first: which "
               f"channels bring buyers who come back (repurchase rate). {FEN}", sql(f"""
SELECT dimension_value AS channel, {totals}
FROM {DB}.sales_totals FINAL
WHERE dimension = 'channel' AND window = 'all'
ORDER BY gmv DESC, channel
LIMIT 100""", TABLE), overrides=[*money, rate_cell("repurchase_rate")]), 7, 9),
        (panel("barchart", "GMV by campaign phase",
               "GMV, net GMV and refunds of the selected campaign by phase of its local days "
               "(warm_up: the days before the registry's peak day, peak, continuation: the "
               "days after, outside otherwise): every stored day of the campaign, whatever "
               f"the time range. {FEN}", [sql(f"""
SELECT phase, sum(gmv_fen) / 100 AS gmv, sum(net_gmv_fen) / 100 AS net_gmv,
       sum(refund_fen) / 100 AS refunds
FROM {DB}.sales_totals FINAL
WHERE dimension = 'campaign' AND dimension_value = ${{campaign:singlequote}}
  AND window = 'day' AND phase IS NOT NULL
GROUP BY phase
ORDER BY indexOf(['warm_up', 'peak', 'continuation', 'outside', 'unphased'], phase)""",
                                          TABLE)], "currencyCNY",
               options={"xField": "phase", "orientation": "vertical", "showValue": "auto",
                        "legend": {"showLegend": True, "displayMode": "list",
                                   "placement": "bottom"}}, defaults={"min": 0}), 7, 9),
    ]


def attribution_panels() -> list[tuple[Json, int, int]]:
    """Credit to touches and fission (docs/metrics.md, "Attribution and fission"): the
    selected campaign's channels, and invitation depth; no member or inviter ids."""
    money = yuan("gmv")
    return [
        (table("Fission and join conversion by channel",
               "The selected campaign per first-touch channel (* = the whole campaign): "
               "persons who entered its funnel, community joins and invited joins (裂变) "
               "credited to its touches (first touch, within the attribution window), "
               "participants, orders and GMV credited the same way; fission rate = invited "
               "joins / entered, join conversion = joins / entered. View campaign_fission "
               f"(reads FINAL). {FEN}", sql(f"""
SELECT channel, entered, joins, invited_joins, participants, orders, gmv_fen / 100 AS gmv,
       fission_rate, join_conversion
FROM {DB}.campaign_fission
WHERE campaign_id = ${{campaign:singlequote}}
ORDER BY channel != '*', entered DESC, channel
LIMIT 100""", TABLE), overrides=[*money, rate_cell("fission_rate"),
                                 rate_cell("join_conversion")]), 12, 8),
        (table("First touch vs last touch",
               "What the selected campaign's touches are credited with under each model "
               "(joins, participants, paid orders and gross GMV), per channel: first touch "
               "shows which channels open journeys, last touch which ones close them. "
               f"{FEN}", sql(f"""
SELECT substring(dimension_value, position(dimension_value, '|') + 1) AS channel,
       sumIf(joins, dimension = 'first_touch') AS joins_first,
       sumIf(joins, dimension = 'last_touch') AS joins_last,
       sumIf(participants, dimension = 'first_touch') AS participants_first,
       sumIf(participants, dimension = 'last_touch') AS participants_last,
       sumIf(orders, dimension = 'first_touch') AS orders_first,
       sumIf(orders, dimension = 'last_touch') AS orders_last,
       sumIf(gmv_fen, dimension = 'first_touch') / 100 AS gmv_first,
       sumIf(gmv_fen, dimension = 'last_touch') / 100 AS gmv_last
FROM {DB}.sales_totals FINAL
WHERE dimension IN ('first_touch', 'last_touch') AND window = 'all'
  AND startsWith(dimension_value, concat(${{campaign:singlequote}}, '|'))
GROUP BY channel
ORDER BY gmv_last DESC, channel
LIMIT 100""", TABLE), overrides=yuan("gmv_first", "gmv_last")), 12, 8),
        (panel("barchart", "Invitation depth",
               "Invited members of the selected communities by depth of their invitation "
               "tree (1: invited by a member nobody invited; 5: five or more levels), from "
               "the raw joins (view invitation_depth): deep trees mean invitations spread "
               "beyond the first circle.", [sql(f"""
SELECT toString(depth) AS depth, count() AS members
FROM {DB}.invitation_depth
WHERE {COMMUNITY_FILTER}
GROUP BY depth
ORDER BY depth""", TABLE)], "short",
               options={"xField": "depth", "orientation": "vertical", "showValue": "auto",
                        "legend": {"showLegend": False}}, defaults={"min": 0}), 24, 7),
    ]


def campaigns_sales() -> Json:
    layout = Layout()
    placed: list[Json] = []
    placed += layout.sections((("Campaign funnel", funnel_panels()),
                               ("Sales (all communities)", sales_panels()),
                               ("Sales by community, campaign and channel", breakdown_panels()),
                               ("Attribution and fission", attribution_panels())))
    return dashboard("pulse-campaigns-sales", "Campaigns and sales",
                     "Campaign funnels, conversion alerts and sales (orders, GMV, refunds, "
                     "buyers) from ClickHouse and the workers' live gauges. No member ids.",
                     placed, campaign_variables(), "Asia/Shanghai", "1m")


# --- Sentiment and incidents (ClickHouse and Prometheus) ---------------------------

TIER_NAMES = {"mild": ("轻度 mild", "yellow"), "moderate": ("中度 moderate", "orange"),
              "severe": ("重度 severe", "red")}
STATUS_NAMES = {"open": ("待受理 open", "red"), "acknowledged": ("受理 acknowledged", "orange"),
                "resolved": ("解决 resolved", "yellow"),
                "followed_up": ("回访 followed up", "green")}
SLA_NAMES = {"met": ("met 达标", "green"), "pending": ("pending 进行中", "orange"),
             "overdue": ("overdue 超时", "red")}
TIER_ORDER = "indexOf(['mild', 'moderate', 'severe'], tier)"
TIER_LABEL = ("transform(tier, ['mild', 'moderate', 'severe'], "
              "['轻度 mild', '中度 moderate', '重度 severe'], tier)")
MEMBER_SCORES = f"WHERE $__timeFilter(ts) AND sender_role = 'member' AND {COMMUNITY_FILTER}"
OPENED_IN_RANGE = f"$__timeFilter(opened_at) AND {COMMUNITY_FILTER}"
LATEST_INCIDENT = ("Each incident at its latest revision (sentiment_alerts FINAL, argMax by "
                   "revision): a tier or status it has since left does not count.")
SLAS = ("SLAs (docs/product.md): respond (受理) within 3 h of opening; close the loop "
        "(受理→解决→回访, followed up) within 48 h; severe (重度) incidents: an official "
        "statement within 24 h of becoming severe. met: done by the deadline; overdue: done "
        "late, or not done and the deadline has passed; pending: not done, deadline ahead. "
        "No statement event is recorded: the statement counts as met when the incident was "
        "resolved (解决) by its deadline.")


def record_time(*path: str) -> str:
    """A timestamp of the incident's latest Alert record (the JSON column), NULL if unset."""
    keys = ", ".join(f"'{key}'" for key in path)
    return (f"parseDateTime64BestEffortOrNull(argMax(JSONExtractString(record, {keys}), "
            "revision), 3, 'UTC')")


def sla_status(done: str, deadline: str) -> str:
    """met (done by the deadline), overdue (done late, or not done and the deadline has
    passed) or pending (not done, deadline ahead), now."""
    return (f"multiIf({done} IS NOT NULL AND {done} <= {deadline}, 'met', "
            f"now64(3) > {deadline}, 'overdue', 'pending')")


def incidents(where: str) -> str:
    """Subquery: each incident's latest revision (FINAL folds a redelivered revision,
    argMax(…, revision) takes the newest; where it started and when never change) and the
    status of its SLAs now."""
    return f"""(
  SELECT *, {sla_status("acknowledged_at", "respond_by")} AS respond_sla,
         {sla_status("followed_up_at", "close_loop_by")} AS close_loop_sla,
         if(statement_by IS NULL, '', {sla_status("resolved_at", "statement_by")})
           AS statement_sla
  FROM (
    SELECT incident_id, community_id, opened_at, argMax(tier, revision) AS tier,
           argMax(status, revision) AS status,
           argMax(escalations, revision) AS escalations,
           argMax(negative_messages, revision) AS negative_messages,
           argMax(members, revision) AS members, argMax(respond_by, revision) AS respond_by,
           argMax(close_loop_by, revision) AS close_loop_by,
           {record_time("sla", "statement_by")} AS statement_by,
           {record_time("acknowledged_at")} AS acknowledged_at,
           {record_time("resolved_at")} AS resolved_at,
           {record_time("followed_up_at")} AS followed_up_at
    FROM {DB}.sentiment_alerts FINAL
    WHERE {where}
    GROUP BY incident_id, community_id, opened_at))"""


def sentiment_stats() -> list[tuple[Json, int, int]]:
    shares = ("Member messages the sentiment path scored in the selected communities and "
              "time range (message_sentiment FINAL: a re-scored message counts once)")
    tiers = {tier: text for tier, (text, _) in TIER_NAMES.items()}
    return [
        (stat("Positive share", f"{shares}: the share scored positive (target ≥ 60%).",
              sql(f"""
SELECT countIf(polarity = 'positive') / nullIf(count(), 0) AS positive_share
FROM {DB}.message_sentiment FINAL
{MEMBER_SCORES}""", TABLE), "percentunit",
              defaults=thresholds((None, "red"), (0.6, "green"))), 6, 4),
        (stat("Negative share", f"{shares}: the share graded negative feedback.", sql(f"""
SELECT countIf(polarity = 'negative') / nullIf(count(), 0) AS negative_share
FROM {DB}.message_sentiment FINAL
{MEMBER_SCORES}""", TABLE), "percentunit"), 6, 4),
        (stat("Incidents opened", "Incidents opened in the time range in the selected "
              f"communities (where they started), by current tier. {LATEST_INCIDENT}", sql(f"""
SELECT countIf(tier = 'mild') AS mild, countIf(tier = 'moderate') AS moderate,
       countIf(tier = 'severe') AS severe
FROM {incidents(OPENED_IN_RANGE)}""", TABLE), "short", overrides=display_names(tiers)), 6, 4),
        (stat("Open incidents now", "Incidents of the selected communities whose loop is not "
              "closed (not yet followed up, 回访), whatever the time range, and how many of "
              f"them are overdue on an SLA (target 0). {LATEST_INCIDENT}", sql(f"""
SELECT count() AS open_incidents,
       countIf(has([respond_sla, close_loop_sla, statement_sla], 'overdue')) AS overdue
FROM {incidents(COMMUNITY_FILTER)}
WHERE status != 'followed_up'""", TABLE), "short", overrides=[
            *display_names({"open_incidents": "open 未闭环", "overdue": "overdue 超时"}),
            {"matcher": {"id": "byName", "options": "overdue"}, "properties": [
                {"id": "thresholds",
                 "value": thresholds((None, "green"), (1, "red"))["thresholds"]}]}]), 6, 4),
    ]


def sentiment_panels() -> list[tuple[Json, int, int]]:
    return [
        (timeseries("Positive share by day", "Scored member messages graded positive / scored "
                    "messages, per community (the ten busiest selected ones), by local day "
                    "(community_health_day; target ≥ 60%, dashed line). Empty without the "
                    "alert path (no scores). " + OPEN_DAY, [day_metric("positive_share")],
                    "percentunit", defaults={**target_line(0.6), "max": 1}), 12, 8),
        (timeseries("Negative share by day", "Scored member messages graded negative feedback "
                    "/ scored messages, per community (the ten busiest selected ones), by "
                    "local day. " + OPEN_DAY, [day_metric("negative_share")], "percentunit",
                    defaults=DAILY), 12, 8),
        (timeseries("Positive and negative share per hour", "Shares of the member messages "
                    "scored in each display interval, over the selected communities "
                    "(message_sentiment FINAL; positive target ≥ 60%, dashed line).", [sql(f"""
SELECT $__timeInterval(ts) AS time,
       countIf(polarity = 'positive') / count() AS positive_share,
       countIf(polarity = 'negative') / count() AS negative_share
FROM {DB}.message_sentiment FINAL
{MEMBER_SCORES}
GROUP BY time
ORDER BY time""", TIME_SERIES)], "percentunit", defaults={**target_line(0.6), "max": 1},
                    interval="1h"), 12, 8),
        (table("Sentiment by community", "Each selected community over the local days "
               "(Asia/Shanghai) overlapping the range, lowest positive share first: scored "
               "member messages, positive share (target ≥ 60%), negative share and mean score "
               "(0 very negative, 1 very positive). View community_sentiment_daily (reads "
               "message_sentiment FINAL).", sql(f"""
SELECT community_id AS community, sum(scored_messages) AS scored,
       sum(positive_share * scored_messages) / sum(scored_messages) AS positive_share,
       sum(negative_share * scored_messages) / sum(scored_messages) AS negative_share,
       round(sum(mean_score * scored_messages) / sum(scored_messages), 3) AS mean_score,
       uniqExact(day) AS days
FROM {DB}.community_sentiment_daily
WHERE day >= toDate($__fromTime, 'Asia/Shanghai') AND day <= toDate($__toTime, 'Asia/Shanghai')
  AND {COMMUNITY_FILTER}
GROUP BY community
ORDER BY positive_share, community
LIMIT 100""", TABLE), overrides=[rate_cell("positive_share", 0.6),
                                 rate_cell("negative_share")]), 12, 8),
    ]


def incident_panels() -> list[tuple[Json, int, int]]:
    slas = [f"{sla}_{state}" for sla in ("respond", "close_loop", "statement")
            for state in SLA_NAMES]
    sla_counts = ",\n       ".join(
        f"countIf({sla.rsplit('_', 1)[0]}_sla = '{sla.rsplit('_', 1)[1]}') AS {sla}"
        for sla in slas)
    tier_cell = value_names("tier", TIER_NAMES)
    return [
        (timeseries("Incidents opened by tier", "Incidents opened per display interval in the "
                    "selected communities, by current tier (轻度 customer service, 中度 "
                    f"cross-department, 重度 crisis PR and management). {LATEST_INCIDENT}",
                    [sql(f"""
SELECT $__timeInterval(opened_at) AS time, {TIER_LABEL} AS tier_label, count() AS incidents
FROM {incidents(OPENED_IN_RANGE)}
GROUP BY time, tier
ORDER BY time, {TIER_ORDER}""", TIME_SERIES)], "short",
                    defaults={"custom": {"drawStyle": "bars", "fillOpacity": 60,
                                         "stacking": {"mode": "normal", "group": "A"}},
                              "min": 0}, interval="1h"), 12, 8),
        (table("Escalations by community", "Incidents opened in the time range per selected "
               "community: how many were escalated (re-paged and raised a tier: not "
               "acknowledged in time, or loop not closed by its deadline), escalations in "
               f"all, and how many are severe now. {LATEST_INCIDENT}", sql(f"""
SELECT community_id AS community, count() AS incidents,
       countIf(escalations > 0) AS escalated, sum(escalations) AS total_escalations,
       countIf(tier = 'severe') AS severe_now
FROM {incidents(OPENED_IN_RANGE)}
GROUP BY community
ORDER BY total_escalations DESC, incidents DESC, community
LIMIT 100""", TABLE)), 12, 8),
        (table("Open incidents", "Incidents of the selected communities whose loop is not "
               "closed (待受理 open, 受理 acknowledged, 解决 resolved but not followed up), "
               "whatever the time range, most severe first: community where it started, age, "
               f"escalations, negative messages, members who posted them, SLA status. {SLAS} "
               f"{LATEST_INCIDENT}", sql(f"""
SELECT incident_id AS incident, tier, community_id AS community, status, opened_at,
       dateDiff('second', opened_at, now64(3)) AS age, escalations, negative_messages,
       members, respond_sla, close_loop_sla, statement_sla, respond_by, close_loop_by,
       statement_by
FROM {incidents(COMMUNITY_FILTER)}
WHERE status != 'followed_up'
ORDER BY {TIER_ORDER} DESC, opened_at, incident
LIMIT 100""", TABLE), overrides=[
            tier_cell, value_names("status", STATUS_NAMES),
            *(value_names(f"{sla}_sla", SLA_NAMES)
              for sla in ("respond", "close_loop", "statement")),
            *cells("s", "age")]), 24, 10),
        (table("Time to acknowledge by tier", "Incidents opened in the time range, by current "
               "tier: how many were acknowledged (受理), the median and 90th percentile "
               "(interpolated) of the time from opening to acknowledgement, and the share "
               "acknowledged within 3 h "
               "among those whose deadline has passed or that were acknowledged (target "
               f"100%). {LATEST_INCIDENT}", sql(f"""
SELECT tier, count() AS incidents, countIf(acknowledged_at IS NOT NULL) AS acknowledged,
       quantileExactInclusive(0.5)(dateDiff('second', opened_at, acknowledged_at))
         AS median_seconds,
       quantileExactInclusive(0.9)(dateDiff('second', opened_at, acknowledged_at))
         AS p90_seconds,
       countIf(respond_sla = 'met') / nullIf(countIf(respond_sla != 'pending'), 0)
         AS respond_met_share
FROM {incidents(OPENED_IN_RANGE)}
GROUP BY tier
ORDER BY {TIER_ORDER}""", TABLE), overrides=[
            tier_cell, *cells("s", "median_seconds", "p90_seconds"),
            rate_cell("respond_met_share", 1.0)]), 12, 8),
        (table("SLA status by tier", "Incidents opened in the time range, by current tier: "
               "how many met, missed (overdue) or still await each deadline (statement: "
               f"severe only). {SLAS} {LATEST_INCIDENT}", sql(f"""
SELECT tier, count() AS incidents,
       {sla_counts}
FROM {incidents(OPENED_IN_RANGE)}
GROUP BY tier
ORDER BY {TIER_ORDER}""", TABLE), overrides=[
            tier_cell, *({"matcher": {"id": "byName", "options": sla}, "properties": [
                {"id": "color", "value": {"mode": "fixed",
                                          "fixedColor": SLA_NAMES[sla.rsplit("_", 1)[1]][1]}},
                {"id": "custom.cellOptions", "value": {"type": "color-text"}}]}
                for sla in slas)]), 12, 8),
    ]


def sentiment_live_panels() -> list[tuple[Json, int, int]]:
    scored = 'pulse_sentiment_messages_total{job="pulse-worker"%s}'
    positive = scored % ', polarity="positive"'

    def deliveries(outcome: str, legend: str, ref: str) -> Json:
        return promql(f'sum(increase(pulse_alert_deliveries_total{{job="pulse-worker", '
                      f'outcome="{outcome}"}}[$__range]))', legend, ref,
                      instant=True)

    return [
        (timeseries("Positive share (live), ten lowest communities",
                    "Scored member messages of the last hour graded positive, per community "
                    "as the workers count them (pulse_sentiment_messages_total; communities "
                    "beyond the label cap are summed as _other), the ten lowest, and all "
                    "communities together (target ≥ 60%, dashed line).", [
                        promql(f"bottomk(10, sum by (community) (increase({positive}[1h])) / "
                               f"sum by (community) (increase({scored % ''}[1h])))",
                               "{{community}}"),
                        promql(f"sum(increase({positive}[1h])) / "
                               f"sum(increase({scored % ''}[1h]))", "all communities", "B"),
                    ], "percentunit", defaults={**target_line(0.6), "max": 1}), 12, 8),
        (timeseries("Scored messages by polarity (live)", "Member messages scored per second, "
                    "all communities, by polarity (positive, neutral, negative).",
                    [promql(f"sum by (polarity) (rate({scored % ''}[$__rate_interval]))",
                            "{{polarity}}")], "ops"), 12, 8),
        (stat("Open incidents by tier (live)", "Incidents not yet resolved, by tier, as the "
              "workers' escalation timers last counted them (pulse_open_incidents, summed over "
              "workers: each counts its own partitions).",
              promql('sum by (tier) (pulse_open_incidents{job="pulse-worker"})', "{{tier}}",
                     instant=True), "short"), 6, 6),
        (panel("bargauge", "Alert records by tier and event",
               "Alert revisions published in the time range, by tier and lifecycle event "
               "(opened, upgraded, updated, acknowledged, escalated, resolved, followed_up; "
               "pulse_alerts_total).",
               [promql('sum by (tier, event) (increase(pulse_alerts_total{job="pulse-worker"}'
                       '[$__range]))', "{{tier}} {{event}}", instant=True)], "short",
               options={**BARGAUGE, "reduceOptions": {**BARGAUGE["reduceOptions"],
                                                      "values": False}}), 6, 6),
        (stat("Alert deliveries and failures", "Alert revisions delivered to moderators "
              "(Alertmanager, WeCom robot) and failed delivery attempts (retried) in the time "
              "range (pulse_alert_deliveries_total; target 0 failures). 0 and 0: no channel "
              "configured, or nothing to deliver.",
              [deliveries("delivered", "delivered", "A"),
               deliveries("failure", "failed attempts", "B")], "short",
              overrides=[{"matcher": {"id": "byFrameRefID", "options": "B"}, "properties": [
                  {"id": "thresholds",
                   "value": thresholds((None, "green"), (1, "red"))["thresholds"]}]}]), 6, 6),
        (timeseries("Alert latency", "From the triggering message's arrival at the broker to its "
                    "alert being published, p50 and p99 (pulse_alert_latency_seconds): "
                    "grading within seconds, against the handbooks' 1 hour.", [
                        promql("histogram_quantile(0.5, sum by (le) (rate("
                               'pulse_alert_latency_seconds_bucket{job="pulse-worker"}'
                               "[$__rate_interval])))", "p50"),
                        promql("histogram_quantile(0.99, sum by (le) (rate("
                               'pulse_alert_latency_seconds_bucket{job="pulse-worker"}'
                               "[$__rate_interval])))", "p99", "B"),
                    ], "s"), 6, 6),
    ]


def sentiment_incidents() -> Json:
    layout = Layout()
    placed = [layout.place(p, w, h) for p, w, h in sentiment_stats()]
    placed += layout.sections((("Sentiment (positive target ≥ 60%)", sentiment_panels()),
                               ("Incidents (轻度 / 中度 / 重度) and SLAs", incident_panels()),
                               ("Live (Prometheus)", sentiment_live_panels())))
    return dashboard("pulse-sentiment", "Sentiment and incidents",
                     "Positive and negative share of member messages, sentiment incidents by "
                     "tier, their SLAs and escalations (ClickHouse), and the workers' live "
                     "counters (Prometheus). No message text, no member ids.", placed,
                     community_variables(), "Asia/Shanghai", "1m")


# --- Member lifecycle (ClickHouse and Prometheus) ----------------------------------

LAYER_NAMES = {"core": "核心 core", "participating": "参与 participating",
               "onlooker": "围观 onlooker"}
SILENT = ("Silence (docs/metrics.md, \"Silent members\"): churn_risk after 3 days without a "
          "real interaction, win_back after 30, reactivated on a real interaction after "
          "either.")


def retention_heatmap() -> tuple[Json, int, int]:
    return (panel("heatmap", "Retention heatmap (day 1 / 7 / 30)",
                  "Join cohorts of the last 31 local days (x: the cohort's day) against the "
                  "share of them present and active 1, 7 and 30 days later (y), summed over the "
                  "selected communities (day-7 target ≥ 60%); a cell stays empty until that "
                  "day has closed for every community. Latest revision of each cohort (FINAL).",
                  [sql(f"""
SELECT toDateTime(cohort_day, 'Asia/Shanghai') AS time, {cohort_rates(matured=False)}
FROM {DB}.community_retention_cohort FINAL
{COHORT_WHERE} AND channel = '*'
GROUP BY cohort_day
ORDER BY cohort_day""", TIME_SERIES)], "percentunit",
                  options={"calculate": False, "cellGap": 2,
                           "cellValues": {"unit": "percentunit", "decimals": 0},
                           "color": {"mode": "scheme", "scheme": "RdYlGn", "fill": "green",
                                     "scale": "linear", "exponent": 0.5, "steps": 64,
                                     "reverse": False, "min": 0, "max": 1},
                           "rowsFrame": {"layout": "auto"}, "showValue": "auto",
                           "yAxis": {"axisPlacement": "left", "reverse": False},
                           "legend": {"show": True},
                           "tooltip": {"mode": "single", "yHistogram": False,
                                       "showColorScale": True}},
                  overrides=display_names({"retention_d1": "day 1", "retention_d7": "day 7",
                                           "retention_d30": "day 30"}),
                  timeFrom="31d"), 24, 8)


def silent_member_panels() -> list[tuple[Json, int, int]]:
    closed = ("Counted when a day closes (the open day has none), present members only. "
              "Latest revision of each day (FINAL).")
    return [
        (timeseries("Members at churn risk by day", "Present members in status churn_risk "
                    "(沉默 3 days: no real interaction for 3 days) at the end of each closed "
                    "local day, per community (the ten busiest selected ones). " + closed,
                    [day_metric("churn_risk_members", "churn_risk")], "short",
                    defaults=DAILY), 12, 8),
        (timeseries("Members to win back by day", "Present members in status win_back (沉默 "
                    "30 days: a 召回 win-back message is due) at the end of each closed local "
                    "day, per community (the ten busiest selected ones). " + closed,
                    [day_metric("win_back_members", "win_back")], "short", defaults=DAILY),
         12, 8),
        (timeseries("Silence status changes by day", "Members entering churn_risk, win_back "
                    "or reactivated per local day (Asia/Shanghai) in the selected communities, "
                    f"from the status changes in the time range (member_status_changes FINAL: a "
                    f"replayed change counts once). {SILENT}", [sql(f"""
SELECT toStartOfDay(at, 'Asia/Shanghai') AS time, status, count() AS members
FROM {DB}.member_status_changes FINAL
WHERE $__timeFilter(at) AND status IN ('churn_risk', 'win_back', 'reactivated')
  AND {COMMUNITY_FILTER}
GROUP BY time, status
ORDER BY time, status""", TIME_SERIES)], "short", defaults={
                        "custom": {"drawStyle": "bars", "fillOpacity": 60}, "min": 0},
                    interval="1d"), 12, 8),
        (table("Silent members by community and day", "Each selected community's local days "
               "overlapping the range, latest first: members at the end of the day, those in "
               "churn_risk and win_back (closed days only) and their share of the members, and "
               "members reactivated that day (status changes, Asia/Shanghai days). " + SILENT,
               sql(f"""
SELECT community_id AS community, day, member_count, churn_risk_members AS churn_risk,
       win_back_members AS win_back,
       churn_risk_members / nullIf(member_count, 0) AS churn_risk_share, reactivated
FROM (
  SELECT community_id, day, member_count, churn_risk_members, win_back_members
  FROM {DB}.community_health_day FINAL
  {DAY_WHERE}
) AS days
LEFT JOIN (
  SELECT community_id, toDate(at, 'Asia/Shanghai') AS day, count() AS reactivated
  FROM {DB}.member_status_changes FINAL
  WHERE status = 'reactivated' AND at >= $__fromTime - INTERVAL 1 DAY
    AND at <= $__toTime + INTERVAL 1 DAY AND {COMMUNITY_FILTER}
  GROUP BY community_id, day
) AS changes USING (community_id, day)
ORDER BY day DESC, churn_risk DESC, community
LIMIT 200""", TABLE), overrides=[rate_cell("churn_risk_share")]), 12, 8),
        (panel("bargauge", "Silence status changes (live)",
               "Status changes the workers published in the time range, all communities "
               "(pulse_member_status_changes_total): churn_risk, win_back, reactivated, left, "
               "active.",
               [promql('sum by (status) (increase(pulse_member_status_changes_total'
                       '{job="pulse-worker"}[$__range]))', "{{status}}", instant=True)],
               "short", options={**BARGAUGE, "reduceOptions": {**BARGAUGE["reduceOptions"],
                                                               "values": False}}), 12, 6),
        (panel("bargauge", "Churn risk, latest closed day (live)",
               "Members at churn risk at the end of each community's latest closed day, the "
               "ten communities with the most (pulse_community_day{metric=\"churn_risk_members\"}"
               "; communities beyond the label cap are summed as _other).",
               [promql('topk(10, max by (community) (pulse_community_day{job="pulse-worker", '
                       'metric="churn_risk_members"}))', "{{community}}", instant=True)],
               "short", options={**BARGAUGE, "reduceOptions": {**BARGAUGE["reduceOptions"],
                                                               "values": False}}), 12, 6),
    ]


def layer_panels() -> list[tuple[Json, int, int]]:
    shares = ", ".join(f"{layer} / nullIf(known, 0) AS {layer}_share" for layer in LAYER_NAMES)
    return [
        (table("Member layers by community (latest closed day)", "Each selected community's "
               "latest day in the range with layers (judged when the day closes): KOC, core "
               "(核心), participating (参与) and onlooker (围观) members, and each layer's share "
               "of the members known present. Latest revision of each day (FINAL).", sql(f"""
SELECT community, day, koc, core, participating, onlooker, {shares}
FROM (
  SELECT community_id AS community, day, koc_members AS koc, core_members AS core,
         participating_members AS participating, onlooker_members AS onlooker,
         core_members + participating_members + onlooker_members AS known
  FROM {DB}.community_health_day FINAL
  {DAY_WHERE} AND core_members IS NOT NULL
  ORDER BY community_id, day DESC
  LIMIT 1 BY community_id
)
ORDER BY known DESC, community
LIMIT 100""", TABLE), overrides=[rate_cell(f"{layer}_share") for layer in LAYER_NAMES]),
         12, 8),
        (timeseries("KOC members by day", "KOC members (the top PULSE_KOC_SHARE of active "
                    "members with at least PULSE_KOC_MIN_SCORE) at the end of each closed "
                    "local day, per community (the ten busiest selected ones). The open day "
                    "has none. Latest revision of each day (FINAL).",
                    [day_metric("koc_members", "koc")], "short", defaults=DAILY), 12, 8),
    ]


def retention_live_panel() -> tuple[Json, int, int]:
    return (panel("bargauge", "Day-7 retention, ten lowest communities (live)",
                  "Day-7 retention of each community's latest join cohort whose day 7 has "
                  "closed, the ten lowest (pulse_community_retention; target ≥ 60%).",
                  [promql('bottomk(10, max by (community) (pulse_community_retention'
                          '{job="pulse-worker", horizon="d7"}))', "{{community}}",
                          instant=True)], "percentunit",
                  options={**BARGAUGE, "reduceOptions": {**BARGAUGE["reduceOptions"],
                                                         "values": False}},
                  defaults={**thresholds((None, "red"), (0.6, "green")), "min": 0,
                            "max": 1}), 24, 6)


def member_lifecycle() -> Json:
    layout = Layout()
    placed: list[Json] = []
    placed += layout.sections((
            ("Retention (join cohorts)",
             [retention_heatmap(), *retention_panels(), retention_live_panel()]),
            ("Silent members (沉默成员)", silent_member_panels()),
            ("KOC and member layers (核心 / 参与 / 围观)", [*profile_panels(), *layer_panels()])))
    return dashboard("pulse-members", "Member lifecycle",
                     "Retention of join cohorts, silent members (churn risk, win back, "
                     "reactivated), KOC and member layers (ClickHouse and the workers' live "
                     "gauges). Members appear only as counts or by their salted reference "
                     "(m-…), never by id.", placed, community_variables(), "Asia/Shanghai",
                     "1m")


DASHBOARDS = {
    "community-overview.json": community_overview,
    "community-activity.json": community_activity,
    "pipeline-health.json": pipeline_health,
    "campaigns-sales.json": campaigns_sales,
    "sentiment-incidents.json": sentiment_incidents,
    "member-lifecycle.json": member_lifecycle,
}


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {name: json.dumps(build(), ensure_ascii=False, indent=2) + "\n"
            for name, build in DASHBOARDS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the JSON is stale")
    parser.add_argument("--out", type=Path, default=DASHBOARD_DIR)
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = args.out / name
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print(f"stale dashboards (run {Path(__file__).name}): {', '.join(stale)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
