"""A member inside table state values: found for an export, taken out for an erasure."""

from __future__ import annotations

from pipeline.compute.erasure import (
    STATE_TABLE_BY_NAME,
    STATE_TABLES,
    TOMBSTONE,
    ErasureRequest,
    Fragment,
    anonymise,
    drop_member_entry,
    erase_state,
    erasure_writes,
    find_member,
    forget_presence,
    key_names,
)
from pipeline.compute.health.community import CommunityState
from pipeline.compute.health.members import MemberRecord

M = "wx-m-7"
IDS = frozenset({M, "m-5f3a"})
TOKEN = "erased-0123"


def hour_window() -> dict:
    """An hour window's wire form (pipeline/compute/health/hours.py) with two senders."""
    return {
        "m": {"msg-1": [1000, 0, M, 0, "abc", 1], "msg-2": [2000, 0, "wx-m-8", 0, "", 0]},
        "e": {"ev-1": [1500, M, "leave"]},
        "s": {"snap-1": [1200, ["wx-m-8", M, "wx-m-9"]]},
        "w": {"退款": 2},
        "p": {"msg-1": 2},
    }


def test_find_member_reports_entries_records_and_set_membership() -> None:
    found = find_member(hour_window(), IDS)
    assert Fragment(("m", "msg-1"), [1000, 0, M, 0, "abc", 1]) in found
    assert Fragment(("e", "ev-1"), [1500, M, "leave"]) in found
    # a snapshot's member list: only the member's own id, never the others listed with it
    assert Fragment(("s", "snap-1", "1"), M) in found
    assert len(found) == 3
    assert all("wx-m-8" not in repr(f.value) for f in found)


def test_find_member_reports_a_members_entry_in_a_community_value() -> None:
    members = {M: MemberRecord(day=3, spoke=1).to_wire(), "wx-m-8": [3, 1, 1, 0, 0]}
    assert find_member(members, IDS) == [Fragment((M,), members[M])]
    assert find_member({"other": [1, 2]}, IDS) == []
    assert find_member({"messages": {"msg-9": "m-5f3a"}}, IDS) == [
        Fragment(("messages", "msg-9"), "m-5f3a")]


def test_key_names_the_member_alone_or_between_separators() -> None:
    assert key_names(M, IDS)
    assert key_names(f"camp-1|{M}", IDS)
    assert key_names(f"inviter|camp-1|{M}|all|all#3", IDS)
    assert key_names(f"{M}|2026-11-02", IDS)
    assert not key_names("wx-m-70", IDS)
    assert not key_names("camp-1|wx-m-70", IDS)


def test_anonymise_keeps_every_count_and_drops_the_identity() -> None:
    window = anonymise(hour_window(), IDS, TOKEN)
    assert M not in repr(window)
    assert window["m"]["msg-1"][2] == TOKEN
    assert window["m"]["msg-2"] == [2000, 0, "wx-m-8", 0, "", 0]
    assert window["s"]["snap-1"][1] == ["wx-m-8", TOKEN, "wx-m-9"]
    assert {k: len(v) for k, v in window.items()} == {k: len(v) for k, v in hour_window().items()}
    assert anonymise({M: 1, "x": [M]}, IDS, TOKEN) == {TOKEN: 1, "x": [TOKEN]}


def test_drop_member_entry_leaves_the_other_members() -> None:
    members = {M: [1, 1, 1, 0, 0], "wx-m-8": [1, 1, 0, 5, 0]}
    assert drop_member_entry(members, M) == {"wx-m-8": [1, 1, 0, 5, 0]}
    assert drop_member_entry(members, "nobody") == members


def test_forget_presence_takes_the_member_out_of_the_membership_state() -> None:
    state = CommunityState(anchor="snapshot")
    for member in (M, "wx-m-8", "wx-m-9"):
        state.apply(10, "join", member)
    state.apply(20, "leave", "wx-m-9")
    before = state.to_wire()
    after = CommunityState.from_wire(forget_presence(before, M))
    assert M not in after.present and M not in after.absent
    assert after.member_count == state.member_count - 1  # no leave counted
    assert after.present == {"wx-m-8": 10} and after.absent == {"wx-m-9": 20}
    assert (after.conflicts, after.anchor, after.through_ms) == (
        state.conflicts, state.anchor, state.through_ms)
    absent = CommunityState.from_wire(forget_presence(before, "wx-m-9"))
    assert "wx-m-9" not in absent.absent and absent.member_count == state.member_count
    assert forget_presence(None, M) is None


