"""The campaign registry: TOML loading, validation, round-trip, phases, the default template."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from pipeline.compute.campaigns.registry import (
    DEFAULT_SETTLE_MINUTES,
    CampaignSpec,
    Registry,
    StepRule,
    dump_registry,
    load_registry,
)
from schemas.events import FUNNEL_STEPS

EXAMPLE = """
[defaults]
threshold = 0.8
min_entered = 50

[[campaign]]
id = "cmp-tea-01"
name = "Spring tea tasting"
peak_day = 2025-05-03
steps = [
    "poster_click",
    "signup",
    {name = "activity_entry", threshold = 0.7, settle_minutes = 120},
    "quiz",
]
implies_earlier = false

[[campaign]]
id = "cmp-book-02"
threshold = 0.9
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "campaigns.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_is_an_empty_registry_with_the_builtin_template(tmp_path: Path) -> None:
    for registry in (load_registry(None), load_registry(tmp_path / "absent.toml")):
        assert registry.campaigns == {} and registry.labels() == []
        spec = registry.spec("cmp-x")
        assert spec.campaign_id == "cmp-x" and not spec.registered
        assert spec.step_names() == FUNNEL_STEPS
        assert (spec.threshold, spec.min_entered, spec.confidence_z) == (0.85, 50, 1.96)
        assert spec.implies_earlier and spec.peak_day is None


def test_example_file(tmp_path: Path) -> None:
    registry = load_registry(write(tmp_path, EXAMPLE))
    assert registry.labels() == ["cmp-book-02", "cmp-tea-01"]

    tea = registry.spec("cmp-tea-01")
    assert tea.registered and tea.name == "Spring tea tasting"
    assert tea.peak_day == date(2025, 5, 3) and not tea.implies_earlier
    assert tea.step_names() == ("poster_click", "signup", "activity_entry", "quiz")
    assert tea.transitions() == [
        ("poster_click", "signup"), ("signup", "activity_entry"), ("activity_entry", "quiz")]
    assert tea.threshold == 0.8 and tea.min_entered == 50  # from [defaults]
    assert tea.threshold_of("signup") == 0.8 and tea.threshold_of("activity_entry") == 0.7
    assert tea.settle_ms_of("signup") == 60 * 60_000  # a default step's own
    assert tea.settle_ms_of("activity_entry") == 120 * 60_000  # the rule's
    assert tea.settle_ms_of("quiz") == 60 * 60_000  # a custom step's
    with pytest.raises(KeyError):
        tea.threshold_of("reminder")

    book = registry.spec("cmp-book-02")
    assert book.threshold == 0.9 and book.min_entered == 50
    assert book.step_names() == FUNNEL_STEPS

    unknown = registry.spec("cmp-unknown")
    assert not unknown.registered and unknown.threshold == 0.8 and unknown.min_entered == 50
    assert registry.spec("cmp-unknown") is unknown  # cached
    assert registry.default.campaign_id == "*" and registry.spec("cmp-tea-01") is tea


def test_default_settle_times() -> None:
    spec = CampaignSpec(campaign_id="c")
    assert [spec.settle_ms_of(step) // 60_000 for step in FUNNEL_STEPS] == [
        0, 60, 60, 60, 180, 1440]
    assert set(DEFAULT_SETTLE_MINUTES) == set(FUNNEL_STEPS)


def test_defaults_can_set_steps_for_every_campaign(tmp_path: Path) -> None:
    registry = load_registry(write(tmp_path, """
[defaults]
steps = ["poster_click", "signup"]
[[campaign]]
id = "a"
"""))
    assert registry.spec("a").step_names() == ("poster_click", "signup")
    assert registry.spec("b").step_names() == ("poster_click", "signup")


