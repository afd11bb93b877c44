"""Complaint and crisis terms in a text (one compiled regex per lexicon), plus its negative
evidence (``evidence``: general negative vocabulary).

Complaint and crisis terms are the product's own vocabulary (the tier table in
``policy``), not phrases of our generator.  The terms of both classes go into one
alternation inside a lookahead (longest first), so one ``finditer`` pass finds the
longest term starting at every position, overlapping ones included ("被骗子" holds 被骗 and 骗子).
A few terms are ambiguous in ordinary chat and carry a guard:
"315" counts only as a number of its own (not inside 13815..., 12315 or a
price like 315元; "3·15" too), 媒体 not inside 新媒体/自媒体, 坏了 not in 累坏了, 过敏 not
in 过敏感肌 (讨论过敏感肌).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pipeline.compute.escalation.evidence import EvidenceFinder, default_finder
from pipeline.compute.escalation.policy import EscalationPolicy

_UNITS = "元块号路米斤克个天次人页楼室年月日分秒%"
GUARDS: dict[str, str] = {
    "315": rf"(?<![0-9.０-９])(?:315|3·15)(?![0-9０-９]|\s*[{_UNITS}])",
    "12315": r"(?<![0-9])12315(?![0-9])",
    "媒体": r"(?<![新自多融])媒体",
    "坏了": r"(?<![累饿乐兴笑])坏了",
    "过敏": r"过敏(?!感)",
}
"""Patterns for terms that need context; any other term matches literally."""

COMPLAINT, CRISIS = "complaint", "crisis"


@dataclass(frozen=True, slots=True)
class TermMatch:
    """Distinct terms found, per class, in order of first appearance."""

    complaint: tuple[str, ...] = ()
    crisis: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()
    """Negative evidence (``evidence.EvidenceFinder``): 太差, 不满意, 失望 ..."""

    @property
    def graded(self) -> tuple[str, ...]:
        """Terms that raise the tier (complaint and crisis), as alerts list them."""
        return self.complaint + self.crisis

    @property
    def all(self) -> tuple[str, ...]:
        return self.complaint + self.crisis + self.negative

    def __bool__(self) -> bool:
        return bool(self.complaint or self.crisis or self.negative)


class Lexicon:
    """Term matcher for two term classes; a term listed twice keeps its most severe class."""

    def __init__(self, complaint: tuple[str, ...], crisis: tuple[str, ...]) -> None:
        self.kind: dict[str, str] = {}
        for kind, terms in ((COMPLAINT, complaint), (CRISIS, crisis)):
            for term in terms:
                if term.strip():
                    self.kind[term] = kind
        ordered = sorted(self.kind, key=lambda t: (-len(t), t))
        self._index = {f"t{i}": term for i, term in enumerate(ordered)}
        alternatives = [f"(?P<t{i}>{GUARDS.get(term, re.escape(term))})"
                        for i, term in enumerate(ordered)]
        # The first-character class rejects most positions before the alternation runs.
        firsts = re.escape("".join(sorted({term[0] for term in ordered})))
        self._pattern = re.compile(f"(?=[{firsts}])(?=(?:{'|'.join(alternatives)}))"
                                   if alternatives else r"(?!x)x", re.IGNORECASE)

    def match(self, text: str, negative: tuple[str, ...] = ()) -> TermMatch:
        """Complaint and crisis terms of ``text``, with ``negative`` evidence found apart."""
        found: dict[str, list[str]] = {COMPLAINT: [], CRISIS: []}
        for hit in self._pattern.finditer(text):
            term = self._index[hit.lastgroup or ""]
            bucket = found[self.kind[term]]
            if term not in bucket:
                bucket.append(term)
        return TermMatch(tuple(found[COMPLAINT]), tuple(found[CRISIS]), negative)


@lru_cache(maxsize=8)
def _compiled(complaint: tuple[str, ...], crisis: tuple[str, ...]) -> Lexicon:
    return Lexicon(complaint, crisis)


def lexicon_for(policy: EscalationPolicy) -> Lexicon:
    """The policy's lexicon, compiled once per distinct set of terms."""
    return _compiled(policy.complaint_terms, policy.crisis_terms)


def match_terms(text: str, policy: EscalationPolicy,
                finder: EvidenceFinder | None = None) -> TermMatch:
    """Complaint and crisis terms of the policy and negative evidence (shipped word lists
    unless ``finder`` is given)."""
    return lexicon_for(policy).match(text, (finder or default_finder()).find(text))
