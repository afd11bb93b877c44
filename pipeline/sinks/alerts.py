"""Alert storage and the console's ports on real infrastructure.

Every published Alert revision is a row of ``sentiment_alerts`` (the incident
timeline); the current state of an incident is its highest revision.  The
console reads that state from ClickHouse and writes by sending
IncidentCommands to Kafka, where the incident agent applies them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from faust.types import TopicT

from pipeline.sinks.clickhouse import ClickHouseSink
from schemas.alerts import Alert, IncidentCommand

ALERT_COLUMNS = (
    "incident_id", "revision", "event", "tier", "status", "community_id", "community_ids",
    "window_start", "window_end", "opened_at", "updated_at", "negative_messages", "members",
    "min_score", "mean_score", "heat", "matched_terms", "escalations", "respond_by",
    "close_loop_by", "record", "published_at",
)


def alert_row(alert: Alert, published_at: datetime) -> tuple:
    return (
        alert.incident_id, alert.revision, alert.event, alert.tier, alert.status,
        alert.community_id, alert.community_ids, alert.window_start, alert.window_end,
        alert.opened_at, alert.updated_at, alert.negative_messages, alert.members,
        alert.min_score, alert.mean_score, alert.heat, alert.matched_terms, alert.escalations,
        alert.sla.respond_by, alert.sla.close_loop_by, alert.model_dump_json(), published_at,
    )


async def store_alerts(sink: ClickHouseSink, alerts: list[Alert]) -> None:
    """Insert revisions; (incident_id, revision) identifies a row, so replays fold."""
    if alerts:
        identity = ";".join(f"{a.incident_id}#{a.revision}" for a in alerts)
        now = datetime.now(UTC)
        await sink.insert("sentiment_alerts", ALERT_COLUMNS,
                          [alert_row(a, now) for a in alerts], identity)


class ClickHouseAlertReader:
    """Latest revision of each incident, from ClickHouse (any worker can serve the console)."""

    def __init__(self, sink: ClickHouseSink):
        self.sink = sink

    def _table(self) -> str:
        return f"{self.sink.database}.sentiment_alerts"

    async def _latest(
        self, having: str = "1", limit: int = 500, parameters: dict | None = None
    ) -> list[Alert]:
        rows = await self.sink.query(
            f"SELECT argMax(record, revision) FROM {self._table()} "
            f"GROUP BY incident_id HAVING {having} "
            f"ORDER BY max(updated_at) DESC LIMIT {int(limit)}",
            parameters,
        )
        return [Alert.model_validate_json(record) for (record,) in rows]

    async def open_alerts(self) -> list[Alert]:
        return await self._latest("argMax(status, revision) != 'followed_up'")

    async def recent_alerts(self, limit: int) -> list[Alert]:
        return await self._latest(limit=limit)

    async def get(self, incident_id: str) -> Alert | None:
        found = await self._latest(
            "incident_id = {incident:String}", limit=1, parameters={"incident": incident_id}
        )
        return found[0] if found else None


class KafkaCommandSender:
    """Sends IncidentCommands keyed by community: the owning partition applies them."""

    def __init__(self, topic: TopicT):
        self.topic = topic

    async def send(self, command: IncidentCommand) -> None:
        future = await self.topic.send(
            key=command.community_id.encode(), value=command.to_json()
        )
        await future
