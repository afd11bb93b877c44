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


def stat(title: str, description: str, target: Json, unit: str, **extra: Any) -> Json:
    options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
               "colorMode": "value", "graphMode": "none", "textMode": "auto"}
    return panel("stat", title, description, [target], unit, options, **extra)


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

def community_variables() -> list[Json]:
    query = (f"SELECT DISTINCT community_id FROM {DB}.community_activity_minute "
             "WHERE window_start >= now() - INTERVAL 30 DAY ORDER BY community_id")
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


def community_activity() -> Json:
    layout = Layout()
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
    placed = [layout.place(p, w, h) for p, (w, h) in zip(panels, sizes, strict=True)]
    for title, section in (("Community health (day)", health_day_panels()),
                           ("Community activity (hour)", activity_hour_panels())):
        placed.append(layout.row(title))
        placed += [layout.place(p, w, h) for p, w, h in section]
    return dashboard("pulse-community-activity", "Community activity",
                     "Per-community activity from ClickHouse (event time).", placed,
                     community_variables(), "Asia/Shanghai", "1m")


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


DASHBOARDS = {
    "community-activity.json": community_activity,
    "pipeline-health.json": pipeline_health,
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
