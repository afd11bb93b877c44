"""``generate``: run the simulation stages in order and deliver the result."""

from __future__ import annotations

from pipeline.devtools.generator import population
from pipeline.devtools.generator.anomalies import anomaly_truth, plan_anomalies
from pipeline.devtools.generator.campaigns import run_campaigns
from pipeline.devtools.generator.chat import simulate_chat
from pipeline.devtools.generator.clock import DAY_MS, from_ms
from pipeline.devtools.generator.config import GeneratorConfig
from pipeline.devtools.generator.episodes import plan_episodes
from pipeline.devtools.generator.faults import deliver
from pipeline.devtools.generator.orders import simulate_orders
from pipeline.devtools.generator.stream import GeneratedStream
from pipeline.devtools.generator.tally import build_truth
from pipeline.devtools.generator.wire import serialise
from pipeline.devtools.generator.world import build_world, start_end_ms
from schemas.base import utc_now
from schemas.decode import DEFAULT_POLICY


def _check_plausible(start_ms: int, end_ms: int) -> None:
    """Refuse periods whose valid events the edge would reject as implausibly timed."""
    history = from_ms(start_ms - population.HISTORY_DAYS * DAY_MS)
    if history < DEFAULT_POLICY.earliest:
        raise ValueError(f"start too early: member history would begin {history.isoformat()}, "
                         f"before {DEFAULT_POLICY.earliest.date()}")
    latest = utc_now() + DEFAULT_POLICY.max_future_skew
    if from_ms(end_ms) > latest:
        raise ValueError(f"period ends {from_ms(end_ms).isoformat()}, in the future: its events "
                         f"would be rejected as timestamp_out_of_range")


def generate(config: GeneratorConfig) -> GeneratedStream:
    """A deterministic stream (same config and start, same bytes) and its ground truth."""
    start_ms, end_ms = start_end_ms(config)
    _check_plausible(start_ms, end_ms)
    world = build_world(config, start_ms, end_ms)
    population.seed_members(world)
    campaigns = run_campaigns(world)
    population.assign_leaves(world)
    population.choose_silent(world)
    episodes = plan_episodes(world) if config.episodes else []
    injections = plan_anomalies(world, episodes, campaigns)
    messages = simulate_chat(world, episodes, campaigns, injections)
    orders = simulate_orders(world, campaigns)
    events = serialise(world, messages, campaigns, orders)
    rngs = {name: world.rng(name) for name in ("late", "duplicate", "malformed")}
    records, dead_letters = deliver(events, config, rngs)
    truth = build_truth(world, messages, episodes, campaigns, orders, records, dead_letters,
                        anomaly_truth(world, injections))
    return GeneratedStream(records, truth)
