"""Grafana: dashboards as code, provisioning, every ClickHouse panel query run in
chdb, every PromQL expression parsed by promtool, metric names, no personal data.

Each ClickHouse query runs for two selections: ``all`` (All communities, channel ``*``)
and ``c-alpha`` (community c-alpha, channel ``moments``); the campaign is CAMPAIGN."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from deploy_support import DEPLOY, load_yaml, run
from prometheus_client import CollectorRegistry

from pipeline.egress.clickhouse.client import ddl_statements
from pipeline.egress.clickhouse.tables import SENTIMENT_ALERTS
from pipeline.egress.prometheus import PrometheusSeries
from schemas.alerts import Alert, Excerpt, SlaDeadlines

GRAFANA = DEPLOY / "grafana"
DASHBOARD_DIR = GRAFANA / "dashboards"
RULE_FILE = DEPLOY / "prometheus" / "rules" / "pipeline.yml"
RUNNER = Path(__file__).with_name("chdb_runner.py")
DATABASE = "pulse"
COMMUNITIES = ["c-alpha", "c-beta"]
CAMPAIGN = "spring-sale"
CHANNELS = {"all": "*", "c-alpha": "moments"}
INTERVAL_S = 60
SECRETS = ("secret", "13800138000")
PROMQL_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h",
                    "$instance": ".*", "$campaign": CAMPAIGN}
# Prefix pipeline/app/factory.py passes to faust's setup_prometheus_sensors.
FAUST_PREFIX = "faust"


def load_builder() -> ModuleType:
    path = GRAFANA / "build_dashboards.py"
    spec = importlib.util.spec_from_file_location("build_dashboards", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARD_DIR.glob("*.json"))}


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """The board's panels other than row headers (which hold no queries)."""
    return [panel for panel in board["panels"] if panel["type"] != "row"]


def queries(kind: str) -> dict[str, str]:
    """``dashboard/panel/refId`` -> query of every target (and variable) of a datasource type."""
    found: dict[str, str] = {}
    field = "rawSql" if kind == "grafana-clickhouse-datasource" else "expr"
    for board in dashboards().values():
        for panel in panels(board):
            for target in panel["targets"]:
                if target["datasource"]["type"] == kind:
                    found[f"{board['uid']}/{panel['title']}/{target['refId']}"] = target[field]
        for variable in board["templating"]["list"]:
            if variable.get("datasource", {}).get("type") == kind:
                found[f"{board['uid']}/${variable['name']}"] = variable["query"]
    return found


CLICKHOUSE_QUERIES = queries("grafana-clickhouse-datasource")
PROMQL_QUERIES = queries("prometheus")


def test_committed_dashboards_are_builder_output(tmp_path: Path) -> None:
    builder = load_builder()
    rendered = builder.render()
    assert sorted(rendered) == sorted(dashboards()), "dashboard files differ from the builder's"
    for name, text in rendered.items():
        assert (DASHBOARD_DIR / name).read_text() == text, (
            f"{name} is stale: run python deploy/grafana/build_dashboards.py")
    assert builder.main(["--out", str(tmp_path)]) == 0
    assert builder.main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "pipeline-health.json").write_text("{}")
    assert builder.main(["--check", "--out", str(tmp_path)]) == 1


def test_dashboards_are_well_formed() -> None:
    boards = dashboards()
    assert {b["title"] for b in boards.values()} >= {
        "Community overview", "Community in detail", "Pipeline health", "Campaigns and sales",
        "Sentiment and incidents", "Member lifecycle"}
    assert len({b["uid"] for b in boards.values()}) == len(boards)
    for board in boards.values():
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), board["uid"]
        titles = [panel["title"] for panel in board["panels"]]
        assert len(titles) == len(set(titles)), board["uid"]
        cells: dict[tuple[int, int], str] = {}
        for panel in board["panels"]:
            grid = panel["gridPos"]
            for x in range(grid["x"], grid["x"] + grid["w"]):
                for y in range(grid["y"], grid["y"] + grid["h"]):
                    assert (x, y) not in cells, f"{panel['title']} overlaps {cells[x, y]}"
                    cells[x, y] = panel["title"]
            if panel["type"] == "row":
                assert (grid["x"], grid["w"], grid["h"]) == (0, 24, 1), panel["title"]
                assert not panel["collapsed"] and not panel["panels"], panel["title"]
                assert "targets" not in panel, panel["title"]
                continue
            assert grid["x"] + grid["w"] <= 24 and panel["targets"], panel["title"]
            refs = [target["refId"] for target in panel["targets"]]
            assert len(refs) == len(set(refs)), panel["title"]


def rows_of(board: dict[str, Any]) -> dict[str, list[str]]:
    """Row title -> titles of the panels under it (until the next row), by grid position."""
    grouped: dict[str, list[str]] = {}
    current = None
    for panel in sorted(board["panels"], key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"])):
        if panel["type"] == "row":
            current = grouped.setdefault(panel["title"], [])
        elif current is not None:
            current.append(panel["title"])
    return grouped


def test_selectors_follow_the_time_range_not_the_wall_clock() -> None:
    """A selector bounded by the wall clock (``now() - INTERVAL 30 DAY``) offers nothing
    for an older time range, and a test run on dated data passes or fails by the day."""
    for name, board in dashboards().items():
        for variable in board["templating"]["list"]:
            if variable["type"] == "query" and "window_start" in variable["query"]:
                assert "now()" not in variable["query"], (name, variable["name"])
                assert "$__fromTime" in variable["query"], (name, variable["name"])


def test_community_health_rows() -> None:
    """The overview compares communities; the detail board follows the selected ones."""
    overview = dashboards()["community-overview.json"]
    assert overview["uid"] == "pulse-community-overview"
    compared = rows_of(overview)["Health by community (day)"]
    assert compared == ["Health report by community (latest day in range)",
                        "Membership conflicts by community", "Membership conflicts by kind"]
    by_title = {panel["title"]: panel for panel in panels(overview)}
    for title in compared[:-1]:
        assert "community_health_day FINAL" in by_title[title]["targets"][0]["rawSql"]
    assert by_title[compared[-1]]["datasource"]["type"] == "prometheus"
    board = dashboards()["community-activity.json"]
    assert board["title"] == "Community in detail"
    grouped = rows_of(board)
    assert list(grouped) == ["Community health (day)", "Community activity (hour)"]
    assert grouped["Community health (day)"] == [
        "DAU / WAU / MAU", "Stickiness (DAU / MAU)", "Interaction rate",
        "Real interaction rate (DAU / members)", "UGC share by day",
        "Interactions per member per month", "Member count by day",
        "Joins, leaves, removals and net growth", "Slot share (3+2)",
        "Interactions by local hour (3+2 slots)", "Hot words"]
    assert grouped["Community activity (hour)"] == [
        "Messages by sender role", "Speakers vs active members", "Mechanical and copy share",
        "Member count by hour"]
    by_title = {panel["title"]: panel for panel in panels(board)}
    for title in grouped["Community activity (hour)"]:
        assert "community_activity_hour FINAL" in by_title[title]["targets"][0]["rawSql"]
    for title in grouped["Community health (day)"]:
        assert "community_health_day FINAL" in by_title[title]["targets"][0]["rawSql"]


def test_community_health_targets() -> None:
    """Targets (docs/metrics-catalogue.md) as thresholds: dashed lines, coloured cells."""
    board = dashboards()["community-activity.json"]
    by_title = {panel["title"]: panel for panel in panels(board)}
    targets = {"Stickiness (DAU / MAU)": 0.4, "Interaction rate": 0.15,
               "Real interaction rate (DAU / members)": 0.15, "UGC share by day": 0.6,
               "Interactions per member per month": 8}
    for title, target in targets.items():
        defaults = by_title[title]["fieldConfig"]["defaults"]
        assert [step["value"] for step in defaults["thresholds"]["steps"]] == [None, target]
        assert defaults["custom"]["thresholdsStyle"]["mode"] == "dashed", title
    overview = {panel["title"]: panel for panel in panels(dashboards()["community-overview.json"])}
    report = overview["Health report by community (latest day in range)"]
    cell_targets = {}
    for override in report["fieldConfig"]["overrides"]:
        for prop in override["properties"]:
            if prop["id"] == "thresholds":
                cell_targets[override["matcher"]["options"]] = prop["value"]["steps"][1]["value"]
    assert cell_targets == {"stickiness": 0.4, "interaction_rate": 0.15,
                            "real_interaction_rate": 0.15, "ugc_share": 0.6,
                            "interactions_per_member_30d": 8}


def test_datasources_provisioned() -> None:
    provisioned = load_yaml(GRAFANA / "provisioning/datasources/datasources.yml")["datasources"]
    by_uid = {source["uid"]: source for source in provisioned}
    clickhouse = next(s for s in provisioned if s["type"] == "grafana-clickhouse-datasource")
    assert clickhouse["jsonData"]["host"] == "clickhouse"
    assert clickhouse["jsonData"]["port"] == 8123
    assert "password" in clickhouse["secureJsonData"]
    assert by_uid["pulse-prometheus"]["url"] == "http://prometheus:9090"
    for board in dashboards().values():
        for panel in panels(board):
            for source in [panel["datasource"], *(t["datasource"] for t in panel["targets"])]:
                assert by_uid[source["uid"]]["type"] == source["type"], panel["title"]
    provider = load_yaml(GRAFANA / "provisioning/dashboards/dashboards.yml")["providers"][0]
    assert provider["type"] == "file" and provider["options"]["path"] == "/etc/grafana/dashboards"


# --- ClickHouse panels in chdb --------------------------------------------------------

def expand_conditional_all(sql: str, all_selected: bool) -> str:
    """``$__conditionalAll(cond, $var)``: cond, or 1=1 when the variable selects All."""
    marker = "$__conditionalAll("
    while (start := sql.find(marker)) != -1:
        depth, end = 1, start + len(marker)
        while depth:
            depth += {"(": 1, ")": -1}.get(sql[end], 0)
            end += 1
        condition, _, _variable = sql[start + len(marker):end - 1].rpartition(",")
        sql = sql[:start] + ("1=1" if all_selected else condition.strip()) + sql[end:]
    return sql


def expand_clickhouse(sql: str, communities: list[str] | None, start: int, end: int,
                      channel: str = "*") -> str:
    """Grafana variables and grafana-clickhouse-datasource v4 macros, as the plugin expands them
    for the time range ``start``..``end`` (epoch seconds)."""
    sql = expand_conditional_all(sql, all_selected=communities is None)
    sql = sql.replace("${database}", DATABASE)
    sql = sql.replace("${campaign:singlequote}", f"'{CAMPAIGN}'")
    sql = sql.replace("${channel:singlequote}", f"'{channel}'")
    sql = sql.replace("${community:singlequote}",
                      ",".join(f"'{c}'" for c in communities or COMMUNITIES))
    sql = re.sub(r"\$__timeFilter\((\w+)\)",
                 rf"\1 >= toDateTime({start}) AND \1 <= toDateTime({end})", sql)
    sql = sql.replace("$__fromTime", f"toDateTime({start})")
    sql = sql.replace("$__toTime", f"toDateTime({end})")
    sql = re.sub(r"\$__timeInterval\((\w+)\)",
                 rf"toStartOfInterval(toDateTime(\1), INTERVAL {INTERVAL_S} second)", sql)
    sql = sql.replace("$__interval_s", str(INTERVAL_S))
    assert "$" not in sql, f"unexpanded macro or variable in:\n{sql}"
    return sql


def ddl() -> list[str]:
    return [f"CREATE DATABASE IF NOT EXISTS {DATABASE}", *ddl_statements(DATABASE)]


def sample_rows() -> list[str]:
    """Duplicates and superseded revisions included, so queries without FINAL count wrong."""
    minute = "toStartOfMinute(now())"
    chat = (f"INSERT INTO {DATABASE}.chat_messages (message_id, community_id, platform, member_id, "
            "sender_role, msg_type, text, reply_to, mentions, ts, kafka_partition, kafka_offset, "
            "ingested_at) VALUES ")
    rows = [
        ("m1", "c-alpha", "member-secret-A", "member", 5, 4),
        ("m1", "c-alpha", "member-secret-A", "member", 5, 1),
        ("m2", "c-alpha", "member-secret-B", "member", 4, 3),
        ("m3", "c-alpha", "staff-secret-S", "staff", 3, 2),
        ("m4", "c-beta", "member-secret-A", "member", 3, 2),
        ("m5", "c-beta", "bot-secret-X", "bot", 2, 1),
    ]
    chat += ", ".join(
        f"('{mid}', '{community}', 'wechat', '{member}', '{role}', 'text', "
        f"'我的电话13800138000 secret', NULL, [], now64(3) - INTERVAL {age} MINUTE, 0, {i}, "
        f"now64(3) - INTERVAL {ingested} MINUTE)"
        for i, (mid, community, member, role, age, ingested) in enumerate(rows))
    activity = (
        f"INSERT INTO {DATABASE}.community_activity_minute (community_id, window_start, "
        "window_end, messages, speakers, is_final, revision, updated_at) VALUES "
        f"('c-alpha', {minute} - INTERVAL 10 MINUTE, {minute} - INTERVAL 9 MINUTE, 5, 2, 0, 1, "
        "now64(3)), "
        f"('c-alpha', {minute} - INTERVAL 10 MINUTE, {minute} - INTERVAL 9 MINUTE, 7, 3, 1, 2, "
        "now64(3)), "
        f"('c-alpha', {minute} - INTERVAL 9 MINUTE, {minute} - INTERVAL 8 MINUTE, 4, 2, 1, 1, "
        "now64(3)), "
        f"('c-beta', {minute} - INTERVAL 10 MINUTE, {minute} - INTERVAL 9 MINUTE, 3, 1, 1, 1, "
        "now64(3))")
    dead = (f"INSERT INTO {DATABASE}.dead_letters (source_topic, source_partition, source_offset, "
            "reason, detail, size_bytes, rejected_at) VALUES "
            "('community.chat.messages.v1', 0, 10, 'schema', 'secret payload', 100, "
            "now64(3) - INTERVAL 3 MINUTE), "
            "('community.chat.messages.v1', 0, 10, 'schema', 'secret payload', 100, "
            "now64(3) - INTERVAL 2 MINUTE), "
            "('community.member.events.v1', 1, 5, 'json', 'secret payload', 20, "
            "now64(3) - INTERVAL 1 MINUTE)")
    return [chat, activity, dead, *health_rows(), *retention_rows(), *profile_rows(),
            *campaign_rows(), *sales_rows(), *join_rows(), *sentiment_rows(),
            *incident_rows(), *status_rows()]


class Raw(str):
    """A SQL expression, inserted as is."""


def literal(value: Any) -> str:
    if isinstance(value, Raw):
        return value
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        return f"toDateTime64('{value.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f}', 6, 'UTC')"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, list):
        return "[" + ", ".join(map(literal, value)) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(map(literal, value)) + ")"
    return repr(value)


