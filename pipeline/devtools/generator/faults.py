"""Delivery order with the faults of real pipelines: late, duplicated, malformed records.

- LATE: a chosen event is delivered up to ``max_late_s`` of event time after
  it happened, i.e. after events with later event times.
- STALE and VERY LATE (off by default): delivered 20-40 minutes or 3-6 hours
  after their event time, beyond the minute windows' lateness (15 min) or
  every window's (1 h); they are "late" in the ground truth.
- DUPLICATE: an at-least-once producer sends the same bytes again, mostly
  within a second or two, sometimes minutes later (at most ``max_late_s``).
- MALFORMED: garbage injected at random delivery slots (see ``malformed``).

Counts are exact (``round(rate * events)``), so the rates are honoured.
"""

from __future__ import annotations

import random
from collections import defaultdict

from pipeline.devtools.generator.config import GeneratorConfig
from pipeline.devtools.generator.malformed import FAULTS, corrupt
from pipeline.devtools.generator.stream import OutRecord, RecordKind
from pipeline.devtools.generator.truth import ExpectedDeadLetter
from pipeline.devtools.generator.wire import WireEvent
from pipeline.topics import FUNNEL_EVENTS, INPUT_TOPICS, MEMBERSHIP_SNAPSHOTS


def deliver(events: list[WireEvent], config: GeneratorConfig, rngs: dict[str, random.Random],
            ) -> tuple[list[OutRecord], list[ExpectedDeadLetter]]:
    """Records in delivery order, and the dead letters they must produce (in that order)."""
    n = len(events)
    max_late = config.max_late_s * 1000
    late_rng, dup_rng, bad_rng = rngs["late"], rngs["duplicate"], rngs["malformed"]

    late = set(late_rng.sample(range(n), min(n, round(config.late_rate * n))))
    delays = {i: late_rng.randint(max(1, max_late // 5), max_late) for i in sorted(late)}
    for rate, low, high in ((config.stale_rate, 1_200_000, 2_400_000),
                            (config.very_late_rate, 3 * 3_600_000, 6 * 3_600_000)):
        rest = [i for i in range(n) if i not in delays]
        for i in sorted(late_rng.sample(rest, min(len(rest), round(rate * n)))):
            delays[i] = late_rng.randint(low, high)
    slots: list[tuple[int, int, int, RecordKind, object]] = []
    for i, event in enumerate(events):
        if i in delays:
            slots.append((event.ts + delays[i], 0, i, "late", event))
        else:
            slots.append((event.ts, 0, i, "valid", event))

    for i in sorted(dup_rng.sample(range(n), min(n, round(config.duplicate_rate * n)))):
        soon = dup_rng.random() < 0.6
        delay = dup_rng.randint(0, 2000) if soon else dup_rng.randint(2000, max(2000, max_late))
        slots.append((slots[i][0] + delay, 1, i, "duplicate", events[i]))

    by_topic: dict[str, list[WireEvent]] = defaultdict(list)
    for event in events:
        by_topic[event.topic].append(event)
    # snapshots are a handful of records: garbage goes to the streams that have volume
    topics = [t.name for t in INPUT_TOPICS if by_topic[t.name] and t != MEMBERSHIP_SNAPSHOTS]
    weights = [len(by_topic[t]) ** 0.5 for t in topics]
    faults: dict[int, tuple[str, object]] = {}
    order: list[int] = []
    for j in range(round(config.malformed_rate * n) if topics else 0):
        if j % len(FAULTS) == 0:
            order = list(range(len(FAULTS)))
            bad_rng.shuffle(order)
        fault = FAULTS[order[j % len(FAULTS)]]
        topic = bad_rng.choices(topics, weights)[0]
        base = bad_rng.choice(by_topic[topic])
        at = slots[bad_rng.randrange(n)][0]
        record = OutRecord(topic, base.key, corrupt(bad_rng, fault, base), at, "malformed")
        # a funnel step is checked against the campaign registry, after the schema
        reason = ("unknown_step" if fault.name == "unknown_enum" and topic == FUNNEL_EVENTS.name
                  else fault.reason)
        faults[j] = (fault.name, reason)
        slots.append((at, 2, j, "malformed", record))

    slots.sort(key=lambda s: (s[0], s[1], s[2]))
    records: list[OutRecord] = []
    dead_letters: list[ExpectedDeadLetter] = []
    newest = -(2**62)
    for _, phase, index, kind, item in slots:
        if phase == 2:
            assert isinstance(item, OutRecord)
            name, reason = faults[index]
            dead_letters.append(ExpectedDeadLetter(topic=item.topic, reason=reason, fault=name,
                                                   position=len(records)))
            records.append(item)
            continue
        assert isinstance(item, WireEvent)
        if kind == "late" and newest <= item.ts:
            kind = "valid"  # nothing later was delivered before it: it is not out of order
        newest = max(newest, item.ts)
        records.append(OutRecord(item.topic, item.key, item.value, item.ts, kind))
    return records, dead_letters
