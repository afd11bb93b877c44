"""The metrics catalogue: every published metric, its definition and where it lands.

One :class:`MetricFamily` per output record family in :data:`METRIC_FAMILIES`
(a later family, e.g. member lifecycle, adds one entry).  The
definitions are the records' field descriptions (``schemas.outputs``); the
ClickHouse columns, the topics and the Prometheus series come from their specs,
so ``pulse catalogue`` (``make catalogue``) renders ``docs/metrics-catalogue.md``
from the code, and a test fails when the committed copy is stale.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from pipeline.egress.clickhouse import tables
from pipeline.egress.clickhouse.tables import TableSpec
from pipeline.egress.prometheus import PrometheusSeries
from pipeline.topics import (
    ACTIVITY_HOUR,
    ACTIVITY_MINUTE,
    CONVERSION_ALERTS,
    FUNNEL_METRICS,
    HEALTH_DAY,
    MEMBER_PROFILES,
    MEMBER_STATUS,
    RETENTION_COHORTS,
    SALES_TOTALS,
    TopicSpec,
)
from schemas.base import Record
from schemas.campaigns import CampaignFunnel, ConversionAlert, SalesTotals
from schemas.members import MemberProfile, MemberStatusChange
from schemas.outputs import CommunityDayHealth, CommunityHourActivity, CommunityMinuteActivity
from schemas.retention import CommunityRetentionCohort

CATALOGUE_PATH = Path(__file__).resolve().parents[2] / "docs" / "metrics-catalogue.md"

BOOKKEEPING: tuple[str, ...] = (
    "schema_version", "community_id", "window_start", "window_end", "day", "timezone",
    "is_final", "revision", "campaign_id", "campaign_name", "registered", "channel", "window",
    "phase", "dimension", "dimension_value", "alert_id", "member_id", "cohort_day",
)
"""Keys and bookkeeping fields: part of every record, but no metric."""

DAY_GAUGES = ("member_count", "dau", "wau", "mau", "stickiness", "interaction_rate",
              "real_interaction_rate", "ugc_share", "slot_share", "interactions_per_member_30d",
              "joins", "leaves", "removals", "messages", "churn_risk_members",
              "win_back_members", "koc_members", "core_members", "participating_members",
              "onlooker_members")
"""Fields of the latest final day exported as ``pulse_community_day{metric=...}``."""

SALES_GAUGES = ("orders", "gmv_fen", "refund_fen", "net_gmv_fen", "paying_members",
                "repeat_members")
"""Cumulative sales fields exported as ``pulse_sales{dimension, value, metric=...}``."""


@dataclass(frozen=True, slots=True)
class Series:
    """A Prometheus series carrying one field of a family's record."""

    field: str
    name: str
    selector: str = ""
    """Fixed label values beside ``community``, e.g. ``metric="dau"``."""

    def render(self) -> str:
        return f"`{self.name}{{{self.selector}}}`" if self.selector else f"`{self.name}`"


@dataclass(frozen=True, slots=True)
class MetricFamily:
    """One output record family: its record, window, table, topic and Prometheus series."""

    name: str
    record: type[Record]
    window: str
    table: TableSpec[Any]
    topic: TopicSpec
    prometheus: tuple[Series, ...] = ()

    def metric_fields(self) -> tuple[str, ...]:
        return tuple(f for f in self.record.model_fields if f not in BOOKKEEPING)

    def bookkeeping_fields(self) -> tuple[str, ...]:
        return tuple(f for f in self.record.model_fields if f in BOOKKEEPING)

    def series_of(self, field: str) -> tuple[Series, ...]:
        return tuple(s for s in self.prometheus if s.field == field)