def inserts(table: str, rows: list[dict[str, Any]]) -> list[str]:
    """One INSERT per row: each makes its own part, so revisions of a window stay apart until
    FINAL (within one insert block ClickHouse would already replace them, optimize_on_insert)."""
    return [f"INSERT INTO {DATABASE}.{table} ({', '.join(row)}) VALUES "
            f"({', '.join(map(literal, row.values()))})" for row in rows]


HOUR_COUNTS = ("messages", "member_messages", "staff_messages", "bot_messages", "interactions",
               "real_interactions", "mechanical_messages", "copy_messages", "speakers",
               "active_members", "senders", "slot_interactions", "joins", "leaves", "removals",
               "net_growth", "member_count")


def hour_row(community: str, hours_ago: int, revision: int, counts: tuple[int, ...],
             anchor: str) -> dict[str, Any]:
    start = f"toStartOfHour(now()) - INTERVAL {hours_ago} HOUR"
    return {"community_id": community, "window_start": Raw(start),
            "window_end": Raw(f"{start} + INTERVAL 1 HOUR"),
            **dict(zip(HOUR_COUNTS, counts, strict=True)), "member_count_anchor": anchor,
            "speaking_rate": None, "is_final": int(hours_ago > 0), "revision": revision,
            "updated_at": Raw("now64(3)")}


def day_row(community: str, days_ago: int, revision: int, **metrics: Any) -> dict[str, Any]:
    """A community_health_day row for the local (Asia/Shanghai) day ``days_ago`` days back."""
    start = f"toStartOfDay(now(), 'Asia/Shanghai') - INTERVAL {days_ago} DAY"
    row: dict[str, Any] = {
        "community_id": community, "day": Raw(f"toDate({start}, 'Asia/Shanghai')"),
        "timezone": "Asia/Shanghai", "window_start": Raw(start),
        "window_end": Raw(f"{start} + INTERVAL 1 DAY")}
    counts = ("messages", "member_messages", "staff_messages", "bot_messages", "interactions",
              "real_interactions", "mechanical_messages", "copy_messages", "speakers", "dau",
              "wau", "mau", "ugc_messages", "slot_interactions", "joins", "leaves", "removals",
              "net_growth", "member_count", "membership_conflicts", "scored_messages",
              "positive_messages", "negative_messages")
    layers = ("koc_members", "core_members", "participating_members", "onlooker_members",
              "churn_risk_members", "win_back_members")
    rates = ("stickiness", "ugc_share", "slot_share", "join_rate", "leave_rate",
             "speaking_rate", "interaction_rate", "real_interaction_rate", "weekly_active_rate",
             "interactions_per_member_30d", "positive_share", "negative_share")
    hourly = [0] * 24
    for hour, n in metrics.pop("hourly", {}).items():
        hourly[hour] = n
    row.update({name: metrics.pop(name, 0) for name in counts})
    row.update({name: metrics.pop(name, None) for name in rates + layers})
    row.update({"hourly_interactions": hourly, "member_count_anchor": metrics.pop("anchor"),
                "hot_words": metrics.pop("hot_words", []), "is_final": int(days_ago > 0),
                "revision": revision, "updated_at": Raw("now64(3)")})
    assert not metrics, f"unknown columns {metrics}"
    return row


def health_rows() -> list[str]:
    """Hour and day windows: a superseded revision of c-alpha's windows (FINAL keeps the
    second) and a c-alpha window outside the time range, neither of which may count."""
    hours = [  # messages, member, staff, bot, interactions, real, mechanical, copies, speakers,
        # active, senders, slot, joins, leaves, removals, net growth, member count
        hour_row("c-alpha", 1, 1, (10, 6, 3, 1, 6, 3, 2, 1, 4, 3, 6, 0, 1, 0, 0, 1, 100),
                 "relative"),
        hour_row("c-alpha", 1, 2, (20, 12, 6, 2, 10, 5, 4, 1, 8, 5, 10, 2, 2, 1, 0, 1, 120),
                 "snapshot"),
        hour_row("c-alpha", 0, 1, (4, 4, 0, 0, 4, 2, 1, 1, 3, 2, 3, 0, 0, 0, 0, 0, 121),
                 "snapshot"),
        hour_row("c-beta", 1, 1, (5, 2, 2, 1, 2, 1, 1, 0, 2, 1, 4, 0, 0, 0, 0, 0, 30),
                 "relative"),
        hour_row("c-alpha", 5, 1, (999, 999, 0, 0, 99, 9, 90, 0, 99, 9, 99, 0, 9, 0, 0, 9, 50),
                 "relative"),
    ]
    days = [
        day_row("c-alpha", 0, 1, messages=50, member_messages=30, staff_messages=15,
                bot_messages=5, interactions=28, real_interactions=20, mechanical_messages=5,
                copy_messages=3, speakers=18, dau=14, wau=40, mau=60, stickiness=14 / 60,
                ugc_messages=20, ugc_share=0.5, slot_interactions=5, slot_share=5 / 28,
                hourly={9: 99}, joins=1, leaves=1, member_count=100, anchor="relative",
                membership_conflicts=7, interaction_rate=0.18, real_interaction_rate=0.14,
                interactions_per_member_30d=5.0, hot_words=[("周末", 4), ("过期", 9)],
                scored_messages=10, positive_messages=9, negative_messages=1,
                positive_share=0.9, negative_share=0.1, churn_risk_members=50,
                win_back_members=20, koc_members=9, core_members=1, participating_members=1,
                onlooker_members=1),
        day_row("c-alpha", 0, 2, messages=80, member_messages=50, staff_messages=20,
                bot_messages=10, interactions=48, real_interactions=36, mechanical_messages=8,
                copy_messages=4, speakers=30, dau=24, wau=50, mau=60, stickiness=0.4,
                ugc_messages=36, ugc_share=0.6, slot_interactions=5, slot_share=5 / 48,
                hourly={9: 30, 20: 18}, joins=3, leaves=1, removals=1, net_growth=1,
                member_count=120, anchor="snapshot", membership_conflicts=2,
                join_rate=3 / 120, leave_rate=2 / 120, speaking_rate=0.25,
                interaction_rate=0.25, real_interaction_rate=0.2, weekly_active_rate=50 / 120,
                interactions_per_member_30d=9.5, hot_words=[("周末", 5), ("活动", 3)],
                koc_members=2, core_members=12, participating_members=48,
                onlooker_members=60, scored_messages=20, positive_messages=13,
                negative_messages=2, positive_share=0.65, negative_share=0.1,
                churn_risk_members=5, win_back_members=2),
        day_row("c-beta", 0, 1, messages=12, member_messages=8, staff_messages=3,
                bot_messages=1, interactions=8, real_interactions=6, mechanical_messages=1,
                copy_messages=1, speakers=5, dau=4, wau=6, mau=8, stickiness=0.5,
                ugc_messages=6, ugc_share=0.6, slot_interactions=2, slot_share=0.25,
                hourly={12: 6, 20: 2}, leaves=2, net_growth=-2, member_count=40,
                anchor="relative", leave_rate=0.05, speaking_rate=0.125,
                interaction_rate=0.125, real_interaction_rate=0.1, weekly_active_rate=0.15,
                interactions_per_member_30d=3.0, hot_words=[("活动", 4), ("报名", 1)],
                koc_members=1, core_members=3, participating_members=7,
                onlooker_members=30, scored_messages=4, positive_messages=2,
                negative_messages=1, positive_share=0.5, negative_share=0.25,
                churn_risk_members=3, win_back_members=1),
        day_row("c-alpha", 3, 9, messages=999, dau=900, wau=900, mau=900, stickiness=1.0,
                hourly={3: 500}, joins=90, member_count=10, anchor="relative",
                membership_conflicts=50, interaction_rate=0.9, hot_words=[("旧词", 99)],
                positive_share=0.99, negative_share=0.0, churn_risk_members=99,
                win_back_members=99, koc_members=99, core_members=99,
                participating_members=1, onlooker_members=1),
    ]
    return [*inserts("community_activity_hour", hours), *inserts("community_health_day", days)]


