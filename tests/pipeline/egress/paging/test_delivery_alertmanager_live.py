"""The deliverer against a real Alertmanager running the repo's config: labels fit
its routes, inhibition severe > moderate > mild per community, grouping per
community and incident, silences, and the incident lifecycle (upgrade, resolve)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from delivery_support import (
    OPENED,
    eventually,
    make_alert,
    resolved,
)

from pipeline.egress.paging import ALERTNAME, AlertDeliverer, AlertmanagerClient, DeliveryConfig
from schemas.alerts import Alert
from tests.live_alertmanager import LiveAlertmanager, live_alertmanager

PUBLIC_URL = "https://pulse.example.cn"
WORKER_WEBHOOK = "/alerts/alertmanager"


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAlertmanager]:
    with live_alertmanager(tmp_path_factory.mktemp("alertmanager")) as running:
        yield running


def deliverer(alertmanager: LiveAlertmanager) -> AlertDeliverer:
    return AlertDeliverer(DeliveryConfig(alertmanager_url=alertmanager.url,
                                         public_url=PUBLIC_URL))


async def incident_alerts(client: AlertmanagerClient, incident: str) -> list[dict[str, Any]]:
    return await client.alerts({"alertname": ALERTNAME, "incident": incident})


def by_tier(alerts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {a["labels"]["tier"]: a for a in alerts}


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_labels_annotations_and_routes(alertmanager: LiveAlertmanager) -> None:
    alert = make_alert(incident_id="live-labels", community_id="live-c-labels",
                       community_ids=["live-c-labels"])

    async def scenario() -> dict[str, Any]:
        async with deliverer(alertmanager) as d, aiohttp.ClientSession() as session:
            await d.deliver(alert)
            client = AlertmanagerClient(alertmanager.url, session)
            [posted] = await incident_alerts(client, "live-labels")
            return posted

    posted = asyncio.run(scenario())
    assert posted["labels"] == {
        "alertname": "CommunityNegativeSentiment", "tier": "severe", "severity": "critical",
        "community": "live-c-labels", "incident": "live-labels",
    }
    assert {r["name"] for r in posted["receivers"]} == {"pulse-worker", "management-crisis"}
    notes = posted["annotations"]
    assert notes["summary_zh"].startswith("社群 live-c-labels 出现重度负面反馈")
    assert notes["console_url"] == f"{PUBLIC_URL}/console/alerts/live-labels"
    assert posted["generatorURL"] == notes["console_url"]
    assert parse_time(notes["respond_by"]) == OPENED + timedelta(hours=3)
    assert parse_time(notes["statement_by"]) == OPENED + timedelta(hours=24)
    assert "138****5678" in notes["description"] and "13812345678" not in notes["description"]
    assert parse_time(posted["startsAt"]) == OPENED
    # Open: kept firing for the resend horizon, then Alertmanager would resolve it.
    assert parse_time(posted["endsAt"]) > datetime.now(UTC) + timedelta(minutes=50)


def test_severe_inhibits_moderate_and_mild_of_the_same_community(
    alertmanager: LiveAlertmanager,
) -> None:
    def tiered(tier: str, community: str) -> Alert:
        return make_alert(incident_id=f"live-inh-{community}-{tier}", tier=tier,
                          community_id=community, community_ids=[community])

    alerts = [tiered("severe", "live-c-inh"), tiered("moderate", "live-c-inh"),
              tiered("mild", "live-c-inh"), tiered("mild", "live-c-calm")]

    async def scenario() -> dict[tuple[str, str], dict[str, Any]]:
        async with deliverer(alertmanager) as d, aiohttp.ClientSession() as session:
            for alert in alerts:
                await d.deliver(alert)
            client = AlertmanagerClient(alertmanager.url, session)

            async def states() -> dict[tuple[str, str], dict[str, Any]]:
                found = await client.alerts({"alertname": ALERTNAME})
                return {(a["labels"]["community"], a["labels"]["tier"]): a for a in found
                        if a["labels"]["incident"].startswith("live-inh-")}

            return await eventually(
                states,
                lambda s: len(s) == 4 and all(
                    (a["status"]["state"] == "suppressed") == (key in {
                        ("live-c-inh", "moderate"), ("live-c-inh", "mild")})
                    for key, a in s.items()),
                "moderate and mild inhibited",
            )

    states = asyncio.run(scenario())
    severe = states[("live-c-inh", "severe")]
    moderate = states[("live-c-inh", "moderate")]
    mild = states[("live-c-inh", "mild")]
    assert severe["status"]["inhibitedBy"] == []
    assert moderate["status"]["inhibitedBy"] == [severe["fingerprint"]]
    assert mild["status"]["inhibitedBy"]
    assert set(mild["status"]["inhibitedBy"]) <= {severe["fingerprint"], moderate["fingerprint"]}
    assert states[("live-c-calm", "mild")]["status"] == {
        "state": "active", "inhibitedBy": [], "silencedBy": []}


def test_worker_webhook_gets_one_group_per_community_and_incident(
    alertmanager: LiveAlertmanager,
) -> None:
    incidents = {"live-grp-1": "live-c-grp", "live-grp-2": "live-c-grp",
                 "live-grp-3": "live-c-grp-b"}

    def groups() -> list[dict[str, Any]]:
        return [body for body in alertmanager.received.bodies("POST", WORKER_WEBHOOK)
                if body["groupLabels"].get("incident") in incidents]

    async def scenario() -> list[dict[str, Any]]:
        async with deliverer(alertmanager) as d:
            for incident, community in incidents.items():
                await d.deliver(make_alert(incident_id=incident, tier="mild",
                                           community_id=community, community_ids=[community]))

        async def received() -> list[dict[str, Any]]:
            return groups()

        return await eventually(received, lambda g: len(g) >= 3, "three webhook groups")

    bodies = asyncio.run(scenario())
    assert {b["groupLabels"]["incident"]: b["groupLabels"]["community"] for b in bodies} \
        == incidents
    for body in bodies:
        assert body["receiver"] == "pulse-worker"
        assert set(body["groupLabels"]) == {"community", "incident"}
        assert [a["labels"]["incident"] for a in body["alerts"]] \
            == [body["groupLabels"]["incident"]]
        assert body["alerts"][0]["annotations"]["summary_zh"].startswith(
            f"社群 {body['groupLabels']['community']} 出现轻度负面反馈")


def test_silence_mutes_the_incident(alertmanager: LiveAlertmanager) -> None:
    alert = make_alert(incident_id="live-silenced", tier="moderate",
                       community_id="live-c-silence", community_ids=["live-c-silence"])

    async def scenario() -> tuple[str, dict[str, Any], dict[str, Any]]:
        async with deliverer(alertmanager) as d, aiohttp.ClientSession() as session:
            await d.deliver(alert)
            client = AlertmanagerClient(alertmanager.url, session)
            silence_id = await client.silence({"incident": "live-silenced"},
                                              created_by="test", comment="已在处理")
            muted = await eventually(
                lambda: incident_alerts(client, "live-silenced"),
                lambda found: bool(found) and found[0]["status"]["silencedBy"] != [],
                "the silence to apply",
            )
            await client.expire_silence(silence_id)
            unmuted = await eventually(
                lambda: incident_alerts(client, "live-silenced"),
                lambda found: bool(found) and found[0]["status"]["state"] == "active",
                "the expired silence to lift",
            )
            return silence_id, muted[0], unmuted[0]

    silence_id, muted, unmuted = asyncio.run(scenario())
    assert muted["status"]["silencedBy"] == [silence_id]
    assert muted["status"]["state"] == "suppressed"
    assert unmuted["status"]["silencedBy"] == []


def test_upgrade_replaces_the_old_tier_and_resolution_ends_the_alert(
    alertmanager: LiveAlertmanager,
) -> None:
    opened = make_alert(incident_id="live-life", tier="mild", community_id="live-c-life",
                        community_ids=["live-c-life"])
    upgraded = opened.model_copy(update={"revision": 2, "event": "upgraded", "tier": "severe"})
    closed = resolved(upgraded, revision=3)

    async def scenario() -> list[list[dict[str, Any]]]:
        seen = []
        async with deliverer(alertmanager) as d, aiohttp.ClientSession() as session:
            client = AlertmanagerClient(alertmanager.url, session)
            await d.deliver(opened)
            seen.append(await incident_alerts(client, "live-life"))
            await d.deliver(upgraded)
            seen.append(await incident_alerts(client, "live-life"))
            await d.deliver(closed)
            seen.append(await incident_alerts(client, "live-life"))
            await d.deliver(upgraded)  # a stale replay must not reopen it
            seen.append(await incident_alerts(client, "live-life"))
            # Another process (no memory of revision 3) replays in order: still ended.
            async with deliverer(alertmanager) as restarted:
                for revision in (opened, upgraded, closed):
                    await restarted.deliver(revision)
            seen.append(await incident_alerts(client, "live-life"))
        return seen

    after_open, after_upgrade, after_resolve, after_stale, after_replay = asyncio.run(scenario())
    assert set(by_tier(after_open)) == {"mild"}
    assert set(by_tier(after_upgrade)) == {"severe"}
    assert by_tier(after_upgrade)["severe"]["annotations"]["revision"] == "2"
    assert after_resolve == [] and after_stale == [] and after_replay == []
