"""Read results back from ClickHouse: what the demo prints and tests compare.

All reads use FINAL: ReplacingMergeTree folds duplicates and superseded
window revisions only at merge time, FINAL applies it at query time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

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


def match_episodes(incidents: list[Alert], episodes) -> list[tuple[object, list[Alert]]]:
    """Each ground-truth episode with the incidents of its communities that overlap it."""
    return [
        (episode, [i for i in incidents if i.community_id in episode.community_ids
                   and i.window_start <= episode.end and i.window_end >= episode.start])
        for episode in episodes
    ]