def cohort_row(community: str, days_ago: int, channel: str, revision: int, size: int,
               *kept: int | None) -> dict[str, Any]:
    """A community_retention_cohort row for the cohort of the local day ``days_ago`` back."""
    day = f"toDate(now(), 'Asia/Shanghai') - INTERVAL {days_ago} DAY"
    d1, d7, d30 = (*kept, None, None, None)[:3]
    return {"community_id": community, "cohort_day": Raw(day), "timezone": "Asia/Shanghai",
            "channel": channel, "cohort_size": size, "retained_d1": d1, "retained_d7": d7,
            "retained_d30": d30,
            **{f"retention_d{n}": None if k is None else k / size
               for n, k in zip((1, 7, 30), (d1, d7, d30), strict=True)},
            "is_final": int(d30 is not None), "revision": revision,
            "updated_at": Raw("now64(3)")}


def retention_rows() -> list[str]:
    """Today's cohorts (with made-up retained counts: the panels only sum them), a superseded
    revision and a cohort 40 days back, neither of which may count."""
    return inserts("community_retention_cohort", [
        cohort_row("c-alpha", 0, "*", 1, 9, 1),
        cohort_row("c-alpha", 0, "*", 2, 10, 6, 4),
        cohort_row("c-alpha", 0, "moments", 2, 6, 4, 3),
        cohort_row("c-alpha", 0, "(none)", 2, 4, 2, 1),
        cohort_row("c-beta", 0, "*", 1, 10, 2, 2),
        cohort_row("c-beta", 0, "moments", 1, 10, 2, 2),
        cohort_row("c-alpha", 40, "*", 1, 99, 99, 99, 99),
        cohort_row("c-alpha", 40, "moments", 1, 99, 99, 99, 99),
    ])


def profile_row(community: str, days_ago: int, member: str, revision: int, score: float,
                rank: int | None, layer: str, koc: bool = False) -> dict[str, Any]:
    """A member_profile row of the local day ``days_ago`` back (points made up: the
    leaderboard only shows them)."""
    return {"community_id": community, "member_id": "secret-" + member, "member_ref": member,
            "day": Raw(f"toDate(now(), 'Asia/Shanghai') - INTERVAL {days_ago} DAY"),
            "timezone": "Asia/Shanghai", "layer": layer, "is_koc": int(koc), "rank": rank,
            "score": score, "points_messages": score / 2, "points_engagement": score / 4,
            "points_content": score / 8, "points_sentiment": score / 8,
            "points_invitations": 0.0, "real_interactions": 10, "active_days": 5,
            "replies_received": 2, "mentions_received": 1, "avg_text_length": 12.5,
            "positive_share": 0.5, "scored_messages": 4, "invited_joins": 0,
            "revision": revision, "updated_at": Raw("now64(3)")}


def profile_rows() -> list[str]:
    """Today's profiles, a superseded revision, an onlooker without rank and a day 40
    back, none of which may be on the leaderboard."""
    return inserts("member_profile", [
        profile_row("c-alpha", 0, "m-a1", 1, 99.0, 1, "core", koc=True),
        profile_row("c-alpha", 0, "m-a1", 2, 64.5, 1, "core", koc=True),
        profile_row("c-alpha", 0, "m-a2", 2, 40.0, 2, "participating"),
        profile_row("c-alpha", 0, "m-a3", 2, 1.25, None, "onlooker"),
        profile_row("c-beta", 0, "m-b1", 1, 52.0, 1, "core", koc=True),
        profile_row("c-alpha", 40, "m-old", 1, 100.0, 1, "core", koc=True),
    ])


STEPS = ["poster_click", "signup_page", "signup"]
EPOCH = Raw("toDateTime(0)")
CAMPAIGN_NAMES = {"spring-sale": "春季大促", "autumn": "秋季上新"}


def funnel_row(campaign: str, channel: str, hours_ago: int | None, revision: int,
               persons: list[int], conversion: list[float | None],
               median: list[float | None]) -> dict[str, Any]:
    """A campaign_funnel row: the whole-campaign window (``hours_ago`` None) or an hour."""
    start = f"toStartOfHour(now()) - INTERVAL {hours_ago} HOUR"
    whole = hours_ago is None
    return {
        "campaign_id": campaign, "campaign_name": CAMPAIGN_NAMES[campaign], "registered": 1,
        "channel": channel, "window": "campaign" if whole else "hour",
        "window_start": EPOCH if whole else Raw(start),
        "window_end": None if whole else Raw(f"{start} + INTERVAL 1 HOUR"),
        "phase": "all" if whole else "peak", "entered": persons[0],
        "overall_conversion": persons[-1] / persons[0], "step_names": STEPS,
        "step_persons": persons, "step_conversion": conversion,
        "step_median_seconds": median, "step_threshold": [0.85] * len(STEPS),
        "revision": revision, "updated_at": Raw("now64(3)")}


def alert_row(alert_id: str, revision: int, minutes_ago: int, rate: float) -> dict[str, Any]:
    campaign, transition, _ = alert_id.split("|")
    from_step, to_step = transition.split("->")
    return {"alert_id": alert_id, "campaign_id": campaign,
            "campaign_name": CAMPAIGN_NAMES[campaign], "from_step": from_step,
            "to_step": to_step, "status": "open" if revision == 1 else "resolved",
            "entered": 100, "converted": round(rate * 100), "rate": rate,
            "upper_bound": rate + 0.05, "threshold": 0.85,
            "opened_at": Raw(f"now64(3) - INTERVAL {minutes_ago} MINUTE"),
            "evaluated_at": Raw("now64(3)"), "revision": revision,
            "updated_at": Raw("now64(3)")}


def campaign_rows() -> list[str]:
    """Funnels and conversion alerts: superseded revisions, an hour out of the time range
    and a resolved alert, none of which may count."""
    funnels = [
        funnel_row("spring-sale", "*", None, 1, [50, 40, 20], [None, 0.8, 0.5],
                   [None, 20.0, 300.0]),
        funnel_row("spring-sale", "*", None, 2, [100, 90, 60], [None, 0.9, 60 / 90],
                   [None, 30.0, 600.0]),
        funnel_row("spring-sale", "moments", None, 1, [60, 55, 40], [None, 55 / 60, 40 / 55],
                   [None, 25.0, 500.0]),
        funnel_row("spring-sale", "kol", None, 1, [40, 35, 20], [None, 0.875, 20 / 35],
                   [None, 35.0, 700.0]),
        funnel_row("autumn", "*", None, 1, [10, 5, 1], [None, 0.5, 0.2], [None, 9.0, 9.0]),
        funnel_row("spring-sale", "*", 1, 1, [10, 8, 5], [None, 0.8, 0.625], [None, 1.0, 1.0]),
        funnel_row("spring-sale", "*", 1, 2, [12, 10, 6], [None, 10 / 12, 0.6],
                   [None, 1.0, 1.0]),
        funnel_row("spring-sale", "*", 0, 1, [3, 2, 1], [None, 2 / 3, 0.5], [None, 1.0, 1.0]),
        funnel_row("spring-sale", "*", 5, 1, [99, 99, 99], [None, 1.0, 1.0], [None, 1.0, 1.0]),
        funnel_row("spring-sale", "moments", 1, 1, [7, 6, 4], [None, 6 / 7, 4 / 6],
                   [None, 1.0, 1.0]),
    ]
    alerts = [
        alert_row("spring-sale|signup_page->signup|1", 1, 90, 0.6),
        alert_row("spring-sale|signup_page->signup|1", 2, 90, 0.9),
        alert_row("spring-sale|signup_page->signup|2", 1, 10, 0.62),
        alert_row("autumn|poster_click->signup_page|1", 1, 5, 0.5),
    ]
    return [*inserts("campaign_funnel", funnels), *inserts("campaign_conversion_alerts", alerts)]


SALES_COUNTS = ("orders", "gmv_fen", "refunds", "refund_fen", "net_gmv_fen", "paying_members",
                "repeat_members")


