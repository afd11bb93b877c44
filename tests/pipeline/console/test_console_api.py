"""The JSON API the CLI uses: reads, actions, and the 4xx answers."""

from __future__ import annotations

import uuid

import pytest
from console_harness import BEARER, TOKEN, RunningConsole, make_alert, request

from pipeline.console.client import ConsoleClient
from schemas.alerts import Alert


def api(console: RunningConsole, method: str, path: str, body=None):
    return request(method, f"{console.url}/api/alerts{path}", headers=BEARER, body=body)


def test_list_returns_open_alerts_most_urgent_first(console: RunningConsole) -> None:
    reply = api(console, "GET", "")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("application/json")
    alerts = [Alert.model_validate(a) for a in reply.json()]
    assert [a.incident_id for a in alerts] == ["inc-severe", "inc-moderate", "inc-mild"]
    recent = api(console, "GET", "?recent=2").json()
    assert [a["incident_id"] for a in recent] == ["inc-mild", "inc-moderate"]
    for bad in ("0", "x", "501"):
        assert api(console, "GET", f"?recent={bad}").status == 400


def test_get_one_alert(console: RunningConsole) -> None:
    alert = Alert.model_validate(api(console, "GET", "/inc-severe").json())
    assert alert.tier == "severe" and alert.sla.statement_by is not None
    missing = api(console, "GET", "/nope")
    assert missing.status == 404 and "nope" in missing.json()["error"]


def test_the_loop_through_the_api(console: RunningConsole) -> None:
    steps = [("acknowledge", "acknowledged", "acknowledged_by"),
             ("resolve", "resolved", "resolved_by"),
             ("follow-up", "followed_up", "followed_up_by")]
    for action, status, by_field in steps:
        reply = api(console, "POST", f"/inc-mild/{action}", {"actor": "王小明", "note": action})
        assert reply.status == 202, reply.text
        receipt = reply.json()
        assert receipt["status"] == "submitted" and receipt["incident_id"] == "inc-mild"
        alert = api(console, "GET", "/inc-mild").json()
        assert alert["status"] == status and alert[by_field] == "王小明"
    notes = alert["notes"]
    assert len(notes) == 3 and all(step in note for step, note in zip(
        ("acknowledge", "resolve", "follow-up"), notes, strict=True))
    assert "inc-mild" not in [a["incident_id"] for a in api(console, "GET", "").json()]
    assert [c.kind for c in console.sender.sent] == ["acknowledge", "resolve", "follow_up"]


def test_client_command_id_is_kept_so_retries_are_harmless(console: RunningConsole) -> None:
    command_id = str(uuid.uuid4())
    reply = api(console, "POST", "/inc-mild/acknowledge", {"actor": "a", "command_id": command_id})
    assert reply.json()["command_id"] == command_id
    other = api(console, "POST", "/inc-severe/acknowledge", {"actor": "a", "command_id": "no-uuid"})
    assert uuid.UUID(other.json()["command_id"]).version == 4


@pytest.mark.parametrize("path,body,status,needle", [
    ("/inc-mild/follow_up", {"actor": "a"}, 409, "open"),
    ("/inc-moderate/acknowledge", {"actor": "a"}, 409, "acknowledged"),
    ("/inc-closed/follow_up", {"actor": "a"}, 409, "followed up"),
    ("/inc-mild/escalate", {"actor": "a"}, 404, "unknown action"),
    ("/nope/acknowledge", {"actor": "a"}, 404, "no incident"),
    ("/inc-mild/acknowledge", {}, 400, "who"),
    ("/inc-mild/acknowledge", {"actor": 5}, 400, "who"),
    ("/inc-mild/acknowledge", {"actor": "x" * 65}, 400, "64"),
    ("/inc-mild/acknowledge", {"actor": "a", "note": "n" * 1001}, 400, "1000"),
    ("/inc-mild/acknowledge", ["a"], 400, "JSON object"),
    ("/inc-mild/acknowledge", b"{not json", 400, "JSON object"),
])
def test_refusals(console: RunningConsole, path: str, body, status: int, needle: str) -> None:
    reply = api(console, "POST", path, body)
    assert reply.status == status, reply.text
    assert needle in reply.json()["error"]
    if status == 409:
        current = api(console, "GET", path.rsplit("/", 1)[0]).json()["status"]
        assert reply.json()["status"] == current
    assert console.sender.sent == []


def test_client_round_trips_ids_with_reserved_characters(console: RunningConsole) -> None:
    incident = "inc-微信群 1/a?b#c"
    console.store.put(make_alert(incident))
    client = ConsoleClient(console.url, TOKEN)
    assert client.get(incident).incident_id == incident
    assert client.act(incident, "acknowledge", "王小明")["incident_id"] == incident
    assert client.get(incident).acknowledged_by == "王小明"
    page = request("GET", f"{console.url}/console", headers=BEARER).text
    assert 'href="/console/alerts/inc-%E5%BE%AE%E4%BF%A1%E7%BE%A4%201%2Fa%3Fb%23c"' in page
