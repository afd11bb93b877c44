"""The chat looks like Chinese community groups: rhythm, variety, replies, roles."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta, timezone

from pipeline.devtools.generator import GeneratedStream

SHANGHAI = timezone(timedelta(hours=8))


def test_daily_rhythm_peaks_at_9_12_and_20_shanghai_time(chat: list[dict]) -> None:
    hours = Counter(m["ts_dt"].astimezone(SHANGHAI).hour for m in chat)
    for peak in (9, 12, 20):
        assert hours[peak] > 5 * hours[3], (peak, hours)
        assert hours[peak] > 1.3 * (hours[peak - 2] + hours[peak + 2]) / 2, (peak, hours)
    assert hours[3] > 0


def test_every_message_type_and_role_occurs(chat: list[dict]) -> None:
    assert {m["msg_type"] for m in chat} == {"text", "image", "link", "sticker", "red_packet",
                                             "system"}
    roles = Counter(m["sender_role"] for m in chat)
    assert roles["member"] > 0.85 * len(chat) and roles["staff"] > 0 and roles["bot"] > 0
    assert {m["platform"] for m in chat} == {"wechat", "wecom", "qq"}


def test_texts_are_varied(chat: list[dict]) -> None:
    texts = [m["text"] for m in chat if m["msg_type"] == "text" and m["sender_role"] == "member"
             and len(m["text"]) >= 8]
    assert len(set(texts)) > 0.5 * len(texts)
    assert Counter(texts).most_common(1)[0][1] < 0.01 * len(texts)


def test_mechanical_replies_and_stickers(chat: list[dict]) -> None:
    texts = Counter(m["text"] for m in chat if m["msg_type"] == "text")
    for mechanical in ("收到", "+1", "打卡", "好的"):
        assert texts[mechanical] > 20
    stickers = [m["text"] for m in chat if m["msg_type"] == "sticker"]
    assert "" in stickers and len(set(stickers)) > 3
    assert all(len(t) <= 8 for t in stickers)


def test_copy_paste_by_different_members(chat: list[dict]) -> None:
    """Several members post exactly the same longer text within minutes (复制粘贴)."""
    by_text: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for m in chat:
        if m["sender_role"] == "member" and len(m["text"]) >= 8:
            by_text[(m["community_id"], m["text"])].append(m)
    chains = 0
    for posts in by_text.values():
        for a, b in zip(posts, posts[1:], strict=False):
            if a["member_id"] != b["member_id"] and \
                    abs(b["ts_dt"] - a["ts_dt"]) <= timedelta(minutes=10):
                chains += 1
                break
    assert chains > 50


def test_replies_point_to_earlier_messages_of_the_same_group(chat: list[dict]) -> None:
    by_id = {m["message_id"]: m for m in chat}
    replies = [m for m in chat if m["reply_to"]]
    assert len(replies) > 0.1 * len(chat)
    for m in replies:
        parent = by_id[m["reply_to"]]
        assert parent["community_id"] == m["community_id"]
        assert parent["ts_dt"] <= m["ts_dt"]


def test_mentions_name_members_in_the_text(chat: list[dict]) -> None:
    mentioning = [m for m in chat if m["mentions"]]
    assert len(mentioning) > 1000
    assert all("@" in m["text"] for m in mentioning)


def test_staff_and_bot_posts(chat: list[dict]) -> None:
    staff = " ".join(m["text"] for m in chat if m["sender_role"] == "staff")
    bots = " ".join(m["text"] for m in chat if m["sender_role"] == "bot")
    for marker in ("【群公告】", "【活动", "您好"):
        assert marker in staff
    for marker in ("欢迎", "【自动回复】", "加入"):
        assert marker in bots


def test_red_packets_images_and_links(chat: list[dict]) -> None:
    kinds = Counter(m["msg_type"] for m in chat)
    assert kinds["image"] > 1000 and kinds["link"] > 300 and kinds["red_packet"] > 20
    assert all(m["text"] == "" for m in chat if m["msg_type"] == "image")
    assert all("http" in m["text"] for m in chat if m["msg_type"] == "link")


def test_community_sizes_and_activity_differ(stream: GeneratedStream) -> None:
    communities = stream.truth.communities
    assert len(communities) == 6
    messages = sorted(c.messages for c in communities)
    assert messages[-1] > 2 * messages[0]
    assert all(c.speakers < c.initial_members + c.joins for c in communities)
    mechanical = sum(c.mechanical_messages for c in communities)
    assert 0.1 < mechanical / sum(c.member_messages for c in communities) < 0.35