def sales_row(dimension: str, value: str, window: str, ago: int, revision: int,
              counts: tuple[int, ...], phase: str | None = None) -> dict[str, Any]:
    """A sales_totals row: ``ago`` hours (hour) or local days (day) back; all: cumulative."""
    starts = {"hour": f"toStartOfHour(now()) - INTERVAL {ago} HOUR",
              "day": f"toStartOfDay(now(), 'Asia/Shanghai') - INTERVAL {ago} DAY"}
    row = dict(zip(SALES_COUNTS, counts, strict=True))
    return {"dimension": dimension, "dimension_value": value, "window": window,
            "window_start": Raw(starts[window]) if window in starts else EPOCH,
            "phase": phase, **row, "refunds_capped": 0, "unmatched_refunds": 0,
            "unmatched_refund_fen": 0,
            "aov_fen": round(row["gmv_fen"] / row["orders"]) if row["orders"] else None,
            "repurchase_rate": (row["repeat_members"] / row["paying_members"]
                                if row["paying_members"] else None),
            "revision": revision, "updated_at": Raw("now64(3)")}


def sales_rows() -> list[str]:
    """Sales totals (orders, gmv, refunds, refund, net, paying, repeat): superseded
    revisions, windows out of the time range and an inviter row carrying a member id, none
    of which may show."""
    rows = [
        sales_row("all", "*", "hour", 1, 1, (2, 20000, 0, 0, 20000, 2, 0)),
        sales_row("all", "*", "hour", 1, 2, (3, 30000, 1, 5000, 25000, 3, 0)),
        sales_row("all", "*", "hour", 0, 1, (1, 9900, 0, 0, 9900, 1, 0)),
        sales_row("all", "*", "hour", 5, 1, (99, 990000, 0, 0, 990000, 99, 0)),
        sales_row("all", "*", "day", 0, 1, (1, 100, 0, 0, 100, 1, 0)),
        sales_row("all", "*", "day", 0, 2, (4, 39900, 1, 5000, 34900, 3, 1)),
        sales_row("all", "*", "day", 3, 1, (50, 500000, 0, 0, 500000, 50, 0)),
        sales_row("all", "*", "all", 0, 1, (60, 600000, 1, 5000, 595000, 55, 3)),
        sales_row("community", "c-alpha", "day", 0, 1, (1, 100, 0, 0, 100, 1, 0)),
        sales_row("community", "c-alpha", "day", 0, 2, (3, 30000, 1, 5000, 25000, 2, 1)),
        sales_row("community", "c-beta", "day", 0, 1, (1, 9900, 0, 0, 9900, 1, 0)),
        sales_row("community", "c-alpha", "day", 3, 1, (9, 90000, 0, 0, 90000, 9, 0)),
        sales_row("campaign", "spring-sale", "day", 0, 1, (1, 1000, 0, 0, 1000, 1, 0), "peak"),
        sales_row("campaign", "spring-sale", "day", 0, 2, (2, 20000, 1, 5000, 15000, 2, 0),
                  "peak"),
        sales_row("campaign", "spring-sale", "day", 2, 1, (1, 10000, 0, 0, 10000, 1, 0),
                  "warm_up"),
        sales_row("campaign", "spring-sale", "all", 0, 1, (1, 1000, 0, 0, 1000, 1, 0)),
        sales_row("campaign", "spring-sale", "all", 0, 2, (3, 30000, 1, 5000, 25000, 3, 0)),
        sales_row("campaign", "autumn", "all", 0, 1, (1, 5000, 0, 0, 5000, 1, 0)),
        sales_row("channel", "moments", "all", 0, 1, (3, 25000, 0, 0, 25000, 2, 1)),
        sales_row("channel", "kol", "all", 0, 1, (1, 1000, 0, 0, 1000, 1, 0)),
        sales_row("channel", "kol", "all", 0, 2, (2, 10000, 0, 0, 10000, 2, 0)),
        sales_row("inviter", "spring-sale|member-secret-K", "all", 0, 1,
                  (7, 70000, 0, 0, 70000, 1, 1)),
    ]
    credit = [  # (model, campaign|channel, revision, joins, invited, participants, orders, gmv)
        ("first_touch", "spring-sale|moments", 1, 1, 0, 1, 1, 1000),
        ("first_touch", "spring-sale|moments", 2, 4, 2, 3, 2, 20000),
        ("last_touch", "spring-sale|moments", 1, 3, 1, 2, 1, 8000),
        ("last_touch", "spring-sale|kol", 1, 1, 1, 1, 1, 12000),
        ("first_touch", "autumn|kol", 1, 9, 9, 9, 9, 90000),
    ]
    for model, value, revision, joins, invited, participants, orders, gmv in credit:
        row = sales_row(model, value, "all", 0, revision, (orders, gmv, 0, 0, gmv, 0, 0))
        rows.append({**row, "joins": joins, "invited_joins": invited,
                     "participants": participants})
    return inserts("sales_totals", rows)


def join_rows() -> list[str]:
    """Joins with an invitation chain in c-alpha (depths 1, 2, 3) and c-beta (1); member ids
    are secrets: only counts by depth may show."""
    joins = [("j1", "c-alpha", "member-secret-A", None), ("j2", "c-alpha", "member-secret-B",
             "member-secret-A"), ("j3", "c-alpha", "member-secret-C", "member-secret-B"),
             ("j4", "c-alpha", "member-secret-D", "member-secret-C"),
             ("j5", "c-beta", "member-secret-E", "member-secret-A"),
             ("j2", "c-alpha", "member-secret-B", "member-secret-A")]  # a duplicate
    return inserts("member_events", [
        {"event_id": event, "community_id": community, "platform": "wechat",
         "member_id": member, "action": "join", "inviter_id": inviter, "channel": "moments",
         "qr_code_id": None, "ts": Raw(f"now64(3) - INTERVAL {10 - i} MINUTE"),
         "kafka_partition": 0, "kafka_offset": i, "ingested_at": Raw("now64(3)")}
        for i, (event, community, member, inviter) in enumerate(joins)])


# Event times in the current local (Asia/Shanghai) day and in the panels' time range (the
# last two hours), whatever the hour the tests run: the later of local midnight and 90
# minutes ago, plus up to a few seconds.
TODAY_IN_RANGE = "greatest(toStartOfDay(now(), 'Asia/Shanghai'), now() - INTERVAL 90 MINUTE)"


def at_today(seconds: int = 0) -> Raw:
    return Raw(f"toDateTime64({TODAY_IN_RANGE}, 3) + INTERVAL {seconds} SECOND")


def sentiment_rows() -> list[str]:
    """Scored messages: a re-scored message (negative, then positive: FINAL keeps the later
    score), a staff message and a message three days back, none of which may count twice
    or at all."""
    def scored(message: str, community: str, polarity: str, role: str = "member",
               ts: Raw | None = None, ingested: int = 0) -> dict[str, Any]:
        score = {"positive": 0.9, "neutral": 0.5, "negative": 0.1}[polarity]
        return {"message_id": message, "community_id": community, "sender_role": role,
                "ts": ts or at_today(), "score": score, "polarity": polarity,
                "complaint_terms": [], "crisis_terms": [],
                "ingested_at": Raw(f"now64(3) - INTERVAL {10 - ingested} SECOND")}

    return inserts("message_sentiment", [
        scored("s1", "c-alpha", "negative"),
        scored("s1", "c-alpha", "positive", ingested=1),
        scored("s2", "c-alpha", "positive"), scored("s3", "c-alpha", "positive"),
        scored("s4", "c-alpha", "negative"), scored("s5", "c-alpha", "neutral"),
        scored("s6", "c-alpha", "positive", role="staff"),
        scored("s7", "c-beta", "positive"), scored("s8", "c-beta", "negative"),
        scored("s9", "c-beta", "negative"), scored("s10", "c-beta", "neutral"),
        scored("s-old", "c-alpha", "positive",
               ts=Raw("now64(3) - INTERVAL 3 DAY - INTERVAL 3 HOUR")),
    ])


def incident(incident_id: str, community: str, opened: datetime,
             changes: list[tuple[timedelta, dict[str, Any]]]) -> list[Alert]:
    """An incident's Alert revisions as the incident agent publishes them: each change (its
    time after opening, the fields it sets) is the next revision; a severe tier gets its
    statement deadline. The excerpt and the moderator's name are secrets."""
    excerpt = Excerpt(message_id=f"{incident_id}-m1", member_ref="m-3f2a9c", ts=opened,
                      text="我的电话13800138000 secret 太差了", score=0.05, terms=["太差"])
    alert = Alert(incident_id=incident_id, revision=1, event="opened", tier="mild",
                  status="open", community_id=community, community_ids=[community],
                  window_start=opened, window_end=opened, opened_at=opened, updated_at=opened,
                  reasons=["负面反馈 / negative feedback"], matched_terms=["太差"],
                  negative_messages=2, members=2, min_score=0.05, mean_score=0.1, heat=1,
                  excerpts=[excerpt], sla=SlaDeadlines(respond_by=opened + timedelta(hours=3),
                                                      close_loop_by=opened + timedelta(hours=48)))
    revisions = []
    for revision, (after, change) in enumerate(changes, 1):
        at = opened + after
        sla = alert.sla
        if change.get("tier") == "severe" and sla.statement_by is None:
            sla = sla.model_copy(update={"statement_by": at + timedelta(hours=24)})
        stamps = {f"{field}_at": at for field in ("acknowledged", "resolved", "followed_up")
                  if change.get("status") == field}
        if "acknowledged_at" in stamps:
            stamps["acknowledged_by"] = "moderator-secret"
        alert = alert.model_copy(update={**change, **stamps, "revision": revision,
                                         "updated_at": at, "sla": sla})
        revisions.append(alert)
    return revisions


