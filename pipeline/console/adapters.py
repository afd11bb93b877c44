"""The console's ports on real infrastructure: ClickHouse to read, Kafka to act.

The console reads incident state from ClickHouse (``sentiment_alerts``, every
Alert revision; an incident's state is its highest revision), so any worker
with ClickHouse can serve it, and acts by sending IncidentCommands to Kafka,
where the incident owner applies them.
"""

from __future__ import annotations

from faust.types import TopicT

from pipeline.egress.clickhouse.client import ClickHouseSink
from pipeline.egress.clickhouse.tables import SENTIMENT_ALERTS
from pipeline.egress.encoders import command_record
from schemas.alerts import Alert, IncidentCommand


class ClickHouseAlertReader:
    """Latest revision of each incident, from ClickHouse."""

    def __init__(self, sink: ClickHouseSink):
        self.sink = sink

    def _table(self) -> str:
        return f"{self.sink.database}.{SENTIMENT_ALERTS.name}"

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
        key, value, _ = command_record(command)
        future = await self.topic.send(key=key, value=value)
        await future
