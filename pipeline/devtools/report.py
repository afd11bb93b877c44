"""Read results back from ClickHouse: what the demo prints and tests compare.

All reads use FINAL: ReplacingMergeTree folds duplicates and superseded
window revisions only at merge time, FINAL applies it at query time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from clickhouse_connect.driver.client import Client

from schemas.alerts import Alert

RAW_TABLES = ("chat_messages", "member_events", "transactions", "funnel_events")


@dataclass
class PipelineReport:
    raw_rows: dict[str, int] = field(default_factory=dict)
    community_messages: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    """community -> (messages, windows, final windows)"""
    dead_letters: dict[str, int] = field(default_factory=dict)
    minute_counts: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    """(community, window start epoch s) -> (messages, speakers)"""
    sentiment: dict[str, tuple[int, float, float]] = field(default_factory=dict)
    """community -> (scored member messages, positive share, negative share)"""
    incidents: list[Alert] = field(default_factory=list)
    """Latest revision of every incident, oldest first."""


def _epoch(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def read_report(client: Client, database: str = "pulse") -> PipelineReport:
    report = PipelineReport()
    for table in RAW_TABLES:
        report.raw_rows[table] = int(
            client.query(f"SELECT count() FROM {database}.{table} FINAL").result_rows[0][0]
        )
    rows = client.query(
        f"SELECT community_id, window_start, messages, speakers, is_final "
        f"FROM {database}.community_activity_minute FINAL"
    ).result_rows
    totals: dict[str, list[int]] = {}
    for community, start, messages, speakers, is_final in rows:
        report.minute_counts[(community, _epoch(start))] = (messages, speakers)
        entry = totals.setdefault(community, [0, 0, 0])
        entry[0] += messages
        entry[1] += 1
        entry[2] += int(is_final)
    report.community_messages = {k: (v[0], v[1], v[2]) for k, v in sorted(totals.items())}
    sentiment_rows = client.query(
        f"SELECT community_id, count(), countIf(polarity = 'positive') / count(), "
        f"countIf(polarity = 'negative') / count() FROM {database}.message_sentiment FINAL "
        f"WHERE sender_role = 'member' GROUP BY community_id ORDER BY community_id"
    ).result_rows
    report.sentiment = {c: (int(n), float(p), float(q)) for c, n, p, q in sentiment_rows}
    report.incidents = [
        Alert.model_validate_json(record)
        for (record,) in client.query(
            f"SELECT argMax(record, revision) FROM {database}.sentiment_alerts "
            f"GROUP BY incident_id ORDER BY min(opened_at), incident_id"
        ).result_rows
    ]
    report.dead_letters = dict(
        client.query(
            f"SELECT reason, count() FROM {database}.dead_letters FINAL GROUP BY reason "
            f"ORDER BY reason"
        ).result_rows
    )
    return report


def truth_minute_counts(truth) -> dict[tuple[str, int], tuple[int, int]]:
    """The generator's ground truth keyed like :attr:`PipelineReport.minute_counts`."""
    return {
        (community, _epoch(datetime.fromisoformat(minute))): counts
        for (community, minute), counts in truth.minute_counts().items()
    }


def compare_minutes(
    actual: dict[tuple[str, int], tuple[int, int]],
    expected: dict[tuple[str, int], tuple[int, int]],
) -> list[str]:
    """Human-readable differences; empty when every window is exact."""
    problems = []
    for key in sorted(set(actual) | set(expected)):
        if actual.get(key) != expected.get(key):
            community, start = key
            when = datetime.fromtimestamp(start, UTC).isoformat()
            problems.append(
                f"{community} {when}: pipeline {actual.get(key)} != truth {expected.get(key)}"
            )
    return problems


DAY_TARGETS: dict[str, float] = {
    "stickiness": 0.4,
    "interaction_rate": 0.15,
    "real_interaction_rate": 0.15,
    "ugc_share": 0.6,
    "interactions_per_member_30d": 8.0,
}
"""Lower bounds of the day metrics (docs/metrics.md, docs/metrics-catalogue.md)."""


