"""Grafana: dashboards as code, provisioning, every ClickHouse panel query run in
chdb, every PromQL expression parsed by promtool, metric names, no personal data."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from deploy_support import DEPLOY, load_yaml, run
from prometheus_client import CollectorRegistry

from pipeline.egress.clickhouse.client import ddl_statements
from pipeline.egress.prometheus import PrometheusSeries

GRAFANA = DEPLOY / "grafana"
DASHBOARD_DIR = GRAFANA / "dashboards"
RULE_FILE = DEPLOY / "prometheus" / "rules" / "pipeline.yml"
RUNNER = Path(__file__).with_name("chdb_runner.py")
DATABASE = "pulse"
COMMUNITIES = ["c-alpha", "c-beta"]
INTERVAL_S = 60
SECRETS = ("secret", "13800138000")
PROMQL_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h",
                    "$instance": ".*"}
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


def queries(kind: str) -> dict[str, str]:
    """``dashboard/panel/refId`` -> query of every target (and variable) of a datasource type."""
    found: dict[str, str] = {}
    field = "rawSql" if kind == "grafana-clickhouse-datasource" else "expr"
    for board in dashboards().values():
        for panel in board["panels"]:
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
    assert {b["title"] for b in boards.values()} >= {"Community activity", "Pipeline health"}
    assert len({b["uid"] for b in boards.values()}) == len(boards)
    for board in boards.values():
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), board["uid"]
        for panel in board["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24 and panel["targets"], panel["title"]
            refs = [target["refId"] for target in panel["targets"]]
            assert len(refs) == len(set(refs)), panel["title"]


def test_datasources_provisioned() -> None:
    provisioned = load_yaml(GRAFANA / "provisioning/datasources/datasources.yml")["datasources"]
    by_uid = {source["uid"]: source for source in provisioned}
    clickhouse = next(s for s in provisioned if s["type"] == "grafana-clickhouse-datasource")
    assert clickhouse["jsonData"]["host"] == "clickhouse"
    assert clickhouse["jsonData"]["port"] == 8123
    assert "password" in clickhouse["secureJsonData"]
    assert by_uid["pulse-prometheus"]["url"] == "http://prometheus:9090"
    for board in dashboards().values():
        for panel in board["panels"]:
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


def expand_clickhouse(sql: str, communities: list[str] | None, start: int, end: int) -> str:
    """Grafana variables and grafana-clickhouse-datasource v4 macros, as the plugin expands them
    for the time range ``start``..``end`` (epoch seconds)."""
    sql = expand_conditional_all(sql, all_selected=communities is None)
    sql = sql.replace("${database}", DATABASE)
    sql = sql.replace("${community:singlequote}",
                      ",".join(f"'{c}'" for c in communities or COMMUNITIES))
    sql = re.sub(r"\$__timeFilter\((\w+)\)",
                 rf"\1 >= toDateTime({start}) AND \1 <= toDateTime({end})", sql)
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
    return [chat, activity, dead]


@pytest.fixture(scope="module")
def panel_results() -> dict[str, Any]:
    now = int(time.time())
    start, end = now - 2 * 3600, now + 300
    jobs = {}
    for name, sql in CLICKHOUSE_QUERIES.items():
        jobs[f"{name} [all]"] = expand_clickhouse(sql, None, start, end)
        jobs[f"{name} [c-alpha]"] = expand_clickhouse(sql, ["c-alpha"], start, end)
    job = {"setup": ddl() + sample_rows(), "queries": jobs}
    result = subprocess.run([sys.executable, str(RUNNER)], input=json.dumps(job),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_clickhouse_panels_exist() -> None:
    assert len(CLICKHOUSE_QUERIES) >= 8
    titles = " ".join(CLICKHOUSE_QUERIES)
    for title in ("Messages per minute", "Speakers", "Top communities", "Hourly distribution",
                  "Dead letters by reason"):
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
