"""WeCom robot messages: Chinese-first content without personal data, the 4096-byte
limit, and retries until the robot answers errcode 0."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from delivery_support import (
    MEMBER_REF,
    MESSAGE_ID,
    RAW_PHONE,
    Recorder,
    excerpt,
    make_alert,
    resolved,
    serve,
)

from pipeline.egress.paging import (
    AlertDeliverer,
    Backoff,
    DeliveryConfig,
    DeliveryHooks,
    WeComError,
    render_markdown,
)
from pipeline.egress.paging.wecom import MAX_MARKDOWN_BYTES, WeComClient

PUBLIC_URL = "https://pulse.example.cn/"
UNMASKED_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
QUICK = Backoff(initial_s=0.001, max_s=0.002)


def test_markdown_is_chinese_first_with_deadlines_and_no_personal_data() -> None:
    alert = make_alert(revision=3)
    content = render_markdown(alert, PUBLIC_URL)
    lines = content.splitlines()
    assert lines[0] == '## <font color="warning">【重度】社群负面舆情 · 新事件</font>'
    assert "**社群**：c-1（扩散至 c-2）" in lines
    assert "**概况**：负面消息 12 条 · 涉及成员 8 人 · 最低分 0.02 · 平均分 0.11 · 热度 37" in lines
    assert "投诉、退款、曝光、食物中毒" in content
    # Deadlines in Beijing time (opened 02:00 UTC = 10:00 UTC+8).
    assert "> 回应 respond by：2024-05-01 13:00" in lines
    assert "> 闭环 close loop by（受理→解决→回访）：2024-05-03 10:00" in lines
    assert "> 官方声明 statement by：2024-05-02 10:00" in lines
    assert "[打开处理台 Open console](https://pulse.example.cn/console/alerts/inc-1)" in lines
    assert lines[-1] == '<font color="comment">事件 inc-1 · 第 3 版 (r3)</font>'
    # Three masked excerpts, no member identities or raw numbers.
    assert sum(line.startswith("> 「") for line in lines) == 3 and "第四条" not in content
    assert "电话138****5678" in content
    assert not UNMASKED_MOBILE.search(content) and RAW_PHONE not in content
    assert MEMBER_REF not in content and MESSAGE_ID not in content


def test_markdown_of_a_resolution_names_no_moderator_and_no_notes() -> None:
    content = render_markdown(resolved(make_alert(tier="mild"), revision=4), PUBLIC_URL)
    assert content.startswith('## <font color="info">【已解决】轻度社群负面舆情</font>')
    assert "**解决时间**：2024-05-01 11:00" in content
    assert "moderator-wang" not in content and not UNMASKED_MOBILE.search(content)
    assert "(r4)" in content


def test_excerpts_cannot_inject_markup() -> None:
    alert = make_alert(excerpts=[excerpt('<font color="info">没事</font> [点我](http://x.cn)')])
    content = render_markdown(alert, PUBLIC_URL)
    quoted = next(line for line in content.splitlines() if line.startswith("> 「"))
    assert "<" not in quoted and "](" not in quoted
    assert "＜font color=\"info\"＞没事" in quoted


def test_markdown_fits_the_robot_limit_and_keeps_deadlines_and_link() -> None:
    long_text = "退款一直不到账，客服也不回，" * 30
    alert = make_alert(
        excerpts=[excerpt(long_text[:300], message_id=f"m{i}") for i in range(5)],
        matched_terms=[f"关键词{i}" for i in range(60)],
        reasons=["负面聚集，" * 40] * 10,
        community_ids=["c-1", *[f"c-spread-{i}" for i in range(40)]],
    )
    content = render_markdown(alert, PUBLIC_URL)
    assert len(content.encode()) <= MAX_MARKDOWN_BYTES
    quoted = [line for line in content.splitlines() if line.startswith("> 「")]
    assert 1 <= len(quoted) <= 3 and all("…" in line for line in quoted)
    assert "> 回应 respond by：2024-05-01 13:00" in content
    assert content.endswith("(r1)</font>") and "/console/alerts/inc-1" in content
    assert "等 60 个" in content and "等 40 个" in content
    # Excerpts use the room left: a smaller limit gets shorter ones, not overflow.
    smaller = render_markdown(alert, PUBLIC_URL, max_bytes=2500)
    assert len(smaller.encode()) <= 2500 < len(content.encode())


def robot(recorder: Recorder, answers: list[tuple[int, dict[str, Any]]]) -> web.Application:
    """A robot webhook giving ``answers`` in turn, then errcode 0 for ever."""

    async def handle(request: web.Request) -> web.Response:
        await recorder.record(request)
        status, body = answers.pop(0) if answers else (200, {"errcode": 0, "errmsg": "ok"})
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_post("/cgi-bin/webhook/send", handle)
    return app


def test_robot_failures_are_retried_until_delivered_once() -> None:
    recorder = Recorder()
    answers = [(500, {"error": "internal"}),
               (200, {"errcode": 45009, "errmsg": "api freq out of limit"})]
    calls: Counter[str] = Counter()
    hooks = DeliveryHooks(
        on_attempt=lambda ch: calls.update([f"attempt:{ch}"]),
        on_failure=lambda ch: calls.update([f"failure:{ch}"]),
        on_delivered=lambda ch, seconds: calls.update([f"delivered:{ch}"]),
    )
    alert = make_alert()

    async def scenario() -> None:
        async with serve(robot(recorder, answers)) as url:
            config = DeliveryConfig(wecom_url=f"{url}/cgi-bin/webhook/send?key=secret-key",
                                    public_url=PUBLIC_URL, backoff=QUICK)
            async with AlertDeliverer(config, hooks=hooks) as deliverer:
                await deliverer.deliver(alert)
                await deliverer.deliver(alert)  # redelivered record: not sent again
                await deliverer.deliver(alert.model_copy(update={"revision": 2,
                                                                 "event": "escalated",
                                                                 "escalations": 1}))

    asyncio.run(scenario())
    bodies = recorder.bodies("POST", "/cgi-bin/webhook/send")
    assert len(bodies) == 4 and answers == []
    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[0]["msgtype"] == "markdown"
    assert bodies[0]["markdown"]["content"] == render_markdown(alert, PUBLIC_URL)
    assert "超时升级：超过处理时限未闭环（第 1 次升级）" in bodies[3]["markdown"]["content"]
    assert calls == {"attempt:wecom": 4, "failure:wecom": 2, "delivered:wecom": 2}


def test_robot_errors_are_reported_without_the_key() -> None:
    recorder = Recorder()

    async def scenario() -> WeComError:
        async with serve(robot(recorder, [(200, {"errcode": 93000, "errmsg": "invalid url"})])
                         ) as url, aiohttp.ClientSession() as session:
            client = WeComClient(f"{url}/cgi-bin/webhook/send?key=secret-key", session)
            with pytest.raises(WeComError) as caught:
                await client.send_markdown("hi")
            return caught.value

    error = asyncio.run(scenario())
    assert error.errcode == 93000 and "secret-key" not in str(error)
