"""Spread across communities: detection per fingerprint, and the upgrade it causes."""

from __future__ import annotations

import json

from pipeline.compute.escalation import DEFAULT_POLICY as P
from pipeline.compute.escalation import (
    SpreadSignal,
    SpreadState,
    handle_command,
    observe,
    spread_signals,
)
from tests.pipeline.compute.escalation.factory import UNSURE, Table, at, chat, negative, signal


def _feed(state: SpreadState, signals: list[SpreadSignal]) -> list:
    commands = []
    for s in signals:
        commands += observe(state, s, P)
    return commands


def _term(community: str, message_id: str, minutes: float, term: str = "维权") -> SpreadSignal:
    ts_ms = int(at(minutes).timestamp() * 1000)
    return SpreadSignal(f"term:{term}", community, message_id, ts_ms, (term,))


def test_two_communities_with_the_same_term_get_one_spread_command_each() -> None:
    state = SpreadState()
    signals = [_term("a", "a1", 0), _term("a", "a2", 3), _term("b", "b1", 20)]
    assert _feed(state, signals) == []
    commands = observe(state, _term("b", "b2", 22), P)
    assert [(c.community_id, c.related_communities, c.terms, c.kind, c.actor)
            for c in commands] == [("a", ["b"], ["维权"], "spread", "system"),
                                   ("b", ["a"], ["维权"], "spread", "system")]
    assert all(c.issued_at == at(22) and c.incident_id is None for c in commands)
    assert len({c.command_id for c in commands}) == 2
    assert _feed(state, [_term("a", "a3", 23), _term("b", "b2", 22)]) == []


def test_spread_commands_are_deterministic_under_replay() -> None:
    signals = [_term("a", "a1", 0), _term("a", "a2", 3), _term("b", "b1", 5), _term("b", "b2", 6)]
    first, second = SpreadState(), SpreadState()
    _feed(first, signals[:2])
    _feed(second, signals[:2])
    saved = json.dumps(first.to_wire())
    replayed = SpreadState.from_wire(json.loads(saved))
    assert _feed(first, signals[2:]) == _feed(replayed, signals[2:]) != []
    assert _feed(first, signals) == []


def test_a_third_community_joining_updates_everyone_once() -> None:
    state = SpreadState()
    _feed(state, [_term("a", "a1", 0), _term("a", "a2", 1), _term("b", "b1", 2),
                  _term("b", "b2", 3)])
    commands = _feed(state, [_term("c", "c1", 4), _term("c", "c2", 5), _term("c", "c3", 6)])
    assert sorted((c.community_id, tuple(c.related_communities)) for c in commands) == [
        ("a", ("b", "c")), ("b", ("a", "c")), ("c", ("a", "b"))]


def test_single_messages_or_distant_times_are_no_spread() -> None:
    lone = SpreadState()
    assert _feed(lone, [_term("a", "a1", 0), _term("a", "a2", 1), _term("b", "b1", 2),
                        _term("c", "c1", 3)]) == []
    distant = SpreadState()
    assert _feed(distant, [_term("a", "a1", 0), _term("a", "a2", 1), _term("b", "b1", 40),
                           _term("b", "b2", 41)]) == []


def test_a_later_wave_is_a_new_spread() -> None:
    state = SpreadState()
    wave = [_term("a", "a1", 0), _term("a", "a2", 1), _term("b", "b1", 2), _term("b", "b2", 3)]
    first = _feed(state, wave)
    later = [_term(s.community_id, s.message_id + "x", 300 + i) for i, s in enumerate(wave)]
    second = _feed(state, later)
    assert len(first) == len(second) == 2
    assert not {c.command_id for c in first} & {c.command_id for c in second}


def test_only_negatives_send_spread_signals_with_terms_and_text() -> None:
    sad = signal(chat("m1", 0, "这家就是骗子公司！大家一起维权！"), UNSURE)
    keys = [s.fingerprint for s in spread_signals(sad)]
    assert keys[:2] == ["term:骗子", "term:维权"] and keys[2].startswith("text:")
    happy = signal(chat("m2", 0, "谢谢大家", reply_to="m1"), 0.9)
    assert spread_signals(happy) == []


def test_copy_pasted_complaint_without_terms_spreads_by_text() -> None:
    text = "吃完肚子疼了一晚上，太恶心了"
    signals = [s for i, (c, m) in enumerate([("a", "u1"), ("a", "u2"), ("b", "u3"), ("b", "u4")])
               for s in spread_signals(negative(f"{c}{i}", i, member=m, community=c,
                                                text=f"@某人 {text}{'!' * i}"))]
    assert {s.fingerprint for s in signals} == {signals[0].fingerprint}
    assert len(_feed(SpreadState(), signals)) == 2


def test_spread_upgrades_each_community_incident_to_severe() -> None:
    table = Table()
    table.run([negative("a1", 0, community="a")], community="a")
    table.run([signal(chat("b1", 5, "客服一直不回复，我要投诉", community="b"), UNSURE)],
              community="b")
    spread = SpreadState()
    commands = []
    for community, message_id, minutes in (("a", "a1", 0), ("a", "a2", 1), ("b", "b1", 5),
                                           ("b", "b2", 6)):
        commands += observe(spread, _term(community, message_id, minutes, "差评"), P)
    records = {}
    for command in commands:
        state = table.state(command.community_id)
        records[command.community_id] = handle_command(state, command, P)
        table.save(command.community_id, state)
        assert handle_command(state, command, P) is None  # replayed command
    assert {c: (r.event, r.tier, r.community_ids) for c, r in records.items()} == {
        "a": ("upgraded", "severe", ["a", "b"]), "b": ("upgraded", "severe", ["b", "a"])}
    assert records["a"].reasons[0] == "扩散至 2 个社群: 差评 / spread to 2 communities"
    other = commands[0].model_copy(update={"command_id": "another-fingerprint"})
    assert handle_command(table.state("a"), other, P) is None  # nothing new to add
