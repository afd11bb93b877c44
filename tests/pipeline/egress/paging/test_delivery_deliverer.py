"""Which channel gets which event, stale revisions, re-posts, the backoff policy,
and cancellation during backoff (the consumer's shutdown) propagating."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from delivery_support import OPENED, Recorder, make_alert, resolved, serve
from pydantic import SecretStr

from pipeline.app.settings import load_settings
from pipeline.egress.paging import (
    REPOST_INTERVAL,
    RESEND_HORIZON,
    AlertDeliverer,
    Backoff,
    DeliveryConfig,
    DeliveryHooks,
    repost_due,
    to_alertmanager,
)
from schemas.alerts import Alert

NOW = datetime(2024, 5, 1, 3, 0, tzinfo=UTC)
QUICK = Backoff(initial_s=0.001, max_s=0.002)
LIFECYCLE = ["opened", "updated", "acknowledged", "upgraded", "escalated", "resolved",
             "followed_up"]


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def fake_endpoints(recorder: Recorder, wecom_status: list[int] | None = None) -> web.Application:
    """Alertmanager's alerts API (no alerts stored) and a WeCom robot."""
    statuses = wecom_status if wecom_status is not None else []

    async def alerts(request: web.Request) -> web.Response:
        await recorder.record(request)
        return web.json_response([] if request.method == "GET" else None)

    async def wecom(request: web.Request) -> web.Response:
        await recorder.record(request)
        status = statuses.pop(0) if statuses else 200
        return web.json_response({"errcode": 0 if status == 200 else -1}, status=status)

    app = web.Application()
    app.router.add_route("*", "/api/v2/alerts", alerts)
    app.router.add_post("/robot", wecom)
    return app


def both(url: str, **overrides: Any) -> DeliveryConfig:
    values: dict[str, Any] = {"backoff": QUICK, **overrides}
    return DeliveryConfig(alertmanager_url=url, wecom_url=f"{url}/robot", **values)


def lifecycle() -> list[Alert]:
    alert = make_alert(tier="moderate")
    revisions = []
    for revision, event in enumerate(LIFECYCLE, start=1):
        update: dict[str, Any] = {"revision": revision, "event": event}
        if event in ("upgraded", "escalated"):
            update["tier"] = "severe"
        if event in ("escalated",):
            update["escalations"] = 1
        if event in ("resolved", "followed_up"):
            update["status"] = event
        revisions.append(alert.model_copy(update=update))
        alert = revisions[-1]
    return revisions


def test_alertmanager_gets_every_revision_wecom_only_paging_events() -> None:
    recorder = Recorder()

    async def scenario() -> None:
        async with serve(fake_endpoints(recorder)) as url, AlertDeliverer(both(url)) as d:
            assert d.channels == ("alertmanager", "wecom")
            for alert in lifecycle():
                await d.deliver(alert)

    asyncio.run(scenario())
    posts = recorder.bodies("POST", "/api/v2/alerts")
    assert [p[0]["annotations"]["event"] for p in posts] == LIFECYCLE
    messages = [b["markdown"]["content"] for b in recorder.bodies("POST", "/robot")]
    assert [m.rsplit("(r", 1)[1] for m in messages] == ["1)</font>", "4)</font>", "5)</font>",
                                                       "6)</font>"]
    assert "级别上调：级别升至重度" in messages[1] and "【已解决】" in messages[3]


def test_stale_revisions_are_skipped_and_open_incidents_reposted() -> None:
    recorder = Recorder()
    clock = [NOW]
    opened = make_alert(revision=1)
    updated = opened.model_copy(update={"revision": 2, "event": "updated"})

    async def scenario() -> list[bool]:
        due = []
        async with serve(fake_endpoints(recorder)) as url, \
                AlertDeliverer(both(url), clock=lambda: clock[0]) as d:
            due.append(d.repost_due(opened))          # unknown (e.g. after restart): due
            await d.deliver(opened)
            await d.deliver(updated)
            await d.deliver(opened)                   # older revision: skipped everywhere
            # Replayed out of order: the page for "opened" is stale once rev 2 is out.
            await d.deliver(updated.model_copy(update={"incident_id": "inc-2"}))
            await d.deliver(opened.model_copy(update={"incident_id": "inc-2"}))
            due.append(d.repost_due(updated))         # just posted
            clock[0] = NOW + REPOST_INTERVAL
            due.append(d.repost_due(updated))
            due.append(d.repost_due(opened))          # superseded revision: never
            await d.repost(updated)                   # Alertmanager only
            await d.repost(opened)                    # superseded: nothing
            due.append(d.repost_due(updated))
        return due

    assert asyncio.run(scenario()) == [True, False, True, False, False]
    posts = recorder.bodies("POST", "/api/v2/alerts")
    assert [(p[0]["labels"]["incident"], p[0]["annotations"]["revision"]) for p in posts] == [
        ("inc-1", "1"), ("inc-1", "2"), ("inc-2", "2"), ("inc-1", "2")]
    assert parse(posts[3][0]["endsAt"]) == NOW + REPOST_INTERVAL + RESEND_HORIZON
    assert ["(r1)" in b["markdown"]["content"] and "inc-1" in b["markdown"]["content"]
            for b in recorder.bodies("POST", "/robot")] == [True]


