"""The demo's HTML report: its queries run on the real schema, and every chart draws in
headless Chromium, offline, without console errors."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from pipeline.devtools.html_report import QUERIES, charts, render
from pipeline.egress.clickhouse.client import ddl_statements

RUNNER = Path(__file__).parents[2] / "deploy" / "chdb_runner.py"
T0 = datetime(2026, 11, 2, tzinfo=UTC)


def sample() -> dict[str, list[tuple]]:
    hours = [T0 + timedelta(hours=h) for h in range(48)]
    days = [date(2026, 11, 2) + timedelta(days=d) for d in range(3)]
    return {
        "activity": [(c, t, 10 + h % 7, 4) for h, t in enumerate(hours) for c in ("c1", "c2")],
        "hourly": [(h, h * 3 % 17) for h in range(24)],
        "sentiment": [(c, d, 0.55 + i / 20, 0.1) for i, d in enumerate(days)
                      for c in ("c1", "c2")],
        "incidents": [("inc-1", "severe", T0 + timedelta(hours=30), "c1", 12),
                      ("inc-2", "mild", T0 + timedelta(hours=40), "c2", 3)],
        "retention": [(d, 20, 0.6, 0.5 if i == 0 else None, None) for i, d in enumerate(days)],
        "funnel": [("spring", "春季大促", ["poster_click", "signup", "follow_up"], [100, 60, 20])],
        "gmv": [(datetime(2026, 11, 2 + d, tzinfo=UTC), 1234.5 * (d + 1), 1100.0 * (d + 1), 9)
                for d in range(3)],
    }


def test_the_queries_run_on_the_schema() -> None:
    job = {"setup": ["CREATE DATABASE IF NOT EXISTS pulse", *ddl_statements("pulse")],
           "queries": {name: sql.format(db="pulse") for name, sql in QUERIES.items()}}
    done = subprocess.run([sys.executable, str(RUNNER)], input=json.dumps(job), text=True,
                          capture_output=True, timeout=120, check=True)
    results = json.loads(done.stdout)
    assert set(results) == set(QUERIES)
    assert all("error" not in result for result in results.values()), results


def test_an_empty_chart_says_so() -> None:
    empty = {name: [] for name in QUERIES}
    page = render(charts(empty))
    assert page.count("No data yet for this chart.") == len(QUERIES) - 1  # sentiment: both


def test_every_chart_draws_offline_without_console_errors(
        tmp_path: Path, browser: webdriver.Chrome) -> None:
    report = charts(sample())
    page = render(report)
    assert "<script src=" not in page  # nothing fetched: plotly.js is inlined
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    browser.get(path.as_uri())
    for chart in report:
        assert chart.figure is not None, chart.chart_id
        WebDriverWait(browser, 30).until(lambda d, c=chart.chart_id: d.find_elements(
            By.CSS_SELECTOR, f"#chart-{c} svg.main-svg"))
    drawn = browser.execute_script(
        "return [...document.querySelectorAll('.js-plotly-plot')].map(d => d.id)")
    assert sorted(drawn) == sorted(f"chart-{c.chart_id}" for c in report)
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
