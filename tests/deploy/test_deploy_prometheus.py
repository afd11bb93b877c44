"""Prometheus config and rules: promtool checks, unit tests, and rule conventions."""

from __future__ import annotations

import re
from typing import Any

import pytest
from deploy_support import DEPLOY, assert_ok, load_yaml, run

PROMETHEUS = DEPLOY / "prometheus"
RULES = PROMETHEUS / "rules"
RULE_FILE = RULES / "pipeline.yml"
UNIT_TESTS = sorted(RULES.glob("*_test.yml"))
CJK = re.compile(r"[\u4e00-\u9fff]")
TIERS = {"mild", "moderate", "severe"}


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(RULE_FILE)["groups"] for rule in group["rules"]
            if "alert" in rule]


def test_promtool_check_config(promtool: str) -> None:
    result = run([promtool, "check", "config", "prometheus.yml"], cwd=PROMETHEUS)
    assert_ok(result)
    assert "1 rule files found" in result.stdout + result.stderr


def test_promtool_check_rules(promtool: str) -> None:
    assert_ok(run([promtool, "check", "rules", str(RULE_FILE)]))


def test_promtool_unit_tests(promtool: str) -> None:
    assert UNIT_TESTS, "no rule unit tests"
    assert_ok(run([promtool, "test", "rules", *(p.name for p in UNIT_TESTS)], cwd=RULES))


def test_rule_files_listed_in_config() -> None:
    """Every rule file is loaded (the unit-test files are not rule files)."""
    config = load_yaml(PROMETHEUS / "prometheus.yml")
    listed = {PROMETHEUS / path for path in config["rule_files"]}
    rule_files = {p for p in RULES.glob("*.yml") if not p.name.endswith("_test.yml")}
    assert listed == rule_files


def test_scrape_job_matches_rules() -> None:
    config = load_yaml(PROMETHEUS / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    worker = jobs["pulse-worker"]
    assert worker["metrics_path"] == "/metrics"
    assert worker["dns_sd_configs"][0]["names"] == ["worker", "alert-worker"]
    assert worker["dns_sd_configs"][0]["port"] == 6066
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager:9093"
    ]
    text = RULE_FILE.read_text()
    assert set(re.findall(r'job="([^"]+)"', text)) == {"pulse-worker"}


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_alert_conventions(rule: dict[str, Any]) -> None:
    labels, annotations = rule["labels"], rule["annotations"]
    assert rule["alert"].startswith("Pulse")
    assert annotations["summary"] and not CJK.search(annotations["summary"])
    assert CJK.search(annotations["summary_zh"]), "summary_zh must be Chinese"
    assert annotations["description"]
    if labels["team"] == "platform":
        assert labels["severity"] in {"critical", "warning"}
        assert "tier" not in labels, "tiers route to community receivers, not on-call"
    else:
        assert labels["tier"] in TIERS
        assert labels["incident"]
        assert "community" in rule["expr"]


def test_every_alert_fires_and_stays_quiet_in_unit_tests() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for path in UNIT_TESTS:
        for case in load_yaml(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names - fired == set(), "alerts never seen firing"
    assert names - quiet == set(), "alerts never checked quiet"