@dataclass(frozen=True)
class DayHealthRow:
    """One community's reported day of ``community_health_day`` (its FINAL row)."""

    community_id: str
    day: date
    is_final: bool
    """False only when the community has no final day yet (the latest open day instead)."""
    member_count: int
    member_count_anchor: str
    """'snapshot' or 'relative' (docs/metrics.md, member count)."""
    dau: int
    wau: int
    mau: int
    stickiness: float | None
    interaction_rate: float | None
    real_interaction_rate: float | None
    ugc_share: float | None
    slot_share: float | None
    interactions_per_member_30d: float | None
    joins: int
    leaves: int
    removals: int
    hot_words: tuple[tuple[str, int], ...]
    """(word, count), most frequent first, ties by word."""
    revision: int

    def misses(self) -> set[str]:
        """The metrics of :data:`DAY_TARGETS` below their target (an absent value misses none)."""
        return {name for name, target in DAY_TARGETS.items()
                if (value := getattr(self, name)) is not None and value < target}


_DAY_COLUMNS = (
    "community_id", "day", "is_final", "member_count", "member_count_anchor", "dau", "wau",
    "mau", "stickiness", "interaction_rate", "real_interaction_rate", "ugc_share", "slot_share",
    "interactions_per_member_30d", "joins", "leaves", "removals", "hot_words", "revision",
)


def _hot_word(entry) -> tuple[str, int]:
    """A named tuple element comes back as a dict from clickhouse-connect, else as a tuple."""
    if isinstance(entry, Mapping):
        return str(entry["word"]), int(entry["count"])
    word, count = entry
    return str(word), int(count)


def _optional(value) -> float | None:
    return None if value is None else float(value)


def read_day_health(client: Client, database: str = "pulse") -> list[DayHealthRow]:
    """Each community's most recent final day, or its latest day while none is final.

    FINAL everywhere: the day chosen and its values are those of each day's highest
    revision, so a superseded open revision of a now final day is never reported.
    """
    table = f"{database}.community_health_day"
    rows = client.query(
        f"SELECT {', '.join(_DAY_COLUMNS)} FROM {table} FINAL "
        f"WHERE (community_id, day) IN ("
        f"SELECT community_id, if(countIf(is_final = 1) > 0, maxIf(day, is_final = 1), max(day)) "
        f"FROM {table} FINAL GROUP BY community_id) "
        f"ORDER BY community_id"
    ).result_rows
    result = []
    for row in rows:
        values = dict(zip(_DAY_COLUMNS, row, strict=True))
        result.append(DayHealthRow(
            community_id=str(values["community_id"]),
            day=values["day"],
            is_final=bool(values["is_final"]),
            member_count=int(values["member_count"]),
            member_count_anchor=str(values["member_count_anchor"]),
            dau=int(values["dau"]),
            wau=int(values["wau"]),
            mau=int(values["mau"]),
            stickiness=_optional(values["stickiness"]),
            interaction_rate=_optional(values["interaction_rate"]),
            real_interaction_rate=_optional(values["real_interaction_rate"]),
            ugc_share=_optional(values["ugc_share"]),
            slot_share=_optional(values["slot_share"]),
            interactions_per_member_30d=_optional(values["interactions_per_member_30d"]),
            joins=int(values["joins"]),
            leaves=int(values["leaves"]),
            removals=int(values["removals"]),
            hot_words=tuple(sorted((_hot_word(e) for e in values["hot_words"]),
                                   key=lambda wc: (-wc[1], wc[0]))),
            revision=int(values["revision"]),
        ))
    return result


def match_episodes(incidents: list[Alert], episodes) -> list[tuple[object, list[Alert]]]:
    """Each ground-truth episode with the incidents of its communities that overlap it."""
    return [
        (episode, [i for i in incidents if i.community_id in episode.community_ids
                   and i.window_start <= episode.end and i.window_end >= episode.start])
        for episode in episodes
    ]
