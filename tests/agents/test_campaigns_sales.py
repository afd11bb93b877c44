"""Campaign funnels, conversion alerts and sales end to end: a real broker, a real worker
process, chdb and a real Alertmanager.

A two-day stream of four communities with two campaigns (the second has a
weak step) and their orders, with late, duplicated and malformed records:
funnel windows and sales totals in ClickHouse and on the compacted topics
must equal the brute-force oracle over the produced events (and the
generator's ground truth), also after a SIGKILL mid-stream; the weak step
raises exactly one conversion alert, routed to campaign operations, and the
healthy campaign none.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from datetime import UTC
from pathlib import Path

import pytest

from pipeline.app.settings import Settings
from pipeline.devtools.generator import generate, produce
from pipeline.devtools.generator.io import registry_text
from pipeline.devtools.stack import WorkerProcess
from pipeline.egress.clickhouse.client import connect
from pipeline.topics import (
    CONVERSION_ALERTS,
    FUNNEL_EVENTS,
    FUNNEL_METRICS,
    MEMBER_EVENTS,
    SALES_TOTALS,
    TRANSACTIONS,
)
from schemas.events import FUNNEL_STEPS
from tests.agents.campaign_oracle import (
    ATTRIBUTION_FIELDS,
    attribution_totals,
    funnel_counts,
    sales_totals,
    valid_values,
)
from tests.agents.test_community_health import latest_by_key
from tests.live_alertmanager import live_alertmanager
from tests.support import (
    CAMPAIGN_STREAM,
    check_published_contracts,
    kill_midway_and_resume,
    wait_until_committed,
)

pytestmark = pytest.mark.integration
DAY_MS = 24 * 3600 * 1000

SALES_FIELDS = ("orders", "gmv_fen", "refunds", "refund_fen", "paying_members",
                "repeat_members")
SALES_DIMENSIONS = ("all", "community", "campaign", "channel")


def with_registry(settings: Settings, stream, directory: Path) -> Settings:
    path = directory / "campaigns.toml"
    path.write_text(registry_text(stream.truth), encoding="utf-8")
    return settings.model_copy(update={"campaigns_file": path})


def millis(value) -> int:
    return int(value.replace(tzinfo=UTC).timestamp() * 1000)


def stored_funnels(settings: Settings) -> dict[tuple[str, str, str, int], list[int]]:
    client = connect(settings.clickhouse_url)
    try:
        rows = client.query(
            "SELECT campaign_id, channel, window, window_start, step_names, step_persons "
            "FROM pulse.campaign_funnel FINAL").result_rows
    finally:
        client.close()
    out = {}
    for campaign, channel, window, start, names, persons in rows:
        assert list(names) == list(FUNNEL_STEPS)
        out[(campaign, channel, window, 0 if window == "campaign" else millis(start))] = list(
            persons)
    return out


def stored_sales(settings: Settings, fields: tuple[str, ...] = SALES_FIELDS,
                 dimensions: tuple[str, ...] = SALES_DIMENSIONS,
                 ) -> dict[tuple[str, str, str, int], dict[str, int]]:
    client = connect(settings.clickhouse_url)
    try:
        rows = client.query(
            f"SELECT dimension, dimension_value, window, window_start, {', '.join(fields)} "
            "FROM pulse.sales_totals FINAL WHERE dimension IN {dimensions:Array(String)}",
            parameters={"dimensions": list(dimensions)}).result_rows
    finally:
        client.close()
    return {(d, v, w, 0 if w == "all" else millis(s)): dict(zip(fields, rest, strict=True))
            for d, v, w, s, *rest in rows}


def check_exact(settings: Settings, stream) -> None:
    """ClickHouse and the compacted topics equal the oracle; whole-campaign and cumulative
    figures equal the generator's ground truth."""
    expected_funnels = funnel_counts(valid_values(stream, FUNNEL_EVENTS.name))
    stored = stored_funnels(settings)
    # a window that went back to zero keeps a row of zeros; every other row is the oracle's
    assert {k: v for k, v in stored.items() if any(v)} == expected_funnels
    on_topic = latest_by_key(settings, FUNNEL_METRICS.name)
    assert len(on_topic) == len(stored)
    for truth in stream.truth.funnels:
        assert stored[(truth.campaign_id, "*", "campaign", 0)] == [
            truth.steps[s] for s in FUNNEL_STEPS]
        for channel, steps in truth.by_channel.items():
            assert stored[(truth.campaign_id, channel, "campaign", 0)] == [
                steps.get(s, 0) for s in FUNNEL_STEPS]
        key = f"{truth.campaign_id}|*|campaign|all".encode()
        conversions = {f"{a['step']}": a["conversion"] for a in on_topic[key]["steps"]}
        for transition, rate in truth.conversion.items():
            assert round(conversions[transition.split("->")[1]], 4) == rate

    expected_sales = sales_totals(valid_values(stream, TRANSACTIONS.name))
    sales = stored_sales(settings)
    assert {k: v for k, v in sales.items() if any(v.values())} == expected_sales
    expected_credit = attribution_totals(
        valid_values(stream, FUNNEL_EVENTS.name), valid_values(stream, MEMBER_EVENTS.name),
        valid_values(stream, TRANSACTIONS.name), settings.attribution_window_days * DAY_MS)
    credited = stored_sales(settings, ATTRIBUTION_FIELDS, ("first_touch", "last_touch",
                                                           "inviter"))
    assert {k: v for k, v in credited.items() if any(v.values())} == expected_credit
    # campaign joins are credited to their campaign's touches, some joins were invited
    assert any(k[0] == "last_touch" and k[1].startswith("cmp-") and v["joins"]
               for k, v in expected_credit.items())
    assert any(k[0] == "inviter" for k in expected_credit)
    assert len(latest_by_key(settings, SALES_TOTALS.name)) == len(sales) + len(credited)
    orders = stream.truth.orders
    groups = [("all", {"*": orders.total}), ("community", orders.by_community),
              ("campaign", orders.by_campaign), ("channel", orders.by_channel)]
    for dimension, totals in groups:
        for value, truth in totals.items():
            got = sales[(dimension, value, "all", 0)]
            assert (got["orders"], got["gmv_fen"], got["paying_members"],
                    got["repeat_members"], got["refunds"], got["refund_fen"]) == (
                truth.orders, truth.gmv_fen, truth.buyers, truth.repeat_buyers,
                truth.refunds, truth.refund_fen), (dimension, value)