def test_erase_state_applies_each_tables_rule() -> None:
    members = STATE_TABLE_BY_NAME["health-members"]
    assert erase_state(members, "c1", {M: [1], "b": [2]}, M, IDS, TOKEN) == {"b": [2]}
    ledgers = STATE_TABLE_BY_NAME["sales-ledgers"]
    assert erase_state(ledgers, M, {"o1": [None, None]}, M, IDS, TOKEN) is TOMBSTONE
    journeys = STATE_TABLE_BY_NAME["sales-journeys"]
    invitee = {"j": [[1, "ev-2", "c1", M, "qr"]]}
    assert erase_state(journeys, "wx-m-8", invitee, M, IDS, TOKEN) == {
        "j": [[1, "ev-2", "c1", TOKEN, "qr"]]}
    persons = STATE_TABLE_BY_NAME["funnel-persons"]
    assert erase_state(persons, f"camp|{M}", {"s": 1}, M, IDS, TOKEN) is TOMBSTONE
    hours = STATE_TABLE_BY_NAME["health-hours"]
    assert M not in repr(erase_state(hours, "c1|0", hour_window(), M, IDS, TOKEN))
    clocks = STATE_TABLE_BY_NAME["health-clocks"]
    assert erase_state(clocks, "0", {"p": {M: 1}}, M, IDS, TOKEN) == {"p": {M: 1}}
    communities = STATE_TABLE_BY_NAME["health-communities"]
    wire = CommunityState(present={M: 1, "b": 2}).to_wire()
    assert erase_state(communities, "c1", wire, M, IDS, TOKEN)["p"] == {"b": 2}
    incidents = STATE_TABLE_BY_NAME["incident-state"]
    assert erase_state(incidents, "c1", {"members": {"m-5f3a": 2}}, M, IDS, TOKEN) == {
        "members": {TOKEN: 2}}


def test_state_tables_are_named_once() -> None:
    names = [table.name for table in STATE_TABLES]
    assert len(names) == len(set(names)) == len(STATE_TABLE_BY_NAME)


def test_an_erasure_request_round_trips_as_json() -> None:
    request = ErasureRequest("r1.0", M, "m-5f3a", TOKEN, "c1",
                             (("health-members", "c1"), ("sales-ledgers", M)))
    assert ErasureRequest.from_json(request.to_json()) == request
    assert request.ids == IDS
    bare = ErasureRequest.from_json(b'{"request_id": "r", "member_id": "m", '
                                    b'"member_ref": "x", "token": "t"}')
    assert bare.keys == () and bare.community is None


def test_erasure_writes_only_the_keys_listed_and_owned_and_is_idempotent() -> None:
    state = {
        ("health-members", "c1"): {M: [1, 1, 1, 0, 0], "wx-m-8": [1, 0, 0, 0, 0]},
        ("health-hours", "c1|0"): hour_window(),
        ("sales-ledgers", M): {"o1": [[1, 990, "c1", None, None], None]},
        ("sales-ledgers", "wx-m-8"): {"o2": [[1, 10, "c1", None, None], None]},
        ("health-clocks", "0"): {"p": {}},
    }
    request = ErasureRequest("r1.0", M, "m-5f3a", TOKEN, None, (
        ("health-members", "c1"), ("health-hours", "c1|0"), ("sales-ledgers", M),
        ("health-clocks", "0"), ("health-days", "c9|1"), ("unknown-table", "k")))
    owned = ("health-members", "health-hours", "health-days", "health-clocks")

    def get(table: str, key: str) -> object:
        return state.get((table, key))

    writes = erasure_writes(request, owned, get)
    assert [(table, key) for table, key, _ in writes] == [
        ("health-members", "c1"), ("health-hours", "c1|0")]  # clocks: rule none; days: absent
    assert writes[0][2] == {"wx-m-8": [1, 0, 0, 0, 0]}
    assert M not in str(writes[1][2]) and TOKEN in str(writes[1][2])
    (ledger,) = erasure_writes(request, ("sales-ledgers",), get)
    assert ledger == ("sales-ledgers", M, TOMBSTONE)
    for table, key, value in [*writes, ledger]:
        if value is TOMBSTONE:
            del state[(table, key)]
        else:
            state[(table, key)] = value
    assert erasure_writes(request, (*owned, "sales-ledgers"), get) == []  # replayed: nothing
    assert state[("sales-ledgers", "wx-m-8")] == {"o2": [[1, 10, "c1", None, None], None]}


def test_every_table_with_member_data_names_its_writer() -> None:
    """The erasure agent applies a request under the writer's batch lock."""
    assert all((t.rule == "none") == (t.writer is None) for t in STATE_TABLES)