METRIC_FAMILIES: tuple[MetricFamily, ...] = (
    MetricFamily(
        "minute", CommunityMinuteActivity, "event-time minute (UTC)",
        tables.ACTIVITY_MINUTE, ACTIVITY_MINUTE,
        (Series("messages", "pulse_community_messages_total"),
         Series("messages", "pulse_community_last_minute_messages")),
    ),
    MetricFamily(
        "hour", CommunityHourActivity, "event-time hour (UTC)",
        tables.ACTIVITY_HOUR, ACTIVITY_HOUR,
    ),
    MetricFamily(
        "day", CommunityDayHealth, "local day, Asia/Shanghai by default",
        tables.HEALTH_DAY, HEALTH_DAY,
        tuple(Series(f, "pulse_community_day", f'metric="{f}"') for f in DAY_GAUGES),
    ),
    MetricFamily(
        "member status", MemberStatusChange, "event time of each change",
        tables.MEMBER_STATUS, MEMBER_STATUS,
        (Series("status", "pulse_member_status_changes_total"),),
    ),
    MetricFamily(
        "member profiles", MemberProfile,
        "the 30 local days ending with the community's closed day",
        tables.MEMBER_PROFILES, MEMBER_PROFILES,
    ),
    MetricFamily(
        "retention cohorts", CommunityRetentionCohort,
        "local day of the first join (cohort), judged at the end of days 1, 7 and 30 after it",
        tables.RETENTION_COHORTS, RETENTION_COHORTS,
        tuple(Series(f"retention_d{n}", "pulse_community_retention", f'horizon="d{n}"')
              for n in (1, 7, 30)),
    ),
    MetricFamily(
        "campaign funnel", CampaignFunnel, "event-time hour (UTC), local day, whole campaign",
        tables.CAMPAIGN_FUNNEL, FUNNEL_METRICS,
        (Series("steps", "pulse_campaign_step_persons"),
         Series("steps", "pulse_campaign_conversion")),
    ),
    MetricFamily(
        "conversion alerts", ConversionAlert, "event-time watermark of each judgement",
        tables.CONVERSION_ALERTS, CONVERSION_ALERTS,
        (Series("status", "pulse_campaign_conversion_alerts_total"),),
    ),
    MetricFamily(
        "sales", SalesTotals, "event-time hour (UTC), local day, cumulative",
        tables.SALES_TOTALS, SALES_TOTALS,
        tuple(Series(f, "pulse_sales", f'metric="{f}"') for f in SALES_GAUGES),
    ),
)

NONE = "—"

INTRO = """\
# Metrics catalogue

Generated from the code by `pipeline/egress/catalogue.py`: do not edit this file;
regenerate it with `make catalogue` (`pulse catalogue`).  A test fails when it is
stale.  Each definition is the field's description in its record's module
(`schemas/outputs.py`, `campaigns.py`, `members.py`, `retention.py`); the JSON Schemas of
the records are in `schemas/json/`.  Topic names are logical (the physical name adds
`PULSE_TOPIC_PREFIX`); ClickHouse rows also carry `updated_at` (write time); community
series are labelled by `community` (capped by `PULSE_PROMETHEUS_MAX_COMMUNITIES`, beyond
it `_other`), campaign series by registered campaigns only.
"""


def prometheus_help() -> dict[str, str]:
    """Exposed series name -> help text, from a fresh :class:`PrometheusSeries`."""
    registry = CollectorRegistry()
    PrometheusSeries(registry)
    return {
        metric.name + ("_total" if metric.type == "counter" else ""): metric.documentation
        for metric in registry.collect()
    }


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _json_name(record: type[Record], field: str) -> str:
    info = record.model_fields[field]
    return info.serialization_alias or info.alias or field


def _summary(record: type[Record]) -> str:
    return " ".join(inspect.cleandoc(record.__doc__ or "").split("\n\n")[0].split())


def _days(ms: int) -> str:
    days = ms / (24 * 3600 * 1000)
    return f"{days:g} day" + ("" if days == 1 else "s")


def render_family(family: MetricFamily, helps: dict[str, str]) -> str:
    record, table, topic = family.record, family.table, family.topic
    lines = [
        f"## {family.name}: `{record.__name__}`",
        "",
        _summary(record),
        "",
        f"- Window: {family.window}",
        f"- Record: `{record.__module__}.{record.__name__}`, JSON Schema "
        f"`schemas/json/{record.record_name}.v{record.version}.json`",
        f"- Kafka topic: `{topic.name}`, key `{topic.key}`, "
        f"{'compacted' if topic.compacted else 'not compacted'}, "
        f"retention {_days(topic.retention_ms)}",
        f"- ClickHouse table: `{table.name}`",
        "",
        "| metric | definition | ClickHouse | topic / JSON field | Prometheus |",
        "|---|---|---|---|---|",
    ]
    for field in family.metric_fields():
        info = record.model_fields[field]
        column = f"`{table.name}.{field}`" if field in table.columns else NONE
        series = "<br>".join(s.render() for s in family.series_of(field)) or NONE
        lines.append(
            f"| `{field}` | {_cell(info.description or NONE)} | {column} | "
            f"`{topic.name}` / `{_json_name(record, field)}` | {series} |"
        )
    lines += ["", "Keys and bookkeeping:", ""]
    lines += [f"- `{field}`: {_cell(record.model_fields[field].description or NONE)}"
              for field in family.bookkeeping_fields()]
    names = tuple(dict.fromkeys(s.name for s in family.prometheus))
    if names:
        lines += ["", "Prometheus series:", ""]
        lines += [f"- `{name}`: {_cell(helps.get(name, NONE))}" for name in names]
    return "\n".join(lines) + "\n"


def render_catalogue() -> str:
    """The catalogue as Markdown (deterministic: no timestamps)."""
    helps = prometheus_help()
    return "\n".join([INTRO, *(render_family(family, helps) for family in METRIC_FAMILIES)])


def write_catalogue(path: Path = CATALOGUE_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_catalogue(), encoding="utf-8")
    return path
