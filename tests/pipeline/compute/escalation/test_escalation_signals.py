"""Message signals and the lexicon: what counts, what is shown, what stays hidden."""

from __future__ import annotations

import pytest

from pipeline.compute.escalation import DEFAULT_POLICY as P
from pipeline.compute.escalation import EscalationPolicy, match_terms, signal_for
from pipeline.compute.escalation.signals import excerpt, member_ref, text_fingerprint
from tests.pipeline.compute.escalation.factory import UNSURE, chat


@pytest.mark.parametrize(("text", "complaint", "crisis", "dissatisfaction"), [
    ("客服一直不回复，我要投诉", ("客服", "投诉"), (), ("不回复",)),
    ("已经打315投诉了", ("投诉",), ("315",), ()),
    ("315见！", (), ("315",), ()),
    ("打12315举报", (), ("12315",), ()),
    ("电话13815012345，麻烦回电", (), (), ()),
    ("花了315元买的", (), (), ()),
    ("被骗子骗了", ("被骗",), ("骗子",), ()),
    ("我在做新媒体运营", (), (), ()),
    ("我已经联系媒体了", (), ("媒体",), ()),
    ("今天累坏了", (), (), ()),
    ("用了两天就坏了", (), (), ("坏了",)),
    ("之前群里讨论过敏感肌护理", (), (), ()),
    ("宝宝吃完食物中毒住院了", (), ("食物中毒",), ()),
])
def test_lexicon_classes_and_guards(text: str, complaint: tuple, crisis: tuple,
                                    dissatisfaction: tuple) -> None:
    found = match_terms(text, P)
    assert (found.complaint, found.crisis, found.dissatisfaction) == (
        complaint, crisis, dissatisfaction)


def test_a_custom_lexicon_is_used() -> None:
    policy = EscalationPolicy(crisis_terms=("出大事",))
    assert match_terms("出大事了，要曝光", policy).crisis == ("出大事",)


@pytest.mark.parametrize("fields", [
    {"sender_role": "staff"},
    {"sender_role": "bot"},
    {"msg_type": "system"},
    {"msg_type": "image", "text": ""},
    {"msg_type": "sticker", "text": "[动画表情]"},
    {"text": "收到！"},
    {"text": "+1"},
    {"text": "打卡✅"},
    {"text": "[捂脸][捂脸]"},
])
def test_only_member_texts_with_an_opinion_give_signals(fields: dict) -> None:
    values = {"text": "太恶心了，再也不买了", "reply_to": "m0"} | fields
    assert signal_for(chat("m1", 0, **values), 0.0, P) is None


@pytest.mark.parametrize(("text", "score", "negative"), [
    ("太恶心了，再也不买了", 0.01, True),        # score alone
    ("下雨天真烦", 0.09, False),                 # bad mood, not feedback
    ("想退货，请问怎么操作？", 0.3, True),       # a term, not clearly positive
    ("感觉这次的身体乳没有上次好用了", 0.72, True),  # a term, the scorer fooled by 好用
    ("客服小姐姐态度超好，点赞👍", 0.95, False),  # a term, but praise
    ("客服很耐心", 0.82, False),
])
def test_negative_by_score_or_by_term_when_not_clearly_positive(text: str, score: float,
                                                                negative: bool) -> None:
    found = signal_for(chat("m1", 0, text), score, P)
    assert (found is not None and found.negative) == negative


def test_non_negative_replies_and_mentions_still_give_heat_signals() -> None:
    found = signal_for(chat("m1", 0, "具体什么情况", reply_to="m0", mentions=["u7"]), 0.5, P)
    assert found is not None and not found.negative
    assert (found.reply_to, found.mention_refs, found.excerpt, found.fingerprints) == (
        "m0", (member_ref("u7", P),), "", ())


def test_member_refs_are_salted_hashes_not_ids() -> None:
    ref = member_ref("member-0042", P)
    assert ref.startswith("m-") and "0042" not in ref and len(ref) == 14
    assert ref == member_ref("member-0042", P)
    assert ref != member_ref("member-0042", EscalationPolicy(member_salt="other"))
    found = signal_for(chat("m1", 0, "太差了", member="member-0042"), UNSURE, P)
    assert found is not None and found.member_ref == ref


PII = ("我要退款！电话13812345678，身份证110105199003071234，微信号 lily_1234，"
       "卡号6222021234567890123，寄到上海市浦东新区张江路123号5栋1201室 @张三丰 你也说说")
RAW = ("13812345678", "110105199003071234", "lily_1234", "6222021234567890123", "张江路123号",
       "张三丰")


def test_excerpts_mask_personal_data_and_mentions_and_are_cut() -> None:
    found = signal_for(chat("m1", 0, PII), UNSURE, EscalationPolicy(excerpt_chars=300))
    assert found is not None and found.negative
    for raw in RAW:
        assert raw not in found.excerpt
    assert "138****5678" in found.excerpt and "@***" in found.excerpt
    short = excerpt("太差了" * 100, 120)
    assert len(short) == 120 and short.endswith("…")


def test_text_fingerprints_ignore_mentions_punctuation_and_numbers() -> None:
    a = text_fingerprint("@小红 吸奶器用了3天就坏了，太差了！！", P)
    b = text_fingerprint("吸奶器用了5天就坏了 太差了[捂脸]", P)
    assert a is not None and a == b
    assert text_fingerprint("315见！", P) is None
