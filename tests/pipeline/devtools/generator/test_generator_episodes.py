"""Negative episodes: present, labelled with their tier, and nowhere else."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import timedelta

from pipeline.devtools.generator import GeneratedStream

COMPLAINT = ("投诉", "退款", "退货", "质量问题", "客服")
CRISIS = ("曝光", "维权", "起诉", "律师", "媒体", "食物中毒", "泄露", "骗子")
_ANY_TERM = re.compile("|".join(COMPLAINT + CRISIS + ("骗", "差评")) + r"|(?<!\d)315(?!\d)")
_CRISIS = re.compile("|".join(CRISIS) + r"|(?<!\d)315(?!\d)")
_COMPLAINT = re.compile("|".join(COMPLAINT))


def _by_id(chat: list[dict]) -> dict[str, dict]:
    return {m["message_id"]: m for m in chat}


def test_every_tier_is_present(stream: GeneratedStream) -> None:
    tiers = Counter(e.expected_tier for e in stream.truth.episodes)
    assert tiers["severe"] == 1 and tiers["moderate"] >= 1 and tiers["mild"] >= 2


def test_episode_messages_exist_as_listed(stream: GeneratedStream, chat: list[dict]) -> None:
    messages = _by_id(chat)
    for episode in stream.truth.episodes:
        own = [messages[i] for i in episode.message_ids]
        assert {m["member_id"] for m in own} == set(episode.member_ids)
        assert {m["community_id"] for m in own} == set(episode.community_ids)
        assert min(m["ts_dt"] for m in own) == episode.start
        assert max(m["ts_dt"] for m in own) == episode.end
        assert all(m["sender_role"] == "member" for m in own)
        used = {t for m in own for t in _ANY_TERM.findall(m["text"])}
        assert used <= set(episode.terms)


def test_severe_crisis_spreads_with_many_members(stream: GeneratedStream,
                                                 chat: list[dict]) -> None:
    messages = _by_id(chat)
    (severe,) = [e for e in stream.truth.episodes if e.expected_tier == "severe"]
    own = [messages[i] for i in severe.message_ids]
    assert len(severe.community_ids) == 2
    assert len(severe.member_ids) >= 10
    assert all(_CRISIS.search(m["text"]) for m in own)
    assert severe.end - severe.start <= timedelta(hours=2)
    assert sum(m["reply_to"] is not None for m in own) >= 5
    assert any(m["mentions"] for m in own)


def test_moderate_cluster_is_several_members_within_minutes(stream: GeneratedStream,
                                                            chat: list[dict]) -> None:
    messages = _by_id(chat)
    for episode in (e for e in stream.truth.episodes if e.expected_tier == "moderate"):
        own = [messages[i] for i in episode.message_ids]
        assert len(episode.community_ids) == 1 and len(episode.member_ids) >= 4
        assert episode.end - episode.start <= timedelta(minutes=15)
        assert all(_COMPLAINT.search(m["text"]) and not _CRISIS.search(m["text"]) for m in own)


def test_mild_complaints_are_isolated(stream: GeneratedStream) -> None:
    episodes = stream.truth.episodes
    for mild in (e for e in episodes if e.expected_tier == "mild"):
        assert len(mild.message_ids) == 1 and len(mild.member_ids) == 1
        assert not any(_CRISIS.search(t) for t in mild.terms)
        for other in episodes:
            if other is mild:
                continue
            gap = timedelta(hours=3) if set(other.community_ids) & set(mild.community_ids) \
                else timedelta(minutes=45)
            assert mild.start > other.end + gap or mild.end < other.start - gap


def test_no_complaint_or_crisis_terms_outside_episodes(stream: GeneratedStream,
                                                       chat: list[dict]) -> None:
    in_episode = {i for e in stream.truth.episodes for i in e.message_ids}
    stray = [m["text"] for m in chat
             if m["message_id"] not in in_episode and _ANY_TERM.search(m["text"])]
    assert stray == []


def test_clean_stream_has_no_episodes_and_no_terms(clean_stream: GeneratedStream) -> None:
    assert clean_stream.truth.episodes == []
    texts = [json.loads(r.value)["text"] for r in clean_stream.records
             if r.kind == "valid" and r.topic.startswith("community.chat")]
    assert len(texts) > 5000
    assert not any(_ANY_TERM.search(t) for t in texts)