@pytest.mark.parametrize(("text", "problem"), [
    ("[[campaign]\nid = 'a'", "campaigns.toml"),  # not TOML
    ("colour = 'red'", "unknown top-level keys: colour"),
    ("[defaults]\npeak_day = 2025-01-01", "[defaults]: unknown keys: peak_day"),
    ("[[campaign]]\nname = 'x'", "'id' (a non-empty string) is required"),
    ("[[campaign]]\nid = 7", "'id' (a non-empty string) is required"),
    ("[[campaign]]\nid = 'a'\nthreshhold = 0.9", "campaign 'a': unknown keys: threshhold"),
    ("[[campaign]]\nid = 'a'\n[[campaign]]\nid = 'a'", "campaign 'a': defined twice"),
    ("[[campaign]]\nid = 'a'\nsteps = ['signup']", "at least 2 steps"),
    ("[[campaign]]\nid = 'a'\nsteps = ['signup', 'reminder', 'signup']",
     "duplicate step names: signup"),
    ("[[campaign]]\nid = 'a'\nthreshold = 0", "threshold"),
    ("[[campaign]]\nid = 'a'\nthreshold = 1.5", "threshold"),
    ("[[campaign]]\nid = 'a'\nsteps = ['a', {name = 'b', threshold = 0.0}]", "steps.1.threshold"),
    ("[[campaign]]\nid = 'a'\nsteps = ['a', {name = 'b', settle_minutes = -5}]",
     "settle_minutes"),
    ("[[campaign]]\nid = 'a'\nsteps = ['a', {name = 'b', colour = 1}]", "colour"),
    ("[[campaign]]\nid = 'a'\nsteps = ['a', 3]", "steps.1"),
    ("[[campaign]]\nid = 'a'\nmin_entered = 0", "min_entered"),
    ("[[campaign]]\nid = 'a'\nmin_entered = 30.5", "min_entered"),
    ("[[campaign]]\nid = 'a'\nimplies_earlier = 'yes'", "implies_earlier"),
    ("[[campaign]]\nid = 'a'\npeak_day = 'May 3rd'", "peak_day"),
    ("[[campaign]]\nid = 'a|b'", "must not contain '|'"),
    ("[defaults]\nthreshold = 2.0", "[defaults]: threshold"),
    ("campaign = 3", "[[campaign]] tables"),
])
def test_malformed_registry_is_refused(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ValueError) as caught:
        load_registry(path)
    assert str(path) in str(caught.value) and problem in str(caught.value)


def test_dump_round_trips(tmp_path: Path) -> None:
    specs = [
        CampaignSpec(campaign_id="cmp-1"),
        CampaignSpec(
            campaign_id="cmp-\u8336-2", name='He said "hi"\\\n\t\x7f\x01 \u2615 \U0001f375',
            steps=(StepRule(name="poster_click"), StepRule(name="sign up", threshold=0.6),
                   StepRule(name="entry", settle_minutes=0),
                   StepRule(name="x\"y", threshold=1.0, settle_minutes=30)),
            threshold=0.7, min_entered=1, confidence_z=2.576, implies_earlier=False,
            peak_day=date(2024, 2, 29), warmup_days=0, continuation_days=10),
        CampaignSpec(campaign_id="cmp-3", threshold=1, confidence_z=0, peak_day=date(2026, 1, 1)),
    ]
    text = dump_registry(specs)
    registry = load_registry(write(tmp_path, text))
    assert list(registry.campaigns.values()) == specs
    assert dump_registry(list(registry.campaigns.values())) == text
    assert load_registry(write(tmp_path, dump_registry([]))).campaigns == {}


def test_phase_of_day() -> None:
    peak = date(2025, 5, 3)
    spec = CampaignSpec(campaign_id="c", peak_day=peak, warmup_days=7, continuation_days=3)
    phases = {offset: spec.phase_of_day(peak + timedelta(days=offset)) for offset in range(-9, 6)}
    assert phases == {
        -9: "outside", -8: "outside", **{d: "warm_up" for d in range(-7, 0)}, 0: "peak",
        1: "continuation", 2: "continuation", 3: "continuation", 4: "outside", 5: "outside"}
    assert CampaignSpec(campaign_id="c").phase_of_day(peak) == "unphased"
    no_arc = CampaignSpec(campaign_id="c", peak_day=peak, warmup_days=0, continuation_days=0)
    assert [no_arc.phase_of_day(peak + timedelta(days=d)) for d in (-1, 0, 1)] == [
        "outside", "peak", "outside"]


def test_models_are_validated_when_built_in_code() -> None:
    with pytest.raises(ValueError):
        CampaignSpec(campaign_id="c", steps=(StepRule(name="only"),))
    with pytest.raises(ValueError):
        CampaignSpec(campaign_id="")
    with pytest.raises(ValueError):
        CampaignSpec(campaign_id="c", colour="red")  # type: ignore[call-arg]
    spec = CampaignSpec(campaign_id="c", steps=("a", "b"))  # type: ignore[arg-type]
    assert spec.steps == (StepRule(name="a"), StepRule(name="b"))
    assert Registry().spec("z").campaign_id == "z"
