"""What the console needs from the rest of the pipeline: a read model and a command channel.

Kept as protocols so that the worker wires ClickHouse and Kafka in, and tests
wire in-memory versions (:mod:`pipeline.console.memory`).
"""

from __future__ import annotations

from typing import Protocol

from schemas.alerts import Alert, IncidentCommand


class AlertReader(Protocol):
    """Latest revision of each incident, as the incident agent published it."""

    async def open_alerts(self) -> list[Alert]:
        """Every incident not yet followed up (resolved ones included: they await 回访)."""
        ...

    async def recent_alerts(self, limit: int) -> list[Alert]:
        """The ``limit`` most recently updated incidents, any status, newest first."""
        ...

    async def get(self, incident_id: str) -> Alert | None:
        """One incident, or None when unknown."""
        ...


class CommandSender(Protocol):
    """Delivers a moderator's command to the incident agent (the only writer)."""

    async def send(self, command: IncidentCommand) -> None:
        """Send one command; raises when it could not be handed over."""
        ...
