"""The HTML console: ordering, countdowns, escaping, action forms and the submitted state."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from console_harness import BEARER, NOW, RunningConsole, make_alert, request

from pipeline.console.memory import MemoryCommandSender
from pipeline.console.views import POLL_TRIES

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>&amp;'


def page(console: RunningConsole, path: str) -> str:
    reply = request("GET", console.url + path, headers=BEARER)
    assert reply.status == 200, reply.text
    return reply.text


def enabled_forms(html: str) -> list[str]:
    """Actions whose fieldset is not disabled."""
    return re.findall(r'id="form-(\w+)"><fieldset>', html)


def post(console: RunningConsole, incident: str, action: str, **form: str):
    return request("POST", f"{console.url}/console/alerts/{incident}/{action}",
                   headers=BEARER, form=form)


def test_list_puts_severe_first_then_oldest_and_shows_the_clocks(console: RunningConsole) -> None:
    console.store.put(make_alert("inc-mild-old", tier="mild", opened_ago=timedelta(hours=2)))
    html = page(console, "/console")
    table = html.split('id="open-alerts"')[1].split("</table>")[0]
    rows = re.findall(r'data-incident="([^"]+)"', table)
    assert rows == ["inc-severe", "inc-moderate", "inc-mild-old", "inc-mild"]
    severe = table.split('data-incident="inc-severe"')[1].split("</tr>")[0]
    assert "重度 severe" in severe and "wx-crisis" in severe and "待受理 · open" in severe
    assert '<td class="nowrap overdue" data-deadline="respond"' in severe
    assert "超时 1h00m overdue" in severe
    assert "剩 20h00m left" in severe          # statement: 24 h from opening, 4 h ago
    assert "食物中毒" in severe and "6 / 4" in severe
    mild = table.split('data-incident="inc-mild"')[1].split("</tr>")[0]
    assert "剩 2h50m left" in mild and "10m" in mild
    moderate = table.split('data-incident="inc-moderate"')[1].split("</tr>")[0]
    assert '<td class="nowrap met" data-deadline="respond"' in moderate
    assert '<meta http-equiv="refresh" content="10">' in html
    assert "逾期 overdue <b>1</b>" in html
    closed = html.split("最近闭环 Recently closed")[1]
    assert "inc-closed" in closed and "韩梅梅" in closed and "inc-closed" not in table


def test_empty_list_says_so(console: RunningConsole) -> None:
    for alert in list(console.store._alerts.values()):
        console.store.put(alert.model_copy(update={"revision": 9, "status": "followed_up"}))
    assert "暂无待处理告警 · No open alerts" in page(console, "/console")


def test_record_text_is_escaped_everywhere(console: RunningConsole) -> None:
    console.store.put(make_alert("inc-xss", community=f"g{HOSTILE}", text=f"退款 {HOSTILE}",
                                 terms=(HOSTILE,), reasons=[HOSTILE], notes=[HOSTILE],
                                 acknowledged_by=HOSTILE))
    for html in (page(console, "/console"), page(console, "/console/alerts/inc-xss")):
        assert "<script" not in html and "<img" not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
        assert "&amp;amp;" in html
    reply = request("GET", f"{console.url}/console/alerts/inc-xss", headers=BEARER)
    assert "default-src 'none'" in reply.headers["Content-Security-Policy"]
    assert reply.headers["Cache-Control"] == "no-store"


def test_detail_shows_the_incident_and_only_valid_actions(console: RunningConsole) -> None:
    html = page(console, "/console/alerts/inc-severe")
    for text in ("原因 Reasons", "negative cluster", "最低分 Min score", "0.02", "热度 Heat",
                 "客服一直不回复", "m#a1b2c3", "时间线 Timeline", "声明 statement",
                 "2025-03-14 12:00"):   # opened 04:00 UTC = 12:00 in Beijing
        assert text in html, text
    assert enabled_forms(html) == ["acknowledge", "resolve"]
    assert enabled_forms(page(console, "/console/alerts/inc-moderate")) == ["resolve"]
    assert "李雷" in page(console, "/console/alerts/inc-moderate")
    assert enabled_forms(page(console, "/console/alerts/inc-closed")) == []
    assert request("GET", f"{console.url}/console/alerts/nope", headers=BEARER).status == 404


def test_form_post_sends_a_command_and_the_page_waits_for_it(make_console) -> None:
    console = make_console(apply=False)
    command_id = str(uuid.uuid4())
    reply = post(console, "inc-severe", "acknowledge", actor="  王小明 ", note="已联系群主",
                 command_id=command_id)
    assert reply.status == 303
    assert reply.headers["Location"] == "/console/alerts/inc-severe?submitted=acknowledge"
    [command] = console.sender.sent
    assert (command.kind, command.incident_id, command.community_id) == (
        "acknowledge", "inc-severe", "wx-crisis")
    assert (command.actor, command.note, command.command_id) == ("王小明", "已联系群主", command_id)
    assert command.issued_at == NOW

    waiting = page(console, "/console/alerts/inc-severe?submitted=acknowledge")
    assert "已提交，等待处理" in waiting
    assert ('content="2;url=/console/alerts/inc-severe?submitted=acknowledge&amp;n=1"'
            in waiting)
    assert enabled_forms(waiting) == [] and "操作 Actions" not in waiting
    gave_up = page(console, f"/console/alerts/inc-severe?submitted=acknowledge&n={POLL_TRIES}")
    assert "尚未生效" in gave_up and "http-equiv" not in gave_up

    console.sender.apply_pending()
    done = page(console, "/console/alerts/inc-severe?submitted=acknowledge&n=3")
    assert "已生效：已受理 · Applied: acknowledged" in done and "http-equiv" not in done
    timeline = done.split('id="timeline"')[1]
    assert "王小明" in timeline and "已联系群主" in done
    assert enabled_forms(done) == ["resolve"]


def test_form_remembers_who_acted(console: RunningConsole) -> None:
    reply = post(console, "inc-mild", "acknowledge", actor="韩梅梅")
    cookie = reply.cookies()["pulse_actor"]
    assert cookie["httponly"]
    html = request("GET", f"{console.url}/console/alerts/inc-mild", headers=BEARER,
                   cookies={"pulse_actor": cookie.value}).text
    assert 'name="actor" required maxlength="64" value="韩梅梅"' in html


def test_form_rejections_keep_the_input_and_send_nothing(console: RunningConsole) -> None:
    cases = [
        ("inc-mild", "acknowledge", {"actor": "   "}, 400, "请填写处理人"),
        ("inc-mild", "acknowledge", {"actor": "x" * 65}, 400, "请填写处理人"),
        ("inc-mild", "acknowledge", {"actor": "a", "note": "n" * 1001}, 400, "备注过长"),
        ("inc-mild", "follow_up", {"actor": "王", "note": "保留 <b>"}, 409, "当前状态为「待受理」"),
        ("inc-moderate", "acknowledge", {"actor": "王小明"}, 409, "已受理"),
        ("inc-closed", "follow_up", {"actor": "王小明"}, 409, "已回访"),
        ("inc-mild", "delete", {"actor": "王小明"}, 404, "Not found"),
        ("nope", "acknowledge", {"actor": "王小明"}, 404, "Not found"),
    ]
    for incident, action, form, status, text in cases:
        reply = post(console, incident, action, **form)
        assert reply.status == status, (incident, action, form)
        assert text in reply.text
    kept = post(console, "inc-mild", "follow_up", actor="王小明", note="保留 <b>")
    assert "保留 &lt;b&gt;</textarea>" in kept.text and 'value="王小明"' in kept.text
    assert console.sender.sent == []


def test_a_failing_sender_is_reported_not_hidden(make_console) -> None:
    class BrokenSender(MemoryCommandSender):
        async def send(self, command) -> None:
            raise ConnectionError("broker down")

    console = make_console()
    console.console.sender = BrokenSender(console.store)
    command_id = str(uuid.uuid4())
    reply = post(console, "inc-mild", "acknowledge", actor="王小明", command_id=command_id)
    assert reply.status == 503 and "提交失败" in reply.text
    assert f'value="{command_id}"' in reply.text   # a retry reuses the command id