def incident_rows() -> list[str]:
    """Incidents (now T; the panels' range is the last two hours):

    - a1 (c-alpha, opened T-110m): mild, escalated to moderate, acknowledged after 80 min,
      its last revision delivered twice: in range, respond met, loop pending;
    - a2 (c-alpha, opened T-5h): escalated twice to severe, never acknowledged: out of
      range, respond overdue, loop and statement pending;
    - a3 (c-alpha, opened T-52h): acknowledged after 4 h, escalated for its loop: out of
      range, respond and loop overdue;
    - b1 (c-beta, opened T-100m): severe, acknowledged after 10 min, resolved, followed up:
      in range, closed, every SLA met;
    - b2, b3, b4 (c-beta, opened T-20m, T-80m, T-70m): mild; b3 acknowledged after 1 min,
      b4 after 30 min; b2 pending.
    """
    now = datetime.now(UTC).replace(microsecond=0)
    minutes = lambda n: timedelta(minutes=n)  # noqa: E731
    opened = {"event": "opened"}
    acked = {"event": "acknowledged", "status": "acknowledged"}
    alerts = [
        *incident("inc-c-alpha-a1", "c-alpha", now - minutes(110), [
            (minutes(0), opened),
            (minutes(60), {"event": "escalated", "tier": "moderate", "escalations": 1}),
            (minutes(80), acked)]),
        *incident("inc-c-alpha-a2", "c-alpha", now - minutes(300), [
            (minutes(0), opened),
            (minutes(60), {"event": "escalated", "tier": "moderate", "escalations": 1}),
            (minutes(120), {"event": "escalated", "tier": "severe", "escalations": 2})]),
        *incident("inc-c-alpha-a3", "c-alpha", now - minutes(52 * 60), [
            (minutes(0), opened), (minutes(240), acked),
            (minutes(48 * 60), {"event": "escalated", "tier": "moderate", "escalations": 1})]),
        *incident("inc-c-beta-b1", "c-beta", now - minutes(100), [
            (minutes(0), {**opened, "tier": "severe"}), (minutes(10), acked),
            (minutes(40), {"event": "resolved", "status": "resolved"}),
            (minutes(60), {"event": "followed_up", "status": "followed_up"})]),
        *incident("inc-c-beta-b2", "c-beta", now - minutes(20), [(minutes(0), opened)]),
        *incident("inc-c-beta-b3", "c-beta", now - minutes(80), [
            (minutes(0), opened), (minutes(1), acked)]),
        *incident("inc-c-beta-b4", "c-beta", now - minutes(70), [
            (minutes(0), opened), (minutes(30), acked)]),
    ]
    alerts.append(alerts[2])  # a1's last revision, redelivered
    rows = [dict(zip(SENTIMENT_ALERTS.columns,
                     SENTIMENT_ALERTS.row(alert, now + timedelta(seconds=i)), strict=True))
            for i, alert in enumerate(alerts)]
    return inserts("sentiment_alerts", rows)


def status_rows() -> list[str]:
    """Silence status changes of today: a replayed change (same key and revision), a
    member leaving and a change three days back, none of which may count."""
    def change(community: str, member: str, status: str, at: Raw) -> dict[str, Any]:
        return {"community_id": community, "member_id": f"member-secret-{member}",
                "status": status, "previous": "active", "at": at, "silent_since": None,
                "revision": 1, "updated_at": Raw("now64(3)")}

    return inserts("member_status_changes", [
        change("c-alpha", "A", "churn_risk", at_today(1)),
        change("c-alpha", "A", "churn_risk", at_today(1)),
        change("c-alpha", "B", "churn_risk", at_today(2)),
        change("c-alpha", "C", "win_back", at_today(3)),
        change("c-alpha", "A", "reactivated", at_today(4)),
        change("c-beta", "D", "reactivated", at_today(5)),
        change("c-beta", "D", "reactivated", at_today(5)),
        change("c-beta", "E", "left", at_today(6)),
        change("c-alpha", "F", "churn_risk", Raw("now64(3) - INTERVAL 3 DAY")),
    ])


@pytest.fixture(scope="module")
def panel_results() -> dict[str, Any]:
    now = int(time.time())
    start, end = now - 2 * 3600, now + 300
    jobs = {}
    for name, sql in CLICKHOUSE_QUERIES.items():
        jobs[f"{name} [all]"] = expand_clickhouse(sql, None, start, end, CHANNELS["all"])
        jobs[f"{name} [c-alpha]"] = expand_clickhouse(sql, ["c-alpha"], start, end,
                                                      CHANNELS["c-alpha"])
    # no background merges: superseded revisions and duplicates stay in their own parts
    # until a query reads them, so only FINAL (or argMax) folds them
    job = {"setup": [*ddl(), "SYSTEM STOP MERGES", *sample_rows()], "queries": jobs}
    result = subprocess.run([sys.executable, str(RUNNER)], input=json.dumps(job),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_clickhouse_panels_exist() -> None:
    assert len(CLICKHOUSE_QUERIES) >= 8
    titles = " ".join(CLICKHOUSE_QUERIES)
    for title in ("Messages per minute", "Speakers", "Top communities", "Hourly distribution",
                  "Dead letters by reason", "Health report by community", "DAU / WAU / MAU",
                  "Hot words", "Messages by sender role", "Member count by hour"):
        assert title in titles


@pytest.mark.parametrize("name", sorted(CLICKHOUSE_QUERIES))
@pytest.mark.parametrize("selection", ["all", "c-alpha"])
def test_clickhouse_panel_query_runs(panel_results: dict[str, Any], name: str,
                                     selection: str) -> None:
    result = panel_results[f"{name} [{selection}]"]
    assert "error" not in result, result.get("error")
    assert result["rows"], "no rows"


def rows(results: dict[str, Any], title: str, selection: str = "all") -> list[list[Any]]:
    (key,) = [k for k in results if f"/{title}/" in k and k.endswith(f"[{selection}]")]
    return results[key]["rows"]


def test_clickhouse_panels_read_final_values(panel_results: dict[str, Any]) -> None:
    """Superseded revisions and redelivered rows are not counted."""
    assert rows(panel_results, "Messages") == [[14]]
    assert rows(panel_results, "Messages", "c-alpha") == [[11]]
    assert rows(panel_results, "Active communities") == [[2]]
    assert rows(panel_results, "Speakers") == [[2]]
    assert rows(panel_results, "UGC share") == [[pytest.approx(0.6)]]
    top = rows(panel_results, "Top communities")
    assert top[0][:3] == ["c-alpha", 3, 2] and top[1][:3] == ["c-beta", 2, 1]
    hourly = rows(panel_results, "Hourly distribution (Asia/Shanghai)")
    assert [hour for hour, _ in hourly] == [f"{h:02d}:00" for h in range(24)]
    assert sum(count for _, count in hourly) == 5
    by_reason = rows(panel_results, "Dead letters by topic and reason")
    assert sorted((topic, reason, n) for topic, reason, n, _ in by_reason) == [
        ("community.chat.messages.v1", "schema", 1), ("community.member.events.v1", "json", 1)]
    assert sorted(r[0] for r in rows(panel_results, "Messages per minute, top 10 communities")
                  ) == sorted(r[0] for r in rows(panel_results,
                                                 "Speakers per minute, top 10 communities"))


def series(results: dict[str, Any], title: str, selection: str = "all") -> list[list[Any]]:
    """Time series rows without their time column (checked to be a window start)."""
    found = rows(results, title, selection)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:00:00(\+00:00)?", str(row[0]))
               for row in found), found
    return [row[1:] for row in found]


def test_day_panels_read_final_days_in_range(panel_results: dict[str, Any]) -> None:
    """Today's rows count once (the higher revision); the day three days back is out of range."""
    dau = rows(panel_results, "DAU / WAU / MAU")
    assert [row[1:] for row in dau] == [[28, 56, 68]]
    assert str(dau[0][0]).startswith(f"{date_of_local_midnight()} 16:00:00"), dau
    assert series(panel_results, "DAU / WAU / MAU", "c-alpha") == [[24, 50, 60]]
    per_community = {
        "Stickiness (DAU / MAU)": (0.4, 0.5),
        "Interaction rate": (0.25, 0.125),
        "Real interaction rate (DAU / members)": (0.2, 0.1),
        "UGC share by day": (0.6, 0.6),
        "Interactions per member per month": (9.5, 3.0),
        "Slot share (3+2)": (5 / 48, 0.25),
    }
    for title, (alpha, beta) in per_community.items():
        assert series(panel_results, title) == [
            ["c-alpha", pytest.approx(alpha)], ["c-beta", pytest.approx(beta)]], title
        assert series(panel_results, title, "c-alpha") == [
            ["c-alpha", pytest.approx(alpha)]], title
    assert series(panel_results, "Member count by day") == [
        ["c-alpha (snapshot)", 120], ["c-beta (relative)", 40]]
    assert series(panel_results, "Joins, leaves, removals and net growth") == [[3, 3, 1, -1]]
    hourly = rows(panel_results, "Interactions by local hour (3+2 slots)")
    assert [hour for hour, _ in hourly] == [f"{h:02d}:00" for h in range(24)]
    assert {hour: n for hour, n in hourly if n} == {"09:00": 30, "12:00": 6, "20:00": 20}
    assert {hour: n for hour, n in rows(panel_results, "Interactions by local hour (3+2 slots)",
                                        "c-alpha") if n} == {"09:00": 30, "20:00": 18}
    assert rows(panel_results, "Hot words") == [["活动", 7, 2, 1], ["周末", 5, 1, 1],
                                                ["报名", 1, 1, 1]]
    assert rows(panel_results, "Hot words", "c-alpha") == [["周末", 5, 1, 1], ["活动", 3, 1, 1]]
    assert rows(panel_results, "Membership conflicts by community") == [
        ["c-alpha", 2, 1, "snapshot"]]
    report = rows(panel_results, "Health report by community (latest day in range)")
    assert [row[0] for row in report] == ["c-alpha", "c-beta"]
    assert [row[2:9] for row in report] == [
        ["open", 120, "snapshot", 24, 50, 60, pytest.approx(0.4)],
        ["open", 40, "relative", 4, 6, 8, pytest.approx(0.5)]]
    assert report[0][9:] == [pytest.approx(v) for v in (
        0.25, 0.2, 50 / 120, 0.6, 5 / 48, 9.5, 3 / 120, 2 / 120)] + [2]


def test_retention_panels_read_final_cohorts_in_range(panel_results: dict[str, Any]) -> None:
    """The latest revision of today's cohorts; the cohort 40 days back is out of range."""
    cohorts = rows(panel_results, "Retention by join cohort")
    assert [row[1:] for row in cohorts] == [[20, 0.4, 0.3, None, 2]]
    assert [row[1:] for row in rows(panel_results, "Retention by join cohort", "c-alpha")] == [
        [10, 0.6, 0.4, None, 1]]
    assert rows(panel_results, "Retention by join channel") == [
        ["moments", 16, 0.375, pytest.approx(5 / 16), None], ["(none)", 4, 0.5, 0.25, None]]


