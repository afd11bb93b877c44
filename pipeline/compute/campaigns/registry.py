"""The campaign registry: which steps a campaign's funnel has, its targets and its calendar.

A campaign that is not in the registry is still counted, with a copy of the
default template (``registered=False``), so events are never dropped for want of
configuration; only registered campaigns get their own Prometheus label values
(:meth:`Registry.labels`), which keeps label cardinality bounded.

File format (TOML, read with the standard library's ``tomllib``)::

    [defaults]               # optional: overrides of the template every campaign starts from
    threshold = 0.85         # target conversion of every transition
    min_entered = 50         # smallest matured cohort that is judged
    confidence_z = 1.96      # z of the Wilson bound an alert needs
    implies_earlier = true   # reaching a later step implies the earlier ones
    warmup_days = 7
    continuation_days = 3
    participation_step = "activity_entry"   # reaching it is taking part (attribution)
    steps = ["poster_click", "signup", "activity_entry"]

    [[campaign]]
    id = "cmp-tea-01"        # required, unique, no "|"
    name = "Spring tea tasting"
    peak_day = 2025-05-03    # local date of the live session (a TOML date)
    steps = [
        "poster_click",
        "signup",
        {name = "activity_entry", threshold = 0.7, settle_minutes = 120},
    ]
    implies_earlier = true   # any key of [defaults] may be set per campaign

``steps`` holds step names or tables ``{name, threshold, settle_minutes}``, in
funnel order; without it a campaign has the six default steps
(``schemas.events.FUNNEL_STEPS``).  Any other key is an error: a worker must
refuse to start on a registry it does not understand rather than guess
(:func:`load_registry` raises ``ValueError`` naming the file and the problem).
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.events import FUNNEL_STEPS

MINUTE_MS = 60_000

DEFAULT_SETTLE_MINUTES: dict[str, int] = {
    "poster_click": 0,
    "signup_page": 60,
    "signup": 60,
    "reminder": 60,
    "activity_entry": 180,
    "follow_up": 1440,
}
"""Minutes after entering the previous step before a person who has not reached this step
counts as not converted.  A click, a page view and a signup follow each other within
minutes, so an hour is generous.  Reminders go out in one batch shortly before the live
session, an hour covers sending it.  People enter the activity when the live session
starts, up to a few hours after their reminder.  Follow-ups are made hours after the
session, sometimes the next day, hence a day.  The first step has no previous one."""

CUSTOM_SETTLE_MINUTES = 60
"""Settling time of a step that is neither a default step nor given ``settle_minutes``."""

_TEMPLATE_ID = "*"
_DEFAULT_KEYS = frozenset({
    "threshold", "min_entered", "confidence_z", "implies_earlier", "warmup_days",
    "continuation_days", "steps", "participation_step",
})
"""Keys of the ``[defaults]`` table; a ``[[campaign]]`` table also takes id, name, peak_day."""
_CAMPAIGN_KEYS = _DEFAULT_KEYS | {"id", "name", "peak_day"}

Phase = str
"""One of "warm_up", "peak", "continuation", "outside" or "unphased"."""


class StepRule(BaseModel):
    """One funnel step; ``None`` fields fall back to the campaign's or the step's default."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: str = Field(min_length=1)
    threshold: float | None = Field(None, gt=0, le=1)
    settle_minutes: int | None = Field(None, ge=0)


def _default_steps() -> tuple[StepRule, ...]:
    return tuple(StepRule(name=step) for step in FUNNEL_STEPS)


