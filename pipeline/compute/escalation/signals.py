"""Per-message signals: is a chat message negative feedback, and whom does it answer?

Only members give feedback: staff, bot and system messages, media and
mechanical replies (``pipeline.compute.interaction``: 收到, +1, 好的, 打卡, stickers)
yield no signal.  A member text is negative when it says something negative and its
score agrees, when its score alone is extreme, or when it names a crisis and is not
clearly positive (:func:`is_negative_feedback`, ``policy``, ``evidence``).  A signal
carries what alerts may show (a masked, shortened excerpt and a salted hash of
the member id) and never the member id or the raw text, so nothing personal
leaves this module.  Copy-paste is not mechanical here: repeating someone's
complaint is agreeing with it, and it counts towards the cluster.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from pipeline.compute.display import visible
from pipeline.compute.escalation.evidence import is_question
from pipeline.compute.escalation.lexicon import TermMatch, match_terms
from pipeline.compute.escalation.policy import EscalationPolicy
from pipeline.compute.interaction import MENTION as _MENTION
from pipeline.compute.interaction import NOT_WORD as _NOT_WORD
from pipeline.compute.interaction import STICKER as _STICKER
from pipeline.compute.interaction import URL as _URL
from pipeline.compute.interaction import is_mechanical
from pipeline.compute.privacy import mask_pii
from schemas.events import ChatMessage

_DIGITS = re.compile(r"\d+")
MIN_FINGERPRINT_CHARS = 8
"""Texts shorter than this (normalised) are too generic to fingerprint ("315见")."""


@dataclass(frozen=True, slots=True)
class MessageSignal:
    """What escalation needs from one member message; no member id, no raw text."""

    message_id: str
    community_id: str
    ts: datetime
    member_ref: str
    score: float
    negative: bool
    terms: TermMatch
    excerpt: str
    """Masked and shortened text; empty unless the message is negative."""
    fingerprints: tuple[str, ...]
    """Spread keys of a negative message: its graded terms and its normalised text."""
    reply_to: str | None
    mention_refs: tuple[str, ...]
    """Member references of the members it @-mentions."""
    supporting: bool = False
    """Not negative, but probably so (:func:`is_supporting`): counts towards the cluster
    rule of an incident others opened, never opens one."""

    @property
    def ts_ms(self) -> int:
        return to_ms(self.ts)


def to_ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def member_ref(member_id: str, policy: EscalationPolicy) -> str:
    """Short salted hash: tells members apart within alerts without naming them."""
    key = policy.member_salt.encode()[:64]
    return "m-" + hashlib.blake2b(member_id.encode(), key=key, digest_size=6).hexdigest()


def excerpt(text: str, limit: int) -> str:
    """Personal data and @names masked, whitespace collapsed, cut to ``limit`` characters."""
    masked = _MENTION.sub("@***", mask_pii(visible(text)))
    masked = " ".join(masked.split())
    if len(masked) > limit:
        masked = masked[: limit - 1] + "…"
    return masked


def text_fingerprint(text: str, policy: EscalationPolicy) -> str | None:
    """Key of a text up to @names, links, stickers, punctuation and numbers (salted hash)."""
    core = _STICKER.sub("", _URL.sub("", _MENTION.sub("", text)))
    core = _DIGITS.sub("0", _NOT_WORD.sub("", unicodedata.normalize("NFKC", core))).lower()
    if len(core) < MIN_FINGERPRINT_CHARS:
        return None
    key = policy.member_salt.encode()[:64]
    return "text:" + hashlib.blake2b(core.encode(), key=key, digest_size=8).hexdigest()


def is_negative_feedback(text: str, score: float, terms: TermMatch,
                         policy: EscalationPolicy) -> bool:
    """The decision, in the order of the policy's table.

    A crisis term counts unless the message is clearly positive.  Negative evidence (or,
    except in a question, a complaint term) counts when the score agrees.  The score alone
    counts only when extreme, and never for a question: a review-trained scorer reads
    questions as negative ("怎么退款？" asks about a process).
    """
    if terms.crisis and score < policy.lexicon_max_score:
        return True
    question = is_question(text)
    evidence = terms.negative if question else terms.negative + terms.complaint
    if evidence and score < policy.evidence_max_score:
        return True
    return not question and score < policy.negative_score


def is_supporting(score: float, terms: TermMatch, policy: EscalationPolicy) -> bool:
    """Probably negative: negative evidence (or a complaint term) with a score below
    ``supporting_score``.

    Looser than the decision (calibrated so that 15 % of positive reviews are negative
    or supporting, against 5 % negative): alone such a message is no feedback, but
    members saying something negative in other words next to a clear complaint are a
    cluster of unhappy members.  The score alone never makes a message supporting: in a
    busy group there is always some low-scoring small talk next to a complaint.
    """
    return bool(terms.negative or terms.complaint) and score < policy.supporting_score


def scorable(message: ChatMessage) -> bool:
    """Whether the message can give a signal: only these need a sentiment score."""
    return (message.sender_role == "member" and message.msg_type == "text"
            and bool(message.text) and not is_mechanical(message.text))


def signal_for(message: ChatMessage, score: float,
               policy: EscalationPolicy) -> MessageSignal | None:
    """The message's signal, or None when it can neither be negative nor add heat."""
    if not scorable(message):
        return None
    return _signal(message, score, policy, None)


def _signal(message: ChatMessage, score: float, policy: EscalationPolicy,
            terms: TermMatch | None) -> MessageSignal | None:
    """:func:`signal_for` of a message known to be scorable; ``terms``: its lexicon
    matches, when the caller has them already."""
    score = 0.5 if math.isnan(score) else min(1.0, max(0.0, score))
    if terms is None:
        terms = match_terms(message.text, policy)
    negative = is_negative_feedback(message.text, score, terms, policy)
    supporting = not negative and is_supporting(score, terms, policy)
    if not (negative or supporting) and message.reply_to is None and not message.mentions:
        return None
    fingerprints: tuple[str, ...] = ()
    if negative:
        shingle = text_fingerprint(message.text, policy)
        fingerprints = tuple(f"term:{t}" for t in terms.graded) + ((shingle,) if shingle else ())
    mentions = tuple(dict.fromkeys(member_ref(m, policy) for m in message.mentions))
    return MessageSignal(
        message_id=message.message_id,
        community_id=message.community_id,
        ts=message.ts,
        member_ref=member_ref(message.member_id, policy),
        score=round(score, 4),
        negative=negative,
        terms=terms if negative else TermMatch(),
        excerpt=excerpt(message.text, policy.excerpt_chars) if negative else "",
        fingerprints=fingerprints,
        reply_to=message.reply_to,
        mention_refs=mentions,
        supporting=supporting,
    )


def signals_for(messages: Iterable[ChatMessage], scores: Mapping[str, float],
                policy: EscalationPolicy,
                terms: Mapping[str, TermMatch] | None = None) -> list[MessageSignal]:
    """Signals of a batch.

    ``scores`` maps the id of every scorable message (:func:`scorable`, checked by
    whoever scored it) to P(positive); ``terms`` (optional) ids to lexicon matches.
    """
    terms = terms or {}
    out = []
    for message in messages:
        score = scores.get(message.message_id)
        signal = None if score is None else _signal(
            message, score, policy, terms.get(message.message_id))
        if signal is not None:
            out.append(signal)
    return out