def test_mapping_ends_closed_incidents_and_clamps_skewed_clocks() -> None:
    open_alert = make_alert()
    posted = to_alertmanager(open_alert, "http://w", NOW)
    assert parse(posted["startsAt"]) == OPENED
    assert parse(posted["endsAt"]) == NOW + RESEND_HORIZON

    closed = resolved(open_alert, revision=2)
    assert parse(to_alertmanager(closed, "http://w", NOW)["endsAt"]) == closed.resolved_at
    # Event clock ahead of the wall clock: still valid, still ended.
    early = NOW - timedelta(hours=5)
    ended = to_alertmanager(closed, "http://w", early)
    assert parse(ended["startsAt"]) == parse(ended["endsAt"]) == early
    assert not repost_due(closed, None, NOW)
    assert repost_due(open_alert, None, NOW)
    assert not repost_due(open_alert, NOW - REPOST_INTERVAL / 2, NOW)


def test_without_channels_deliver_is_a_no_op() -> None:
    def no_session() -> Any:
        raise AssertionError("no HTTP session is needed without channels")

    async def scenario() -> None:
        deliverer = AlertDeliverer(DeliveryConfig(), session_factory=no_session)
        await deliverer.start()
        await deliverer.deliver(make_alert())
        await deliverer.repost(make_alert())
        await deliverer.close()
        assert deliverer.channels == () and not deliverer.repost_due(make_alert())

    asyncio.run(scenario())


def test_config_from_settings_reads_the_secret_url() -> None:
    settings = load_settings(alertmanager_url="http://am:9093",
                             wecom_webhook_url=SecretStr("https://qyapi/send?key=k"),
                             public_url="https://pulse.example.cn")
    config = DeliveryConfig.from_settings(settings)
    assert (config.alertmanager_url, config.wecom_url, config.public_url) == (
        "http://am:9093", "https://qyapi/send?key=k", "https://pulse.example.cn")
    assert DeliveryConfig.from_settings(load_settings(alertmanager_url=None)).wecom_url is None


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    backoff = Backoff(initial_s=0.5, factor=2.0, max_s=30.0, jitter=0.5)
    rng = random.Random(7)
    for failures, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (6, 16.0), (7, 30.0), (50, 30.0)]:
        delays = [backoff.delay(failures, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 4  # jittered, not constant


def test_cancellation_during_backoff_propagates() -> None:
    """Shutdown while a channel is failing: CancelledError reaches the consumer,
    which then does not commit the offset (the record is delivered again)."""
    recorder = Recorder()
    delivered: list[str] = []

    async def scenario() -> None:
        waiting = asyncio.Event()
        sleeps: list[float] = []

        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            waiting.set()
            await asyncio.sleep(seconds)

        landed = asyncio.Event()

        def on_delivered(channel: str, _seconds: float) -> None:
            delivered.append(channel)
            landed.set()

        hooks = DeliveryHooks(on_delivered=on_delivered)
        async with serve(fake_endpoints(recorder, wecom_status=[500] * 1000)) as url:
            config = both(url, backoff=Backoff(initial_s=60, max_s=60))
            async with AlertDeliverer(config, hooks=hooks, sleep=sleep) as d:
                task = asyncio.create_task(d.deliver(make_alert()))
                await waiting.wait()
                await landed.wait()
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                assert task.cancelled()
                assert len(sleeps) == 1 and 30 <= sleeps[0] <= 60

    asyncio.run(scenario())
    assert delivered == ["alertmanager"]  # one channel had landed; the other had not
    assert len(recorder.bodies("POST", "/robot")) == 1


def test_cancellation_during_a_request_propagates() -> None:
    recorder = Recorder()

    async def scenario() -> None:
        reached, release = asyncio.Event(), asyncio.Event()

        async def hanging(request: web.Request) -> web.Response:
            await recorder.record(request)
            reached.set()
            await release.wait()
            return web.json_response({"errcode": 0})

        app = web.Application()
        app.router.add_post("/robot", hanging)
        async with serve(app) as url:
            config = DeliveryConfig(wecom_url=f"{url}/robot",
                                    backoff=Backoff(initial_s=60, max_s=60))
            async with AlertDeliverer(config) as d:
                task = asyncio.create_task(d.deliver(make_alert()))
                await reached.wait()
                task.cancel()
                try:
                    # Bounded only so that a swallowed cancellation fails, not hangs.
                    with pytest.raises(asyncio.CancelledError):
                        await asyncio.wait_for(asyncio.shield(task), 10)
                finally:
                    release.set()
                    task.cancel()

    asyncio.run(scenario())
    assert len(recorder.bodies("POST", "/robot")) == 1


def test_a_failing_metrics_hook_does_not_stop_delivery() -> None:
    recorder = Recorder()

    def broken(*_args: Any) -> None:
        raise RuntimeError("metrics backend down")

    async def scenario() -> None:
        hooks = DeliveryHooks(on_attempt=broken, on_failure=broken, on_delivered=broken)
        async with serve(fake_endpoints(recorder, wecom_status=[503])) as url, \
                AlertDeliverer(both(url), hooks=hooks) as d:
            await d.deliver(make_alert())

    asyncio.run(scenario())
    assert len(recorder.bodies("POST", "/robot")) == 2
    assert len(recorder.bodies("POST", "/api/v2/alerts")) == 1