def test_profile_panels_read_final_values(panel_results: dict[str, Any]) -> None:
    """Layer shares of the days with layers; the leaderboard: the latest revision of each
    member on each community's latest day, ranked members only."""
    assert series(panel_results, "Member layers by day") == [
        [pytest.approx(15 / 160), pytest.approx(55 / 160), pytest.approx(90 / 160)]]
    board = rows(panel_results, "KOC leaderboard")
    assert [row[:6] for row in board] == [["c-alpha", "m-a1", 1, 64.5, 1, "core"],
                                          ["c-beta", "m-b1", 1, 52.0, 1, "core"],
                                          ["c-alpha", "m-a2", 2, 40.0, 0, "participating"]]
    assert [row[1] for row in rows(panel_results, "KOC leaderboard", "c-alpha")] == [
        "m-a1", "m-a2"]


def date_of_local_midnight() -> str:
    """UTC date of the current Asia/Shanghai day's midnight (16:00 UTC the day before)."""
    local = datetime.now(ZoneInfo("Asia/Shanghai"))
    return (local.replace(hour=0, minute=0, second=0, microsecond=0)
            .astimezone(UTC).date().isoformat())


def test_hour_panels_read_final_hours_in_range(panel_results: dict[str, Any]) -> None:
    """The last full hour and the current one; c-alpha's first revision and the hour five
    hours back do not count."""
    assert series(panel_results, "Messages by sender role") == [[14, 8, 3], [4, 0, 0]]
    assert series(panel_results, "Messages by sender role", "c-alpha") == [[12, 6, 2],
                                                                           [4, 0, 0]]
    assert series(panel_results, "Speakers vs active members") == [[10, 6], [3, 2]]
    assert series(panel_results, "Mechanical and copy share") == [
        [pytest.approx(5 / 12), pytest.approx(1 / 12)], [0.25, 0.25]]
    assert series(panel_results, "Member count by hour") == [
        ["c-alpha (snapshot)", 120], ["c-beta (relative)", 30], ["c-alpha (snapshot)", 121]]
    assert series(panel_results, "Member count by hour", "c-alpha") == [
        ["c-alpha (snapshot)", 120], ["c-alpha (snapshot)", 121]]


def test_no_personal_data_in_panels(panel_results: dict[str, Any]) -> None:
    for name, sql in CLICKHOUSE_QUERIES.items():
        for column in ("text", "detail", "inviter_id", "person_id", "mentions", "reply_to"):
            assert not re.search(rf"\b{column}\b", sql), f"{name} reads {column}"
        for match in re.finditer(r"\bmember_id\b", sql):
            assert re.search(r"uniqExact(If)?\($", sql[:match.start()]), (
                f"{name}: member_id outside a distinct count")
    for name, result in panel_results.items():
        for row in result.get("rows", []):
            for cell in row:
                assert not any(secret in str(cell) for secret in SECRETS), (name, cell)


# --- PromQL -----------------------------------------------------------------------------

def expand_promql(expr: str) -> str:
    if match := re.fullmatch(r"label_values\((.*),\s*\w+\)", expr):
        expr = match.group(1)
    for variable, value in PROMQL_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, expr
    return expr


def check_as_rules(promtool: str, tmp_path: Path, exprs: dict[str, str]) -> Any:
    names = sorted(exprs)
    rules = [{"record": f"dashboard:query_{i}", "expr": expand_promql(exprs[name])}
             for i, name in enumerate(names)]
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    return run([promtool, "check", "rules", str(path)]), names


def test_promql_panels_parse(promtool: str, tmp_path: Path) -> None:
    assert len(PROMQL_QUERIES) >= 15
    result, names = check_as_rules(promtool, tmp_path, PROMQL_QUERIES)
    index = "\n".join(f"query_{i}: {name}" for i, name in enumerate(names))
    assert result.returncode == 0, f"{result.stdout}{result.stderr}\n{index}"
    assert f"SUCCESS: {len(names)} rules found" in result.stdout


def test_promtool_check_rejects_bad_promql(promtool: str, tmp_path: Path) -> None:
    result, _ = check_as_rules(promtool, tmp_path, {"bad": "sum by (topic) (rate(x[5m])"})
    assert result.returncode != 0


def exposed_names(registry: CollectorRegistry) -> set[str]:
    suffixes = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_sum", "_count"]}
    return {family.name + suffix for family in registry.collect()
            for suffix in suffixes[family.type]}


def test_metric_names_exist() -> None:
    """Names in dashboards and rules are ones the worker or Faust export, or rule outputs."""
    from faust.sensors.prometheus import FaustMetrics

    registry = CollectorRegistry()
    PrometheusSeries(registry)
    FaustMetrics.create(registry, FAUST_PREFIX)
    known = exposed_names(registry)
    groups = load_yaml(RULE_FILE)["groups"]
    rule_exprs = [rule["expr"] for group in groups for rule in group["rules"]]
    used: set[str] = set()
    for expr in [*PROMQL_QUERIES.values(), *rule_exprs]:
        used |= set(re.findall(rf"(?<![\w:])((?:pulse|{FAUST_PREFIX})_\w+)(?![\w:])", expr))
    assert used, "no metric names found"
    assert used <= known, f"unknown metrics: {sorted(used - known)}"


# --- Campaigns and sales ---------------------------------------------------------------

def campaigns_board() -> dict[str, Any]:
    return dashboards()["campaigns-sales.json"]


def test_campaigns_sales_layout() -> None:
    board = campaigns_board()
    assert (board["uid"], board["title"]) == ("pulse-campaigns-sales", "Campaigns and sales")
    assert rows_of(board) == {
        "Campaign funnel": [
            "Funnel (whole campaign)", "Step conversion vs target", "Median time between steps",
            "Step conversion by channel", "Open conversion alerts", "Funnel arrivals per hour",
            "Step conversion (live)", "Conversion alerts opened and resolved"],
        "Sales (all communities)": [
            "Sales to date (live)", "Orders and buyers to date (live)",
            "GMV, net GMV and refunds per hour", "GMV, net GMV and refunds per day",
            "Orders and paying members per day", "AOV and repurchase rate per day"],
        "Sales by community, campaign and channel": [
            "Sales by community and day", "Sales by campaign (to date)",
            "Sales by channel (to date)", "GMV by campaign phase"],
        "Attribution and fission": [
            "Fission and join conversion by channel", "First touch vs last touch",
            "Invitation depth"],
    }
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert list(variables) == ["database", "campaign", "channel", "community"]
    assert not variables["campaign"]["multi"] and not variables["channel"]["multi"]
    assert variables["community"]["multi"] and variables["community"]["includeAll"]
    assert "campaign_funnel" in variables["campaign"]["query"]
    for panel in panels(board):
        assert panel["description"], panel["title"]
    by_title = {panel["title"]: panel for panel in panels(board)}
    live = by_title["Step conversion (live)"]["fieldConfig"]["defaults"]
    assert [step["value"] for step in live["thresholds"]["steps"]] == [None, 0.85]
    assert live["custom"]["thresholdsStyle"]["mode"] == "dashed"


def test_clickhouse_panels_read_tables_final() -> None:
    """ReplacingMergeTree tables are read with FINAL (views read FINAL themselves)."""
    ddl_text = "\n".join(ddl())
    views = set(re.findall(rf"CREATE VIEW IF NOT EXISTS {DATABASE}\.(\w+)", ddl_text))
    assert "community_sales_day" in views
    for name, sql in CLICKHOUSE_QUERIES.items():
        if "/$" in name:  # variables list key values only
            continue
        for match in re.finditer(r"FROM \$\{database\}\.(\w+)(\s+FINAL\b)?", sql):
            assert match.group(2) or match.group(1) in views, f"{name}: {match.group(1)}"


def test_campaign_money_in_yuan(panel_results: dict[str, Any]) -> None:
    """Amounts leave ClickHouse in yuan (fen / 100) and are shown as CNY."""
    board = campaigns_board()
    for name, result in panel_results.items():
        if name.startswith(f"{board['uid']}/"):
            assert not any(c.endswith("_fen") for c in result["columns"]), name
    by_title = {panel["title"]: panel for panel in panels(board)}
    for title in ("Sales to date (live)", "GMV, net GMV and refunds per hour",
                  "GMV, net GMV and refunds per day", "AOV and repurchase rate per day",
                  "GMV by campaign phase"):
        assert by_title[title]["fieldConfig"]["defaults"]["unit"] == "currencyCNY", title
    for title in ("Sales by community and day", "Sales by campaign (to date)",
                  "Sales by channel (to date)"):
        units = {o["matcher"]["options"]: p["value"]
                 for o in by_title[title]["fieldConfig"]["overrides"]
                 for p in o["properties"] if p["id"] == "unit"}
        assert {units[c] for c in ("gmv", "refunds", "net_gmv", "aov")} == {"currencyCNY"}


def test_campaign_panels_read_final_values(panel_results: dict[str, Any]) -> None:
    """The selected campaign's latest whole-campaign revision for the selected channel (*
    for all, moments for the c-alpha selection); hours in range only; open alerts only."""
    assert rows(panel_results, "Funnel (whole campaign)") == [
        ["1. poster_click", 100], ["2. signup_page", 90], ["3. signup", 60]]
    assert rows(panel_results, "Funnel (whole campaign)", "c-alpha") == [
        ["1. poster_click", 60], ["2. signup_page", 55], ["3. signup", 40]]
    transitions = ["2. poster_click → signup_page", "3. signup_page → signup"]
    assert rows(panel_results, "Step conversion vs target") == [
        [transitions[0], pytest.approx(0.9), 0.85], [transitions[1], pytest.approx(2 / 3), 0.85]]
    assert rows(panel_results, "Median time between steps") == [
        [transitions[0], 30.0], [transitions[1], 600.0]]
    assert rows(panel_results, "Median time between steps", "c-alpha") == [
        [transitions[0], 25.0], [transitions[1], 500.0]]
    by_channel = rows(panel_results, "Step conversion by channel")
    assert [(r[0], r[1], r[2], r[5]) for r in by_channel] == [
        (channel, f"{i}. {step}", persons, verdict)
        for channel, counts in (("*", (100, 90, 60)), ("kol", (40, 35, 20)),
                                ("moments", (60, 55, 40)))
        for i, (step, persons, verdict) in enumerate(
            zip(STEPS, counts, ("", "ok", "below"), strict=True), 1)]
    alerts = rows(panel_results, "Open conversion alerts")
    assert [row[:3] for row in alerts] == [
        ["spring-sale", "春季大促", "signup_page → signup"],
        ["autumn", "秋季上新", "poster_click → signup_page"]]
    assert alerts[0][5] == pytest.approx(0.62)
    assert series(panel_results, "Funnel arrivals per hour") == [
        ["1. poster_click", 12], ["2. signup_page", 10], ["3. signup", 6],
        ["1. poster_click", 3], ["2. signup_page", 2], ["3. signup", 1]]
    assert series(panel_results, "Funnel arrivals per hour", "c-alpha") == [
        ["1. poster_click", 7], ["2. signup_page", 6], ["3. signup", 4]]
    variables = {k.rsplit("/", 1)[1]: v["rows"] for k, v in panel_results.items()
                 if k.startswith("pulse-campaigns-sales/$") and k.endswith("[all]")}
    assert variables == {"$campaign [all]": [["autumn"], ["spring-sale"]],
                         "$channel [all]": [["*"], ["kol"], ["moments"]],
                         "$community [all]": [["c-alpha"], ["c-beta"]]}


