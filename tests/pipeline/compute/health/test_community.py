"""A community's membership state: rewinding to the last checkpoint (a replay after a crash
between saving it and the partition's clock)."""

from __future__ import annotations

from pipeline.compute.health.community import MEMBERSHIP_CONFLICTS, CommunityState


def grown() -> CommunityState:
    state = CommunityState()
    for i, member in enumerate(("a", "b", "c")):
        state.apply(10 + i, "join", member)
    state.apply(20, "leave", "c")
    state.through_ms = 0
    return state


def test_rewind_restores_the_membership_of_the_checkpoint() -> None:
    state = grown()
    before = CommunityState.from_wire(state.to_wire())
    state.checkpoint()
    state.apply(30, "leave", "a")
    state.apply(31, "join", "a")  # the same member twice: its first entries are kept
    state.apply(32, "join", "b")  # a conflict
    state.apply(33, "leave", "ghost")  # predates tracking: the count goes down
    state.apply(40, "snapshot", ["a", "c", "d"])
    state.through_ms = 3_600_000
    state.history[5] = 7  # not membership: kept
    assert (state.member_count, state.anchor, state.conflicts) == (3, "snapshot", 1)
    saved = CommunityState.from_wire(state.to_wire())
    assert saved == state
    assert saved.rewind() and saved.rewind()  # idempotent
    assert (saved.present, saved.absent) == (before.present, before.absent)
    assert (saved.member_count, saved.anchor, saved.conflicts, saved.reconciled,
            saved.departed_unknown, saved.through_ms) == (
        before.member_count, before.anchor, before.conflicts, before.reconciled,
        before.departed_unknown, before.through_ms)
    assert saved.history == {5: 7}
    assert not CommunityState().rewind()  # nothing to go back to (saved before undo existed)


def test_an_erased_member_leaves_no_trace_in_the_undo() -> None:
    state = grown()
    state.checkpoint()
    state.apply(30, "leave", "a")
    state.apply(31, "join", "e")
    state.present.pop("a", None)  # what erasure.forget_presence does
    state.absent.pop("a", None)
    wire = state.to_wire()
    assert "a" not in wire["un"]["m"] and "e" in wire["un"]["m"]
    old = {k: v for k, v in wire.items() if k != "un"}
    assert CommunityState.from_wire(old).undo is None  # saved before undo existed


def test_each_kind_of_conflict_is_one_of_the_published_kinds() -> None:
    """The Prometheus series start at 0 for exactly these kinds (agents/community_activity)."""
    state = grown()   # no snapshot yet: a leave of an unknown member is not a conflict
    assert state.apply(30, "join", "a") == "join_while_present"
    assert state.apply(31, "leave", "c") == "leave_while_absent"
    assert state.apply(32, "leave", "ghost") is None
    state.apply(40, "snapshot", ["a", "b"])
    assert state.apply(41, "leave", "stranger") == "leave_unknown"
    assert {"join_while_present", "leave_while_absent", "leave_unknown"} == set(
        MEMBERSHIP_CONFLICTS)