class CampaignSpec(BaseModel):
    """One campaign: its ordered steps, conversion targets and calendar."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    campaign_id: str = Field(min_length=1)
    name: str = ""
    steps: tuple[StepRule, ...] = Field(default_factory=_default_steps)
    threshold: float = Field(0.85, gt=0, le=1)
    min_entered: int = Field(50, ge=1)
    confidence_z: float = Field(1.96, ge=0)
    implies_earlier: bool = True
    peak_day: date | None = None
    warmup_days: int = Field(7, ge=0)
    continuation_days: int = Field(3, ge=0)
    participation_step: str = "activity_entry"
    """Reaching it is taking part in the campaign (attribution's participants); a campaign
    without such a step has no participants."""
    registered: bool = True

    @field_validator("steps", mode="before")
    @classmethod
    def _steps_from_names(cls, value: Any) -> Any:
        """Accept a list and bare step names (the TOML form) as well as rules."""
        if isinstance(value, list | tuple):
            return tuple({"name": item} if isinstance(item, str) else item for item in value)
        return value

    @field_validator("peak_day", mode="before")
    @classmethod
    def _date_from_iso(cls, value: Any) -> Any:
        return date.fromisoformat(value) if isinstance(value, str) else value

    @field_validator("confidence_z")
    @classmethod
    def _finite_z(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("confidence_z must be finite")
        return value

    @model_validator(mode="after")
    def _check(self) -> CampaignSpec:
        if "|" in self.campaign_id:
            raise ValueError("campaign_id must not contain '|' (the person key separator)")
        if len(self.steps) < 2:
            raise ValueError("a funnel needs at least 2 steps")
        names = [rule.name for rule in self.steps]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(f"duplicate step names: {', '.join(duplicated)}")
        return self

    def step_names(self) -> tuple[str, ...]:
        return tuple(rule.name for rule in self.steps)

    def rule(self, step: str) -> StepRule:
        for rule in self.steps:
            if rule.name == step:
                return rule
        raise KeyError(f"campaign {self.campaign_id} has no step {step!r}")

    def threshold_of(self, step: str) -> float:
        """The step's own target conversion (from the previous step), or the campaign's."""
        own = self.rule(step).threshold
        return self.threshold if own is None else own

    def settle_ms_of(self, step: str) -> int:
        """How long after entering the previous step a person who has not reached ``step``
        counts as not converted: the rule's ``settle_minutes``, else the default step's
        (:data:`DEFAULT_SETTLE_MINUTES`), else :data:`CUSTOM_SETTLE_MINUTES`."""
        minutes = self.rule(step).settle_minutes
        if minutes is None:
            minutes = DEFAULT_SETTLE_MINUTES.get(step, CUSTOM_SETTLE_MINUTES)
        return minutes * MINUTE_MS

    def participation(self) -> str | None:
        """The participation step if the campaign has it."""
        return self.participation_step if self.participation_step in self.step_names() \
            else None

    def transitions(self) -> list[tuple[str, str]]:
        return list(pairwise(self.step_names()))

    def phase_of_day(self, local_date: date) -> Phase:
        """Where a local day lies in the campaign's arc around its peak (live) day."""
        if self.peak_day is None:
            return "unphased"
        offset = (local_date - self.peak_day).days
        if offset == 0:
            return "peak"
        if -self.warmup_days <= offset < 0:
            return "warm_up"
        if 0 < offset <= self.continuation_days:
            return "continuation"
        return "outside"


MAX_CACHED_UNREGISTERED = 10_000


@dataclass(slots=True)
class Registry:
    """Registered campaigns and the template that unregistered ones are counted with."""

    campaigns: dict[str, CampaignSpec] = field(default_factory=dict)
    default: CampaignSpec = field(default_factory=lambda: CampaignSpec(
        campaign_id=_TEMPLATE_ID, registered=False))
    _derived: dict[str, CampaignSpec] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def spec(self, campaign_id: str) -> CampaignSpec:
        """The registered spec, or (cached) the template under this id, ``registered=False``."""
        registered = self.campaigns.get(campaign_id)
        if registered is not None:
            return registered
        derived = self._derived.get(campaign_id)
        if derived is None:
            derived = self.default.model_copy(
                update={"campaign_id": campaign_id, "registered": False})
            if len(self._derived) < MAX_CACHED_UNREGISTERED:  # ids come from input
                self._derived[campaign_id] = derived
        return derived

    def step_problem(self, campaign_id: str, step: str) -> str | None:
        """Why ``step`` cannot count for ``campaign_id`` (not one of its steps), or None:
        the dead-letter detail of an ``unknown_step`` rejection."""
        spec = self.spec(campaign_id)
        if step in spec.step_names():
            return None
        where = "registry" if spec.registered else \
            "default funnel: the campaign is not in the registry"
        return f"step {step!r} is not a step of campaign {campaign_id} ({where})"

    def labels(self) -> list[str]:
        """Registered campaign ids: the only values a campaign label may take."""
        return sorted(self.campaigns)


def load_registry(path: Path | None) -> Registry:
    """Read a registry file; no path or no file is an empty registry with the built-in
    template.  A malformed file raises ``ValueError`` naming the file and the problem."""
    if path is None or not path.exists():
        return Registry()
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise ValueError(f"campaign registry {path}: {exc}") from exc
    try:
        return _registry_of(data)
    except ValueError as exc:
        raise ValueError(f"campaign registry {path}: {exc}") from exc


def _registry_of(data: dict[str, Any]) -> Registry:
    unknown = sorted(set(data) - {"defaults", "campaign"})
    if unknown:
        raise ValueError(f"unknown top-level keys: {', '.join(unknown)}")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ValueError("[defaults] must be a table")
    _reject_unknown("[defaults]", defaults, _DEFAULT_KEYS)
    template = _validated("[defaults]", {
        **defaults, "campaign_id": _TEMPLATE_ID, "registered": False})
    base = template.model_dump(exclude={"campaign_id", "name", "registered", "peak_day"})

    entries = data.get("campaign", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValueError("campaigns must be [[campaign]] tables")
    campaigns: dict[str, CampaignSpec] = {}
    for index, entry in enumerate(entries, start=1):
        where = f"campaign #{index}"
        campaign_id = entry.get("id")
        if not isinstance(campaign_id, str) or not campaign_id:
            raise ValueError(f"{where}: 'id' (a non-empty string) is required")
        where = f"campaign {campaign_id!r}"
        _reject_unknown(where, entry, _CAMPAIGN_KEYS)
        if campaign_id in campaigns:
            raise ValueError(f"{where}: defined twice")
        fields = {key: value for key, value in entry.items() if key != "id"}
        campaigns[campaign_id] = _validated(where, {**base, **fields, "campaign_id": campaign_id})
    return Registry(campaigns=campaigns, default=template)


def _reject_unknown(where: str, table: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown keys: {', '.join(unknown)}")


def _validated(where: str, fields: dict[str, Any]) -> CampaignSpec:
    try:
        return CampaignSpec.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(_problem(error) for error in exc.errors())
        raise ValueError(f"{where}: {problems}") from None


def _problem(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]


def dump_registry(specs: list[CampaignSpec]) -> str:
    """A registry file (the format :func:`load_registry` reads) holding ``specs``, written
    by hand so that a generator needs no TOML writer.  Every field is written, so the
    file means the same whatever built-in defaults a later version has."""
    blocks = []
    for spec in specs:
        lines = ["[[campaign]]", f"id = {_toml_string(spec.campaign_id)}"]
        if spec.name:
            lines.append(f"name = {_toml_string(spec.name)}")
        if spec.peak_day is not None:
            lines.append(f"peak_day = {spec.peak_day.isoformat()}")
        lines += [
            f"threshold = {_toml_float(spec.threshold)}",
            f"min_entered = {spec.min_entered}",
            f"confidence_z = {_toml_float(spec.confidence_z)}",
            f"implies_earlier = {'true' if spec.implies_earlier else 'false'}",
            f"warmup_days = {spec.warmup_days}",
            f"continuation_days = {spec.continuation_days}",
            f"participation_step = {_toml_string(spec.participation_step)}",
            f"steps = [{', '.join(_toml_step(rule) for rule in spec.steps)}]",
        ]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, except that TOML also wants DEL
    escaped (non-ASCII text is written as is, TOML files are UTF-8)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_float(value: float) -> str:
    return repr(float(value))


def _toml_step(rule: StepRule) -> str:
    if rule.threshold is None and rule.settle_minutes is None:
        return _toml_string(rule.name)
    parts = [f"name = {_toml_string(rule.name)}"]
    if rule.threshold is not None:
        parts.append(f"threshold = {_toml_float(rule.threshold)}")
    if rule.settle_minutes is not None:
        parts.append(f"settle_minutes = {rule.settle_minutes}")
    return "{" + ", ".join(parts) + "}"
