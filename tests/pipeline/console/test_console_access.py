"""Graded access: accounts from a file and the environment, scoped lists, refusals, audit."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from console_harness import (
    ACCESS_FILE,
    ENV,
    HAN_TOKEN,
    LEAD_TOKEN,
    LI_TOKEN,
    TOKEN,
    RunningConsole,
    bearer,
    make_alert,
    request,
)

from pipeline.console.access import AccessError, AccessPolicy, load_access, make_account
from pipeline.console.auth import SESSION_COOKIE
from pipeline.console.views import AUDIT_PREFIX


def _policy(tmp_path: Path, text: str = ACCESS_FILE, env: dict[str, str] | None = None,
            admin_token: str | None = TOKEN) -> AccessPolicy:
    path = tmp_path / "access.toml"
    path.write_text(text)
    return load_access(path, admin_token, ENV if env is None else env)


def test_the_file_and_the_environment_make_the_accounts(tmp_path: Path) -> None:
    policy = _policy(tmp_path)
    assert [a.name for a in policy.accounts] == ["admin", "li-lei", "han.meimei", "ops-lead"]
    li = policy.by_token(LI_TOKEN)
    assert li is not None and li.name == "li-lei" and li.role == "moderator" and not li.shared
    assert li.communities == ("qq-*", "wecom-vip")
    assert li.covers("qq-fans") and li.covers("wecom-vip") and not li.covers("wecom-vip-2")
    assert not li.covers("wx-crisis")
    han = policy.by_name("han.meimei")
    assert han is not None and han.communities == ("wx-crisis", "wx-done")
    lead = policy.by_token(LEAD_TOKEN)
    assert lead is not None and lead.admin and lead.covers("anything") and not lead.shared
    shared = policy.by_token(TOKEN)
    assert shared is not None and shared.name == "admin" and shared.shared
    assert policy.by_token("li-lei-token-0123456789abcdeX") is None
    assert policy.by_token(None) is None
    assert "token" not in json.dumps(li.describe())


def test_spread_incidents_are_seen_in_every_community_and_acted_on_at_their_origin() -> None:
    li = make_account("li-lei", "moderator", LI_TOKEN, ["qq-*"])
    spread = make_alert("inc-spread", community="wx-crisis", community_ids=["wx-crisis", "qq-fans"])
    assert li.sees(spread) and not li.may_act(spread)
    own = make_alert("inc-own", community="qq-fans")
    assert li.sees(own) and li.may_act(own)
    other = make_alert("inc-other", community="wx-crisis")
    assert not li.sees(other) and not li.may_act(other)


@pytest.mark.parametrize("text,env,problem", [
    (ACCESS_FILE, {**ENV, "PULSE_CONSOLE_TOKEN_LI": ""}, "PULSE_CONSOLE_TOKEN_LI is not set"),
    (ACCESS_FILE, {**ENV, "PULSE_CONSOLE_TOKEN_LI": "short"}, "shorter than 16"),
    (ACCESS_FILE, {**ENV, "PULSE_CONSOLE_TOKEN_HAN": LI_TOKEN}, "the same token"),
    (ACCESS_FILE.replace('groups = ["crisis"]', 'groups = ["nope"]'), ENV, "no group 'nope'"),
    (ACCESS_FILE.replace('role = "admin"', 'role = "root"'), ENV, "role 'root'"),
    ('[accounts.x]\ntoken_env = "PULSE_CONSOLE_TOKEN_LI"\n', ENV, "needs groups or communities"),
    ('[accounts.admin]\nrole = "admin"\ntoken_env = "PULSE_CONSOLE_TOKEN_LI"\n', ENV,
     "account name 'admin'"),
    ('[accounts.x]\nrole = "admin"\ntoken = "in-the-file-0123456789"\n', ENV,
     "unknown key(s) ['token']"),
    ("[groups]\nfans = []\n[accounts.x]\n", ENV, "group 'fans'"),
    ("[accounts\n", ENV, "access.toml"),
    ("[people.x]\n", ENV, "unknown section"),
])
def test_a_bad_access_file_names_the_problem(tmp_path: Path, text: str, env: dict[str, str],
                                             problem: str) -> None:
    with pytest.raises(AccessError) as caught:
        _policy(tmp_path, text, env)
    assert "access.toml" in str(caught.value) and problem in str(caught.value)


def test_the_shared_token_alone_is_the_administrator(tmp_path: Path) -> None:
    policy = load_access(None, TOKEN, {})
    assert [(a.name, a.role, a.shared) for a in policy.accounts] == [("admin", "admin", True)]
    assert not load_access(None, None, {})


def test_a_moderator_lists_and_reads_only_assigned_incidents(graded: RunningConsole) -> None:
    listed = request("GET", f"{graded.url}/api/alerts", headers=bearer(LI_TOKEN))
    assert [a["incident_id"] for a in listed.json()] == ["inc-moderate", "inc-mild", "inc-spread"]
    everything = request("GET", f"{graded.url}/api/alerts", headers=bearer(LEAD_TOKEN))
    assert len(everything.json()) == 4
    recent = request("GET", f"{graded.url}/api/alerts?recent=50", headers=bearer(HAN_TOKEN))
    assert sorted(a["incident_id"] for a in recent.json()) == [
        "inc-closed", "inc-severe", "inc-spread"]

    refused = request("GET", f"{graded.url}/api/alerts/inc-severe", headers=bearer(LI_TOKEN))
    assert refused.status == 403
    assert "not assigned to li-lei" in refused.json()["error"]
    assert request("GET", f"{graded.url}/api/alerts/inc-spread",
                   headers=bearer(LI_TOKEN)).status == 200
    me = request("GET", f"{graded.url}/api/me", headers=bearer(LI_TOKEN)).json()
    assert me == {"account": "li-lei", "role": "moderator", "shared": False,
                  "communities": ["qq-*", "wecom-vip"], "via": "bearer"}


def test_actions_are_refused_outside_the_account_and_audited(
        graded: RunningConsole, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pulse.console.audit")
    url = f"{graded.url}/api/alerts"
    for incident in ("inc-severe", "inc-spread"):   # another's, and spread from another's
        reply = request("POST", f"{url}/{incident}/acknowledge", headers=bearer(LI_TOKEN),
                        body={"note": "x"})
        assert reply.status == 403 and "wx-crisis" in reply.json()["error"], incident
    posing = request("POST", f"{url}/inc-mild/acknowledge", headers=bearer(LI_TOKEN),
                     body={"actor": "韩梅梅"})
    assert posing.status == 403 and "you act as li-lei" in posing.json()["error"]
    assert graded.sender.sent == []

    done = request("POST", f"{url}/inc-mild/acknowledge", headers=bearer(LI_TOKEN),
                   body={"note": "已联系"})
    assert done.status == 202 and done.json()["actor"] == "li-lei"
    assert [(c.actor, c.incident_id) for c in graded.sender.sent] == [("li-lei", "inc-mild")]
    alert = graded.store.latest("inc-mild")
    assert alert is not None and alert.acknowledged_by == "li-lei"
    shared = request("POST", f"{url}/inc-severe/acknowledge", headers=bearer(TOKEN),
                     body={"actor": "王小明"})
    assert shared.status == 202 and shared.json()["actor"] == "王小明"

    entries = [json.loads(r.getMessage().removeprefix(AUDIT_PREFIX)) for r in caplog.records
               if r.name == "pulse.console.audit"]
    assert [(e["account"], e["incident_id"], e["outcome"].split(":")[0], e["status"])
            for e in entries] == [
        ("li-lei", "inc-severe", "refused", 403), ("li-lei", "inc-spread", "refused", 403),
        ("li-lei", "inc-mild", "refused", 403), ("li-lei", "inc-mild", "submitted", 202),
        ("admin", "inc-severe", "submitted", 202)]
    assert entries[0]["community_id"] == "wx-crisis" and entries[0]["action"] == "acknowledge"
    assert entries[3]["actor"] == "li-lei" and entries[3]["command_id"]
    assert entries[4]["actor"] == "王小明" and entries[4]["via"] == "bearer"
    assert {e["at"] for e in entries} == {graded.clock.now.isoformat()}


def test_pages_show_the_account_and_refuse_others_incidents(graded: RunningConsole) -> None:
    login = request("GET", f"{graded.url}/console?token={LI_TOKEN}")
    session = {SESSION_COOKIE: login.cookies()[SESSION_COOKIE].value}
    page = request("GET", f"{graded.url}/console", cookies=session)
    assert page.status == 200 and "Signed in as <b>li-lei</b>" in page.text
    assert 'data-incident="inc-mild"' in page.text and 'data-incident="inc-severe"' not in page.text

    other = request("GET", f"{graded.url}/console/alerts/inc-severe", cookies=session)
    assert other.status == 403 and "not assigned to li-lei" in other.text
    spread = request("GET", f"{graded.url}/console/alerts/inc-spread", cookies=session)
    assert spread.status == 200 and 'id="read-only"' in spread.text
    assert 'id="form-acknowledge"' not in spread.text
    own = request("GET", f"{graded.url}/console/alerts/inc-mild", cookies=session)
    assert 'id="form-acknowledge"' in own.text and 'name="actor"' not in own.text
    assert "you act as li-lei" in own.text

    forged = session[SESSION_COOKIE].rsplit(".", 1)[0] + ".ops-lead"   # claim the admin
    assert request("GET", f"{graded.url}/console",
                   cookies={SESSION_COOKIE: forged}).status == 401


def test_the_example_access_file_loads() -> None:
    """deploy/console/access.example.toml, as shipped, with the variables it names set."""
    example = Path(__file__).resolve().parents[3] / "deploy" / "console" / "access.example.toml"
    names = ("LI_LEI", "HAN_MEIMEI", "OPS_LEAD")
    env = {f"PULSE_CONSOLE_TOKEN_{n}": f"{n.lower()}-token-0123456789" for n in names}
    policy = load_access(example, None, env)
    assert [(a.name, a.role) for a in policy.accounts] == [
        ("li-lei", "moderator"), ("han.meimei", "moderator"), ("ops-lead", "admin")]
    han = policy.by_name("han.meimei")
    assert han is not None and han.covers("wecom-vip-02") and han.covers("wx-mom-01")
    assert not han.covers("wx-beauty-01")
