"""``make eval`` on held-out real text: the figures it reports, and the floors they keep.

The goals are 60 % recall at 5 % false positives and 80 % of five-member episodes at
moderate; the floors below are what the calibrated default reaches today minus a little
(README, "Negative feedback on real text"), so a change that loses ground fails here.
Seeded draws: the same code gives the same figures.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import feedback_eval


@pytest.fixture(scope="module")
def reviews() -> tuple[list[str], list[str]]:
    return feedback_eval.heldout_reviews()


def test_message_level_on_held_out_reviews(reviews) -> None:
    negative, positive = reviews
    report = feedback_eval.message_level("improved", negative, positive)
    assert report["negative_texts"] > 1500 and report["positive_texts"] > 1500
    assert report["positive_flagged_pct"] <= 5.0
    assert report["negative_recall_pct"] >= 52.0
    assert report["negative_share_precision_pct"] >= 90.0
    assert report["positive_share_precision_pct"] >= 90.0


def test_episodes_of_real_complaints(reviews) -> None:
    tiers = feedback_eval.episodes("improved", reviews[0], draws=100)
    assert tiers[1]["moderate"] + tiers[1]["severe"] <= 2.0  # one member is mild at most
    assert tiers[5]["moderate"] + tiers[5]["severe"] >= 70.0
    assert tiers[8]["none"] + tiers[8]["mild"] <= 10.0
    assert all(abs(sum(row.values()) - 100.0) < 0.5 for row in tiers.values())


def test_ordinary_generated_chat_raises_no_moderate_or_severe_incident() -> None:
    report = feedback_eval.ordinary_chat("improved")
    assert report["member_texts"] > 50_000
    assert report["mild_per_community_day"] <= 1.0
    assert report["moderate_per_community_day"] == report["severe_per_community_day"] == 0


def test_results_merge_keeps_other_entries(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"benchmarks": [{"name": "pipeline_vs_naive_faust"},
                                               {"name": "feedback_old"}]}))
    feedback_eval.merge_into_results([{"name": "feedback_new"}], path)
    names = [e["name"] for e in json.loads(path.read_text())["benchmarks"]]
    assert names == ["pipeline_vs_naive_faust", "feedback_new"]
