"""A small synchronous client of the console's JSON API (what ``pulse alerts`` uses).

Standard library only: the CLI must work wherever the pipeline is installed.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any
from urllib.parse import quote

from pipeline.console.actions import Action
from schemas.alerts import Alert


class ConsoleError(Exception):
    """The API refused a request (``status`` set) or could not be reached (``status`` None)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ConsoleClient:
    """Calls ``/api/alerts`` on a worker with a bearer token."""

    def __init__(self, base_url: str, token: str, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    def open_alerts(self) -> list[Alert]:
        return [Alert.model_validate(a) for a in self._call("GET", "/api/alerts")]

    def recent_alerts(self, limit: int) -> list[Alert]:
        return [Alert.model_validate(a) for a in self._call("GET", f"/api/alerts?recent={limit}")]

    def get(self, incident_id: str) -> Alert:
        return Alert.model_validate(self._call("GET", f"/api/alerts/{quote(incident_id, safe='')}"))

    def me(self) -> dict[str, Any]:
        """The account this token signs in as: name, role, communities."""
        return self._call("GET", "/api/me")

    def act(self, incident_id: str, action: Action, actor: str | None, note: str = "",
            command_id: str | None = None) -> dict[str, Any]:
        """Submit one action; the command id makes a retried submission harmless.

        ``actor`` names the moderator only on the shared token; an account acts as itself.
        """
        body = {"note": note, "command_id": command_id or str(uuid.uuid4())}
        if actor is not None:
            body["actor"] = actor
        return self._call("POST", f"/api/alerts/{quote(incident_id, safe='')}/{action}", body)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method,
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json",
                     **({"Content-Type": "application/json"} if data else {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise ConsoleError(_error_text(error), error.code) from error
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ConsoleError(f"cannot reach {self.base_url}: {reason}") from error


def _error_text(error: urllib.error.HTTPError) -> str:
    raw = error.read()
    try:
        detail = json.loads(raw).get("error")
    except (ValueError, AttributeError):
        detail = raw.decode(errors="replace").strip()
    return f"HTTP {error.code}: {detail or error.reason}"
