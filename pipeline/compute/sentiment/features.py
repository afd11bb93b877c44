"""Text features of the improved sentiment model (shared by training and scoring).

Character n-grams need no word segmentation (the slow part of SnowNLP) and
carry local negation (``不好``, ``不满意``) by themselves; a small hand-written
lexicon with a negation window adds polarity for words, emoji and ``[微笑]``
style stickers that the review corpus never shows.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

BOS = "\x02"
EOS = "\x03"
NEGATION_WINDOW = 3  # a negator this many characters before a lexicon hit flips it
NEGATION_SCOPE = 3  # characters after a negator whose n-grams get SCOPE_MARK
SCOPE_MARK = "\x01"  # prefix of n-grams inside a negation scope; never in normalised text
LEXICON_FEATURES = ("L:pos", "L:neg", "L:pos~", "L:neg~")
_REPEATS = re.compile(r"(.)\1{3,}", re.DOTALL)
_SPACES = re.compile(r"\s+")
_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"@[^\s@:：,，。!！?？]{1,30}")
_STICKER = re.compile(r"\[[^\[\]\s]{1,8}\]")
# Variation selectors, zero-width characters, and control characters that are
# not whitespace (so BOS, EOS and SCOPE_MARK cannot occur in normalised text).
_DROP = dict.fromkeys(
    [*map(ord, "\ufe0f\ufe0e\u200d\u200b\x7f"), *range(0x00, 0x09), *range(0x0E, 0x1C)]
)
_SCOPE_END = frozenset(" ,.!?;:~，。！？；：、…\u3000\n")


def _alternation(entries: Iterable[str]) -> re.Pattern[str]:
    """Regex trying longer entries first: finditer gives leftmost-longest matches."""
    ordered = sorted(set(entries), key=lambda e: (-len(e), e))
    return re.compile("|".join(map(re.escape, ordered)) or r"(?!)")


@dataclass
class Lexicon:
    """Polarity entries, negators and negator look-alikes (e.g. 非常, 不过)."""

    polarity: dict[str, int]
    negators: tuple[str, ...]
    not_negations: tuple[str, ...] = ()
    _entries: re.Pattern[str] = field(init=False, repr=False)
    _cues: re.Pattern[str] = field(init=False, repr=False)
    _negator: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        overlap = set(self.negators) & set(self.not_negations)
        if overlap:
            raise ValueError(f"both negator and not-negation: {sorted(overlap)}")
        self._entries = _alternation(self.polarity)
        self._cues = _alternation(self.negators + self.not_negations)
        self._negator = _alternation(self.negators)

    def matches(self, text: str) -> Iterable[tuple[str, int, bool]]:
        """Yield ``(entry, polarity, negated)`` for non-overlapping longest matches."""
        previous_end = 0
        for m in self._entries.finditer(text):
            start = m.start()
            # A negator already inside an earlier hit (the 不 of 不好) negates nothing.
            window = text[max(previous_end, start - NEGATION_WINDOW) : start]
            negated = bool(window) and self._negator.search(window) is not None
            previous_end = m.end()
            yield m.group(), self.polarity[m.group()], negated

    def negation_scope(self, text: str) -> list[bool] | None:
        """Per character: inside a negation's scope? ``None`` when nothing is negated.

        The scope is the next ``NEGATION_SCOPE`` characters after a negator,
        cut at punctuation; look-alikes such as 非常 or 不过 open no scope.
        """
        scope: list[bool] | None = None
        negators = self.negators
        n = len(text)
        for m in self._cues.finditer(text):
            if m.group() not in negators:
                continue
            if scope is None:
                scope = [False] * n
            for j in range(m.end(), min(n, m.end() + NEGATION_SCOPE)):
                if text[j] in _SCOPE_END:
                    break
                scope[j] = True
        return scope


@dataclass
class Featurizer:
    """Maps a text to sparse features: n-gram names (value 1) plus counted extras."""

    lexicon: Lexicon
    trad_to_simp: dict[int, str]
    max_n: int = 3

    def normalise(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text).lower()
        text = text.translate(self.trad_to_simp).translate(_DROP)
        text = _MENTION.sub("@", _URL.sub(" http ", text))
        text = _REPEATS.sub(r"\1\1\1", text)
        return _SPACES.sub(" ", text).strip()

    def parts(self, text: str) -> tuple[dict[str, None], dict[str, float]]:
        """``(n-grams, extras)`` of a raw text (see ``grams`` and ``extras``)."""
        norm = self.normalise(text)
        return self.grams(norm, self.lexicon.negation_scope(norm)), self.extras(norm)

    def grams(self, norm: str, scope: list[bool] | None) -> dict[str, None]:
        """Distinct 1..max_n-grams of ``BOS + norm + EOS``; scoped ones get SCOPE_MARK.

        An insertion-ordered dict, not a set: set order follows the
        per-process string hash seed, and float sums must not.
        """
        padded = BOS + norm + EOS
        size = len(padded)
        grams: list[str] = []
        if scope is None:
            for n in range(1, self.max_n + 1):
                grams.extend([padded[i : i + n] for i in range(size - n + 1)])
        else:
            marked = [False, *scope, False]
            run = [0] * (size + 1)  # scoped characters starting at i
            for i in range(size - 1, -1, -1):
                run[i] = run[i + 1] + 1 if marked[i] else 0
            for n in range(1, self.max_n + 1):
                grams.extend(
                    [
                        SCOPE_MARK + padded[i : i + n] if run[i] >= n else padded[i : i + n]
                        for i in range(size - n + 1)
                    ]
                )
        return dict.fromkeys(grams)

    def extras(self, norm: str) -> dict[str, float]:
        """Sticker tokens, lexicon polarity counts (plain/negated), empty-text flag."""
        extras: dict[str, float] = {}
        for sticker in _STICKER.findall(norm):
            extras["S:" + sticker] = 1.0
        counts = [0, 0, 0, 0]  # pos, neg, negated pos, negated neg
        for _, polarity, negated in self.lexicon.matches(norm):
            counts[(0 if polarity > 0 else 1) + (2 if negated else 0)] += 1
        for name, count in zip(LEXICON_FEATURES, counts, strict=True):
            if count:
                extras[name] = float(count)
        if not norm:
            extras["EMPTY"] = 1.0
        return extras

    def features(self, text: str) -> dict[str, float]:
        grams, extras = self.parts(text)
        feats = dict.fromkeys(grams, 1.0)
        feats.update(extras)
        return feats


def is_extra(name: str) -> bool:
    """True for lexicon, sticker and empty-text features; False for n-grams."""
    # Normalised text is lower-case, so no n-gram starts with "S:" or "L:".
    return name[:2] in ("S:", "L:") or name == "EMPTY"


def load_lexicon_lines(lines: Iterable[str]) -> Lexicon:
    """Parse ``kind<TAB>entry`` lines (``#`` comments allowed)."""
    polarity: dict[str, int] = {}
    negators: list[str] = []
    not_negations: list[str] = []
    for line in lines:
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        kind, entry = line.split("\t", 1)
        entry = unicodedata.normalize("NFKC", entry).lower().translate(_DROP)
        if kind == "negator":
            negators.append(entry)
        elif kind == "notneg":
            not_negations.append(entry)
        elif kind in ("pos", "neg"):
            polarity[entry] = 1 if kind == "pos" else -1
        else:
            raise ValueError(f"unknown lexicon kind {kind!r}")
    return Lexicon(polarity, tuple(negators), tuple(not_negations))
