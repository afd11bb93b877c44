"""Message signals and the lexicon: what counts, what is shown, what stays hidden."""

from __future__ import annotations

import pytest

from pipeline.compute.escalation import DEFAULT_POLICY as P
from pipeline.compute.escalation import EscalationPolicy, match_terms, signal_for
from pipeline.compute.escalation.signals import excerpt, member_ref, text_fingerprint
from tests.pipeline.compute.escalation.factory import UNSURE, chat


@pytest.mark.parametrize(("text", "complaint", "crisis"), [
    ("客服一直不回复，我要投诉", ("客服", "投诉"), ()),
    ("已经打315投诉了", ("投诉",), ("315",)),
    ("315见！", (), ("315",)),
    ("打12315举报", (), ("12315",)),
    ("电话13815012345，麻烦回电", (), ()),
    ("花了315元买的", (), ()),
    ("被骗子骗了", ("被骗",), ("骗子",)),
    ("我在做新媒体运营", (), ()),
    ("我已经联系媒体了", (), ("媒体",)),
    ("宝宝吃完食物中毒住院了", (), ("食物中毒",)),
])
def test_lexicon_classes_and_guards(text: str, complaint: tuple, crisis: tuple) -> None:
    found = match_terms(text, P)
    assert (found.complaint, found.crisis) == (complaint, crisis)


def test_negative_evidence_comes_from_the_shipped_general_vocabulary() -> None:
    assert match_terms("服务态度极差，很失望", P).negative == ("极差", "失望")
    assert match_terms("质量不错，谢谢群主", P).negative == ()


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
    ("东西收到了，放着再说", P.negative_score / 2, True),  # an extreme score alone
    ("有人用过这款面膜吗", P.negative_score / 2, False),  # ...but never for a question
    ("服务态度极差", UNSURE, True),                       # evidence, and the score agrees
    ("服务态度极差", P.evidence_max_score, False),        # evidence, the score disagrees
    ("下雨天出门", UNSURE, False),                        # no evidence: the score is unsure
    ("想退货，请问怎么操作？", UNSURE, False),            # a process question (complaint term)
    ("退货三次了，质量问题一直没解决", UNSURE, True),     # complaint terms in a statement
    ("为什么服务态度极差？", UNSURE, True),               # a question with evidence of its own
    ("客服小姐姐态度超好，点赞👍", 0.95, False),          # a term, but praise
    ("再这样我就去曝光你们", P.lexicon_max_score - 0.01, True),  # crisis, not clearly positive
    ("群主说的曝光度是什么意思", P.lexicon_max_score, False),
])
def test_negative_needs_evidence_and_a_score_that_agrees(text: str, score: float,
                                                         negative: bool) -> None:
    found = signal_for(chat("m1", 0, text), score, P)
    assert (found is not None and found.negative) == negative


@pytest.mark.parametrize(("text", "score", "supporting"), [
    ("服务态度极差", P.supporting_score - 0.01, True),
    ("服务态度极差", P.supporting_score, False),
    ("下雨天出门", 0.0001, False),  # a low score without evidence never supports
])
def test_supporting_messages_are_probably_negative_with_evidence(text: str, score: float,
                                                                 supporting: bool) -> None:
    if score < P.evidence_max_score:
        score = P.evidence_max_score  # not negative: only supporting is in question
    found = signal_for(chat("m1", 0, text), score, P)
    assert (found is not None and found.supporting) == supporting


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
    found = signal_for(chat("m1", 0, PII), UNSURE, P.model_copy(update={"excerpt_chars": 300}))
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
