"""In-memory read model and command sender, for tests and local trials of the console.

The sender stands in for the commands topic *and* the incident agent: it
applies each command with the agent's own lifecycle
(:func:`pipeline.compute.escalation.lifecycle.apply_command`) and stores the record
that produces, so a console test sees exactly the states moderators will.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from pipeline.compute.escalation.incident import Incident
from pipeline.compute.escalation.lifecycle import Rejected, apply_command
from pipeline.compute.escalation.policy import EscalationPolicy
from schemas.alerts import Alert, IncidentCommand

log = logging.getLogger(__name__)


class MemoryAlertReader:
    """Latest revision per incident in a dict; locked, as tests write from another thread."""

    def __init__(self, alerts: Iterable[Alert] = ()) -> None:
        self._alerts: dict[str, Alert] = {}
        self._lock = threading.Lock()
        for alert in alerts:
            self.put(alert)

    def put(self, alert: Alert) -> None:
        """Store a revision; one not newer than the stored revision is ignored."""
        with self._lock:
            current = self._alerts.get(alert.incident_id)
            if current is None or alert.revision > current.revision:
                self._alerts[alert.incident_id] = alert

    def latest(self, incident_id: str) -> Alert | None:
        with self._lock:
            return self._alerts.get(incident_id)

    def all(self) -> list[Alert]:
        with self._lock:
            return list(self._alerts.values())

    async def open_alerts(self) -> list[Alert]:
        return [a for a in self.all() if a.status != "followed_up"]

    async def recent_alerts(self, limit: int) -> list[Alert]:
        return sorted(self.all(), key=lambda a: a.updated_at, reverse=True)[:limit]

    async def get(self, incident_id: str) -> Alert | None:
        return self.latest(incident_id)


class MemoryCommandSender:
    """Records commands and applies them with the incident lifecycle, at once or on demand.

    ``apply=False`` queues commands until :meth:`apply_pending`: that is how
    tests see the console's "submitted, waiting" state.
    """

    def __init__(self, store: MemoryAlertReader, policy: EscalationPolicy | None = None, *,
                 apply: bool = True) -> None:
        self.store = store
        self.policy = policy or EscalationPolicy()
        self.apply = apply
        self.sent: list[IncidentCommand] = []
        self.rejected: list[Rejected] = []
        self._pending: list[IncidentCommand] = []
        self._incidents: dict[str, Incident] = {}
        self._lock = threading.Lock()

    async def send(self, command: IncidentCommand) -> None:
        with self._lock:
            self.sent.append(command)
            self._pending.append(command)
        if self.apply:
            self.apply_pending()

    def apply_pending(self) -> None:
        """Apply every queued command in order, as the incident agent would."""
        with self._lock:
            pending, self._pending = self._pending, []
            for command in pending:
                self._apply(command)

    def _apply(self, command: IncidentCommand) -> None:
        alert = self.store.latest(command.incident_id or "")
        if alert is None:
            self.rejected.append(Rejected(command.command_id, "unknown incident"))
            return
        incident = self._incidents.get(alert.incident_id)
        if incident is None or incident.published != alert.revision:
            # The store was written directly (a test's put): start from that revision.
            incident = Incident(alert=alert, published=alert.revision)
            self._incidents[alert.incident_id] = incident
        outcome = apply_command(incident, command, self.policy)
        if isinstance(outcome, Rejected):
            log.info("memory sender: rejected %s: %s", command.command_id, outcome.reason)
            self.rejected.append(outcome)
        elif outcome is not None:
            self.store.put(outcome)
