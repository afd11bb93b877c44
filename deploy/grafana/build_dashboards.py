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
        *retention_panels(),
        *profile_panels(),
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
                              "min": 0, "max": 1}), 12, 8),
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


def retention_panels() -> list[tuple[Json, int, int]]:
    matured = ", ".join(
        f"sumIf(retained_d{n}, retained_d{n} IS NOT NULL) / "
        f"nullIf(sumIf(cohort_size, retained_d{n} IS NOT NULL), 0) AS retention_d{n}"
        for n in (1, 7, 30))
    whole = ", ".join(
        f"if(countIf(retained_d{n} IS NULL) > 0, NULL, sum(retained_d{n}) / sum(cohort_size)) "
        f"AS retention_d{n}" for n in (1, 7, 30))
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
                   "AND window_start >= now() - INTERVAL 30 DAY ORDER BY community_id")

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
    for title, section in (("Campaign funnel", funnel_panels()),
                           ("Sales (all communities)", sales_panels()),
                           ("Sales by community, campaign and channel", breakdown_panels()),
                           ("Attribution and fission", attribution_panels())):
        placed.append(layout.row(title))
        placed += [layout.place(p, w, h) for p, w, h in section]
    return dashboard("pulse-campaigns-sales", "Campaigns and sales",
                     "Campaign funnels, conversion alerts and sales (orders, GMV, refunds, "
                     "buyers) from ClickHouse and the workers' live gauges. No member ids.",
                     placed, campaign_variables(), "Asia/Shanghai", "1m")


DASHBOARDS = {
    "community-activity.json": community_activity,
    "pipeline-health.json": pipeline_health,
    "campaigns-sales.json": campaigns_sales,
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