def test_sales_panels_read_final_values(panel_results: dict[str, Any]) -> None:
    """Total sales of the hours and local days in range (latest revision); the community
    table from the view, with the health day's member count; cumulative tables."""
    assert series(panel_results, "GMV, net GMV and refunds per hour") == [
        [300.0, 250.0, 50.0], [99.0, 99.0, 0.0]]
    day = rows(panel_results, "GMV, net GMV and refunds per day")
    assert [row[1:] for row in day] == [[399.0, 349.0, 50.0]]
    assert str(day[0][0]).startswith(f"{date_of_local_midnight()} 16:00:00"), day
    assert series(panel_results, "Orders and paying members per day") == [[4, 3, 1]]
    assert series(panel_results, "AOV and repurchase rate per day") == [
        [99.75, pytest.approx(1 / 3)]]
    local_day = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    assert rows(panel_results, "Sales by community and day") == [
        ["c-alpha", local_day, 3, 300.0, 50.0, 250.0, 2, 1, 100.0, 120, pytest.approx(2 / 120)],
        ["c-beta", local_day, 1, 99.0, 0.0, 99.0, 1, 0, 99.0, 40, pytest.approx(1 / 40)]]
    assert [row[0] for row in rows(panel_results, "Sales by community and day", "c-alpha")
            ] == ["c-alpha"]
    assert rows(panel_results, "Sales by campaign (to date)") == [
        ["spring-sale", "春季大促", 100, 0.6, 3, 300.0, 50.0, 250.0, 3, 0, 100.0, 0.0],
        ["autumn", "秋季上新", 10, 0.1, 1, 50.0, 0.0, 50.0, 1, 0, 50.0, 0.0]]
    assert [row[:3] for row in rows(panel_results, "Sales by channel (to date)")] == [
        ["moments", 3, 250.0], ["kol", 2, 100.0]]
    assert rows(panel_results, "GMV by campaign phase") == [
        ["warm_up", 100.0, 100.0, 0.0], ["peak", 200.0, 150.0, 50.0]]


def test_campaign_panels_without_member_ids() -> None:
    """Campaign and channel ids are fine; member and person ids never, not even counted:
    sales rows are read only for the dimensions all, community, campaign, channel and the
    touch models (the inviter dimension's values hold member ids)."""
    board_queries = {name: sql for name, sql in CLICKHOUSE_QUERIES.items()
                     if name.startswith("pulse-campaigns-sales/")}
    assert len(board_queries) >= 15
    for name, sql in board_queries.items():
        assert not re.search(r"member_id|person_id|inviter", sql), name
        if "sales_totals" in sql:
            dimensions = set(re.findall(r"dimension = '(\w+)'", sql)) | set(
                re.findall(r"dimension IN \(([^)]*)\)", sql))
            dimensions = {d.strip(" '") for group in dimensions for d in group.split(",")}
            assert dimensions and dimensions <= {"all", "community", "campaign", "channel",
                                                 "first_touch", "last_touch"}, name
    exprs = " ".join(expr for name, expr in PROMQL_QUERIES.items()
                     if name.startswith("pulse-campaigns-sales/"))
    for metric in ("pulse_campaign_conversion{", "pulse_campaign_conversion_alerts_total",
                   "pulse_sales{"):
        assert metric in exprs, metric


def test_attribution_and_fission_panels(panel_results: dict[str, Any]) -> None:
    """The selected campaign's credit (latest revisions only), fission against its funnel,
    and invitation depth from the raw joins (a duplicated join counted once)."""
    for selection in ("all", "c-alpha"):
        assert rows(panel_results, "Fission and join conversion by channel", selection) == [
            ["*", 100, 4, 2, 3, 2, 200.0, pytest.approx(0.02), pytest.approx(0.04)],
            ["moments", 60, 4, 2, 3, 2, 200.0, pytest.approx(2 / 60), pytest.approx(4 / 60)]]
        assert rows(panel_results, "First touch vs last touch", selection) == [
            ["kol", 0, 1, 0, 1, 0, 1, 0.0, 120.0], ["moments", 4, 3, 3, 2, 2, 1, 200.0, 80.0]]
    assert rows(panel_results, "Invitation depth") == [["1", 2], ["2", 1], ["3", 1]]
    assert rows(panel_results, "Invitation depth", "c-alpha") == [["1", 1], ["2", 1], ["3", 1]]


# --- Sentiment and incidents -------------------------------------------------------------