def community_sales_days(settings: Settings) -> list[tuple]:
    client = connect(settings.clickhouse_url)
    try:
        return client.query(
            "SELECT community_id, window_start, paying_members, member_count, conversion_rate "
            "FROM pulse.community_sales_day").result_rows
    finally:
        client.close()


def fission(settings: Settings) -> dict[str, tuple]:
    client = connect(settings.clickhouse_url)
    try:
        rows = client.query(
            "SELECT campaign_id, entered, joins, invited_joins, fission_rate "
            "FROM pulse.campaign_fission WHERE channel = '*'").result_rows
    finally:
        client.close()
    return {row[0]: row[1:] for row in rows}


def conversion_alerts(settings: Settings) -> list[tuple]:
    client = connect(settings.clickhouse_url)
    try:
        return client.query(
            "SELECT alert_id, campaign_id, from_step, to_step, status "
            "FROM pulse.campaign_conversion_alerts FINAL ORDER BY alert_id").result_rows
    finally:
        client.close()


def firing(url: str) -> list[dict]:
    query = urllib.parse.urlencode({"filter": 'alertname="CampaignConversionLow"'})
    with urllib.request.urlopen(f"{url}/api/v2/alerts?{query}", timeout=5) as response:
        return json.loads(response.read())


def test_funnels_sales_and_conversion_alerts_equal_the_brute_force(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    stream = generate(CAMPAIGN_STREAM)
    healthy, weak = stream.truth.funnels
    assert not healthy.below_target and len(weak.below_target) == 1
    with live_alertmanager(tmp_path / "alertmanager") as alertmanager:
        settings = with_registry(pipeline_settings, stream, tmp_path).model_copy(
            update={"alertmanager_url": alertmanager.url})
        worker = WorkerProcess(settings, tmp_path / "worker.log")
        worker.start()
        try:
            produce(stream.records, settings)
            wait_until_committed(settings, worker)
            metrics = worker.prometheus_samples()
            deadline = time.monotonic() + 30
            while not (alerts := firing(alertmanager.url)) and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            worker.stop()
    check_exact(settings, stream)
    check_published_contracts(settings, FUNNEL_METRICS, SALES_TOTALS, CONVERSION_ALERTS)

    # conversion rate: paying members / members at the end of the community's day
    days = community_sales_days(settings)
    sales = stored_sales(settings)
    assert len(days) == sum(1 for d, _, w, _ in sales if d == "community" and w == "day")
    rated = [d for d in days if d[4] is not None]
    assert rated and all(rate == paying / members for _, _, paying, members, rate in rated)

    # fission: invited joins credited (first touch) to a campaign over its participants
    for truth in stream.truth.funnels:
        entered, joins, invited, rate = fission(settings)[truth.campaign_id]
        assert entered == truth.steps["poster_click"] and joins >= truth.joined_community
        assert rate == invited / entered

    # the weak step: exactly one alert, still open (the step stays weak), on the campaign
    # route; the healthy campaign: none
    from_step, to_step = weak.below_target[0].split("->")
    assert conversion_alerts(settings) == [
        (f"{weak.campaign_id}|{from_step}->{to_step}|1", weak.campaign_id, from_step, to_step,
         "open")]
    assert [(a["labels"]["campaign"], a["labels"]["transition"]) for a in alerts] == [
        (weak.campaign_id, f"{from_step}->{to_step}")]
    assert [r["name"] for r in alerts[0]["receivers"]] == ["campaign-operations"]

    # unknown steps are dead letters with their reason; Prometheus has the funnel and sales
    unknown = [d for d in stream.truth.dead_letters if d.reason == "unknown_step"]
    assert metrics.get(f'pulse_dead_letters_total{{reason="unknown_step",topic="'
                       f'{FUNNEL_EVENTS.name}"}}', 0) == len(unknown)
    key = f'pulse_campaign_step_persons{{campaign="{weak.campaign_id}",step="signup"}}'
    assert metrics[key] == weak.steps["signup"]
    total = stream.truth.orders.total
    assert metrics['pulse_sales{dimension="all",metric="gmv_fen",value="*"}'] == total.gmv_fen


def test_funnels_and_sales_after_a_killed_worker_equal_the_brute_force(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    stream = generate(CAMPAIGN_STREAM)
    settings = with_registry(pipeline_settings, stream, tmp_path).model_copy(
        update={"store": "rocksdb://"})
    kill_midway_and_resume(settings, len(stream.records), tmp_path,
                           lambda: produce(stream.records, settings))
    check_exact(settings, stream)
