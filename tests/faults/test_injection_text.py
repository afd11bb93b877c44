"""Injection-shaped member text: stored verbatim, shown harmlessly.

SQL, HTML/JS, Markdown and WeCom markup, @all, format strings, terminal escapes, NUL
and bidi overrides in a chat message: the edge accepts the message as it is (it is a
real message), raw storage keeps the text byte for byte, and everything that shows it
to people (alert excerpts, the WeCom robot message, Alertmanager's description, the
moderator console) shows it inert: no markup, no mention, no invisible characters,
format strings as literal text.
"""

from __future__ import annotations

import sys
import unicodedata
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from pipeline.compute.escalation.signals import excerpt
from pipeline.console.pages import detail_page
from pipeline.egress.clickhouse.tables import RAW_TABLES
from pipeline.egress.paging import render_markdown
from pipeline.egress.paging.alertmanager import describe
from schemas.alerts import Excerpt
from schemas.decode import decode
from schemas.events import ChatMessage

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipeline" / "egress" / "paging"))
from delivery_support import make_alert  # noqa: E402

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HOSTILE = [
    "退款呢？'; DROP TABLE chat_messages; -- 投诉",
    '<script>alert("x")</script><img src=x onerror=alert(1)> 退款',
    "[点这里领补偿](http://evil.example/phish) **投诉** `rm -rf /`",
    '<font color="warning">已解决</font> <@all> @all 大家快看 投诉',
    "投诉 %s %d {0} {alert.incident_id} ${HOME} {{7*7}}",
    "投诉\x1b[31m红色\x1b[0m\x00\x08 退款",
    "退款\u202e款退\u202c 投诉\u200b\ufeff",
]
INVISIBLE = {"Cc", "Cf"}


def shown(text: str) -> bool:
    """What a moderator may see: no markup brackets, links, mentions or hidden chars."""
    return (not any(unicodedata.category(ch) in INVISIBLE for ch in text)
            and not any(mark in text for mark in ("<", ">", "](", "`", "@all")))


@pytest.mark.parametrize("text", HOSTILE)
def test_the_edge_and_raw_storage_keep_the_text_verbatim(text: str) -> None:
    raw = orjson.dumps({"message_id": "m-1", "community_id": "c-1", "member_id": "u-1",
                        "text": text, "ts": NOW.isoformat()})
    message = decode(raw, ChatMessage, now=NOW)
    assert isinstance(message, ChatMessage) and message.text == text
    table = RAW_TABLES[ChatMessage]
    row = dict(zip(table.columns, table.rows([(_Event(), message)], NOW)[0], strict=True))
    assert row["text"] == text  # no personal data in it: nothing to mask


@pytest.mark.parametrize("text", HOSTILE)
def test_alerts_and_the_console_show_it_inert(text: str) -> None:
    quoted = excerpt(text, 300)
    assert not any(unicodedata.category(ch) in INVISIBLE for ch in quoted)
    assert "@all" not in quoted
    item = Excerpt(message_id="m-1", member_ref="m-abc", ts=NOW, text=quoted, score=0.02,
                   terms=["投诉"])
    alert = make_alert(excerpts=[item])
    robot = next(line for line in render_markdown(alert, "https://pulse.example.cn/")
                 .splitlines() if line.startswith("> 「"))
    assert shown(robot.removeprefix("> ")), robot
    lines = [line for line in describe(alert).splitlines() if line.startswith("摘录")]
    assert lines and all(shown(line) for line in lines), lines
    if "%s" in text:  # format strings stay literal text, never formatted
        assert "%s %d {0} {alert.incident_id} ${HOME} {{7*7}}" in robot
    html = detail_page(alert, NOW, base="/", csrf="t",
                       command_ids=defaultdict(lambda: "cmd-1"))
    assert "<script" not in html and "<img" not in html and "<font" not in html
    assert "\x1b" not in html and "\u202e" not in html


class _Event:
    """The source position a raw row records."""

    class message:  # noqa: N801 - Faust's attribute name
        partition = 0
        offset = 1