def overrides_of(panel: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Field name -> {property id: value} of a panel's byName overrides."""
    return {o["matcher"]["options"]: {p["id"]: p["value"] for p in o["properties"]}
            for o in panel["fieldConfig"]["overrides"] if o["matcher"]["id"] == "byName"}


def test_sentiment_layout() -> None:
    board = dashboards()["sentiment-incidents.json"]
    assert (board["uid"], board["title"]) == ("pulse-sentiment", "Sentiment and incidents")
    assert [p["title"] for p in board["panels"] if p["gridPos"]["y"] == 0] == [
        "Positive share", "Negative share", "Incidents opened", "Open incidents now"]
    assert rows_of(board) == {
        "Sentiment (positive target ≥ 60%)": [
            "Positive share by day", "Negative share by day",
            "Positive and negative share per hour", "Sentiment by community"],
        "Incidents (轻度 / 中度 / 重度) and SLAs": [
            "Incidents opened by tier", "Escalations by community", "Open incidents",
            "Time to acknowledge by tier", "SLA status by tier"],
        "Live (Prometheus)": [
            "Positive share (live), ten lowest communities",
            "Scored messages by polarity (live)", "Open incidents by tier (live)",
            "Alert records by tier and event", "Alert deliveries and failures",
            "Alert latency"],
    }
    assert [v["name"] for v in board["templating"]["list"]] == ["database", "community"]
    by_title = {panel["title"]: panel for panel in panels(board)}
    for panel in by_title.values():
        assert panel["description"], panel["title"]
    # the 60% positive target: a threshold on the stat, a dashed line on the series
    steps = by_title["Positive share"]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [step["value"] for step in steps] == [None, 0.6]
    for title in ("Positive share by day", "Positive and negative share per hour",
                  "Positive share (live), ten lowest communities"):
        defaults = by_title[title]["fieldConfig"]["defaults"]
        assert [step["value"] for step in defaults["thresholds"]["steps"]] == [None, 0.6], title
        assert defaults["custom"]["thresholdsStyle"]["mode"] == "dashed", title
    assert overrides_of(by_title["Sentiment by community"])["positive_share"]["thresholds"][
        "steps"][1]["value"] == 0.6
    # tiers, statuses and SLA states shown in Chinese and English, SLA states coloured
    table = overrides_of(by_title["Open incidents"])
    tiers = table["tier"]["mappings"][0]["options"]
    assert {k: v["text"] for k, v in tiers.items()} == {
        "mild": "轻度 mild", "moderate": "中度 moderate", "severe": "重度 severe"}
    assert set(table["status"]["mappings"][0]["options"]) == {
        "open", "acknowledged", "resolved", "followed_up"}
    for column in ("respond_sla", "close_loop_sla", "statement_sla"):
        states = table[column]["mappings"][0]["options"]
        assert {k: v["color"] for k, v in states.items()} == {
            "met": "green", "pending": "orange", "overdue": "red"}, column
    assert table["age"]["unit"] == "s"


def test_incident_panels_read_latest_revisions() -> None:
    """Alert rows are every revision of an incident: each panel folds redeliveries (FINAL)
    and takes the newest revision (argMax by revision)."""
    board_queries = {name: sql for name, sql in CLICKHOUSE_QUERIES.items()
                     if "sentiment_alerts" in sql}
    assert len(board_queries) >= 7
    for name, sql in board_queries.items():
        assert "sentiment_alerts FINAL" in sql, name
        assert "argMax(tier, revision)" in sql and "argMax(status, revision)" in sql, name
        # the record (excerpts, moderator names) is read only for the timestamps in it
        for match in re.finditer(r"\brecord\b", sql):
            assert sql[:match.start()].endswith("JSONExtractString("), name


def test_sentiment_panels_read_final_values(panel_results: dict[str, Any]) -> None:
    """Member messages scored in range, a re-scored message once at its later score; the
    health day's latest revision; the view over the local days in range."""
    assert rows(panel_results, "Positive share") == [[pytest.approx(4 / 9)]]
    assert rows(panel_results, "Positive share", "c-alpha") == [[pytest.approx(0.6)]]
    assert rows(panel_results, "Negative share") == [[pytest.approx(3 / 9)]]
    assert rows(panel_results, "Negative share", "c-alpha") == [[pytest.approx(0.2)]]
    hourly = rows(panel_results, "Positive and negative share per hour")
    assert [row[1:] for row in hourly] == [[pytest.approx(4 / 9), pytest.approx(3 / 9)]]
    assert series(panel_results, "Positive share by day") == [
        ["c-alpha", pytest.approx(0.65)], ["c-beta", pytest.approx(0.5)]]
    assert series(panel_results, "Positive share by day", "c-alpha") == [
        ["c-alpha", pytest.approx(0.65)]]
    assert series(panel_results, "Negative share by day") == [
        ["c-alpha", pytest.approx(0.1)], ["c-beta", pytest.approx(0.25)]]
    assert rows(panel_results, "Sentiment by community") == [
        ["c-beta", 4, 0.25, 0.5, 0.4, 1], ["c-alpha", 5, pytest.approx(0.6),
                                           pytest.approx(0.2), 0.66, 1]]
    assert [row[0] for row in rows(panel_results, "Sentiment by community", "c-alpha")] == [
        "c-alpha"]


def test_incident_panels_count_each_incident_once(panel_results: dict[str, Any]) -> None:
    """Incidents opened in range (a1, b1, b2, b3, b4) at their latest tier: a1, opened
    mild and escalated to moderate, counts once, as moderate, with one escalation."""
    assert rows(panel_results, "Incidents opened") == [[3, 1, 1]]
    assert rows(panel_results, "Incidents opened", "c-alpha") == [[0, 1, 0]]
    assert [row[1:] for row in rows(panel_results, "Incidents opened by tier")] == [
        ["中度 moderate", 1], ["重度 severe", 1], ["轻度 mild", 1], ["轻度 mild", 1],
        ["轻度 mild", 1]]
    assert [row[1:] for row in rows(panel_results, "Incidents opened by tier", "c-alpha")
            ] == [["中度 moderate", 1]]
    assert rows(panel_results, "Escalations by community") == [
        ["c-alpha", 1, 1, 1, 0], ["c-beta", 4, 0, 0, 1]]
    assert rows(panel_results, "Escalations by community", "c-alpha") == [
        ["c-alpha", 1, 1, 1, 0]]
    assert rows(panel_results, "Open incidents now") == [[6, 2]]
    assert rows(panel_results, "Open incidents now", "c-alpha") == [[3, 2]]


def test_open_incidents_and_slas(panel_results: dict[str, Any]) -> None:
    """Every incident whose loop is not closed, most severe first, with its SLA status now:
    a2 never acknowledged (respond overdue), a3 acknowledged late and its 48 h passed,
    a1 acknowledged in time; b1, followed up, is not open."""
    table = rows(panel_results, "Open incidents")
    assert [[row[i] for i in (0, 1, 2, 3, 6, 9, 10, 11)] for row in table] == [
        ["inc-c-alpha-a2", "severe", "c-alpha", "open", 2, "overdue", "pending", "pending"],
        ["inc-c-alpha-a3", "moderate", "c-alpha", "acknowledged", 1, "overdue", "overdue", ""],
        ["inc-c-alpha-a1", "moderate", "c-alpha", "acknowledged", 1, "met", "pending", ""],
        ["inc-c-beta-b3", "mild", "c-beta", "acknowledged", 0, "met", "pending", ""],
        ["inc-c-beta-b4", "mild", "c-beta", "acknowledged", 0, "met", "pending", ""],
        ["inc-c-beta-b2", "mild", "c-beta", "open", 0, "pending", "pending", ""]]
    ages = {row[0]: row[5] for row in table}
    assert ages["inc-c-alpha-a2"] == pytest.approx(5 * 3600, abs=120)
    assert ages["inc-c-beta-b2"] == pytest.approx(20 * 60, abs=120)
    assert [row[14] is not None for row in table] == [True] + [False] * 5  # statement_by
    assert [row[0] for row in rows(panel_results, "Open incidents", "c-alpha")] == [
        "inc-c-alpha-a2", "inc-c-alpha-a3", "inc-c-alpha-a1"]
    assert rows(panel_results, "Time to acknowledge by tier") == [
        ["mild", 3, 2, pytest.approx(930), pytest.approx(60 + 0.9 * 1740), 1.0],
        ["moderate", 1, 1, pytest.approx(4800), pytest.approx(4800), 1.0],
        ["severe", 1, 1, pytest.approx(600), pytest.approx(600), 1.0]]
    # respond, close loop, statement: met, pending, overdue each
    assert rows(panel_results, "SLA status by tier") == [
        ["mild", 3, 2, 1, 0, 0, 3, 0, 0, 0, 0],
        ["moderate", 1, 1, 0, 0, 0, 1, 0, 0, 0, 0],
        ["severe", 1, 1, 0, 0, 1, 0, 0, 1, 0, 0]]
    assert rows(panel_results, "SLA status by tier", "c-alpha") == [
        ["moderate", 1, 1, 0, 0, 0, 1, 0, 0, 0, 0]]


def test_sentiment_live_panels() -> None:
    live = PROMQL_QUERIES["pulse-sentiment/Positive share (live), ten lowest communities/A"]
    assert 'pulse_sentiment_messages_total{job="pulse-worker", polarity="positive"}' in live
    assert live.startswith("bottomk(10, sum by (community)")  # bounded series
    assert "pulse_open_incidents" in PROMQL_QUERIES[
        "pulse-sentiment/Open incidents by tier (live)/A"]
    deliveries = [expr for name, expr in PROMQL_QUERIES.items()
                  if "/Alert deliveries and failures/" in name]
    assert any('outcome="failure"' in expr for expr in deliveries)


# --- Member lifecycle ---------------------------------------------------------------------

def test_member_lifecycle_layout() -> None:
    board = dashboards()["member-lifecycle.json"]
    assert (board["uid"], board["title"]) == ("pulse-members", "Member lifecycle")
    grouped = rows_of(board)
    assert grouped == {
        "Retention (join cohorts)": [
            "Retention heatmap (day 1 / 7 / 30)", "Retention by join cohort",
            "Retention by join channel", "Day-7 retention, ten lowest communities (live)"],
        "Silent members (沉默成员)": [
            "Members at churn risk by day", "Members to win back by day",
            "Silence status changes by day", "Silent members by community and day",
            "Silence status changes (live)", "Churn risk, latest closed day (live)"],
        "KOC and member layers (核心 / 参与 / 围观)": [
            "Member layers by day", "KOC leaderboard",
            "Member layers by community (latest closed day)", "KOC members by day"],
    }
    assert [v["name"] for v in board["templating"]["list"]] == ["database", "community"]
    by_title = {panel["title"]: panel for panel in panels(board)}
    for panel in by_title.values():
        assert panel["description"], panel["title"]
    for title in grouped["Retention (join cohorts)"][:3]:
        assert "community_retention_cohort FINAL" in by_title[title]["targets"][0]["rawSql"]
        assert by_title[title]["timeFrom"] == "31d", title
    assert "member_profile FINAL" in by_title["KOC leaderboard"]["targets"][0]["rawSql"]
    for title in ("Members at churn risk by day", "Members to win back by day",
                  "Member layers by day", "Member layers by community (latest closed day)",
                  "KOC members by day"):
        assert "community_health_day FINAL" in by_title[title]["targets"][0]["rawSql"], title
    heatmap = by_title["Retention heatmap (day 1 / 7 / 30)"]
    assert heatmap["type"] == "heatmap" and not heatmap["options"]["calculate"]
    assert {k: v["displayName"] for k, v in overrides_of(heatmap).items()} == {
        "retention_d1": "day 1", "retention_d7": "day 7", "retention_d30": "day 30"}
    assert {k: v["displayName"] for k, v in overrides_of(by_title["Member layers by day"])
            .items()} == {"core": "核心 core", "participating": "参与 participating",
                          "onlooker": "围观 onlooker"}
    live = by_title["Day-7 retention, ten lowest communities (live)"]["fieldConfig"]["defaults"]
    assert [step["value"] for step in live["thresholds"]["steps"]] == [None, 0.6]


def test_member_lifecycle_panels_read_final_values(panel_results: dict[str, Any]) -> None:
    """Today's cohorts, health days and status changes at their latest revision; a replayed
    status change counts once; changes and days out of the range do not count."""
    assert series(panel_results, "Retention heatmap (day 1 / 7 / 30)") == [[0.4, 0.3, None]]
    assert series(panel_results, "Retention heatmap (day 1 / 7 / 30)", "c-alpha") == [
        [0.6, 0.4, None]]
    assert series(panel_results, "Members at churn risk by day") == [
        ["c-alpha", 5], ["c-beta", 3]]
    assert series(panel_results, "Members at churn risk by day", "c-alpha") == [
        ["c-alpha", 5]]
    assert series(panel_results, "Members to win back by day") == [
        ["c-alpha", 2], ["c-beta", 1]]
    changes = rows(panel_results, "Silence status changes by day")
    assert {str(row[0]) for row in changes} == {f"{date_of_local_midnight()} 16:00:00"}
    assert [row[1:] for row in changes] == [
        ["churn_risk", 2], ["reactivated", 2], ["win_back", 1]]
    assert series(panel_results, "Silence status changes by day", "c-alpha") == [
        ["churn_risk", 2], ["reactivated", 1], ["win_back", 1]]
    local_day = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    assert rows(panel_results, "Silent members by community and day") == [
        ["c-alpha", local_day, 120, 5, 2, pytest.approx(5 / 120), 1],
        ["c-beta", local_day, 40, 3, 1, pytest.approx(3 / 40), 1]]
    assert rows(panel_results, "Member layers by community (latest closed day)") == [
        ["c-alpha", local_day, 2, 12, 48, 60, 0.1, 0.4, 0.5],
        ["c-beta", local_day, 1, 3, 7, 30, 0.075, 0.175, 0.75]]
    assert series(panel_results, "KOC members by day") == [["c-alpha", 2], ["c-beta", 1]]
    assert series(panel_results, "KOC members by day", "c-alpha") == [["c-alpha", 2]]


def test_member_panels_show_member_ref_never_ids(panel_results: dict[str, Any]) -> None:
    """Sentiment and member dashboards never read a member id, not even counted: members
    appear as counts or by the salted reference (the leaderboard's m-… values)."""
    board_queries = {name: sql for name, sql in CLICKHOUSE_QUERIES.items()
                     if name.startswith(("pulse-members/", "pulse-sentiment/"))}
    assert len(board_queries) >= 20
    for name, sql in board_queries.items():
        assert not re.search(r"\bmember_id\b", sql), name
    assert "member_ref AS member" in CLICKHOUSE_QUERIES["pulse-members/KOC leaderboard/A"]
    for selection in ("all", "c-alpha"):
        key = f"pulse-members/KOC leaderboard/A [{selection}]"
        column = panel_results[key]["columns"].index("member")
        members = {row[column] for row in panel_results[key]["rows"]}
        assert members and all(re.fullmatch(r"m-[a-z0-9]+", m) for m in members), members
