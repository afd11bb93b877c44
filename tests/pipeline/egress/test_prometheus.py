"""Series the workers publish: bounded labels, and gauges replaced rather than left stale."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from pipeline.egress.prometheus import OTHER_COMMUNITY, PrometheusSeries


def samples(registry: CollectorRegistry, name: str) -> dict[tuple[str, ...], float]:
    return {tuple(s.labels.values()): s.value for family in registry.collect()
            for s in family.samples if s.name == name}


def test_incidents_past_sla_replace_the_previous_counts_and_cap_communities() -> None:
    registry = CollectorRegistry()
    series = PrometheusSeries(registry, max_communities=1)
    series.set_incidents_past_sla({("c1", "severe", "respond"): 1,
                                   ("c2", "mild", "respond"): 2, ("c3", "mild", "respond"): 3})
    assert samples(registry, "pulse_incidents_past_sla") == {
        ("c1", "severe", "respond"): 1, (OTHER_COMMUNITY, "mild", "respond"): 5}
    series.set_incidents_past_sla({("c1", "severe", "close_loop"): 1})   # acknowledged since
    assert samples(registry, "pulse_incidents_past_sla") == {("c1", "severe", "close_loop"): 1}
