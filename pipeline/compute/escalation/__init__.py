"""Sentiment escalation: negative feedback graded into incidents, their lifecycle and spread.

Pure logic over JSON-serialisable state; no Kafka, no Faust, no clock.  The
wiring scores a batch, turns messages into signals (``signals_for``), calls
``assess`` with the community's state, publishes the Alert records it returns
and saves the state; it sends ``spread_signals`` to the spread partition
(``observe``), and commands (moderators, ``due_commands`` timers, spread) to
``handle_command``.  Rules and defaults: ``policy`` and README.md.
"""

from pipeline.compute.escalation.batch import (
    BatchOutcome,
    due_commands,
    grade_batch,
    incident_clock,
    open_by_tier,
    past_sla,
)
from pipeline.compute.escalation.community import CommunityState
from pipeline.compute.escalation.grading import assess, handle_command
from pipeline.compute.escalation.incident import Incident
from pipeline.compute.escalation.lexicon import TermMatch, match_terms
from pipeline.compute.escalation.lifecycle import Rejected, apply_command, due_escalations
from pipeline.compute.escalation.notify import PAGING_EVENTS, should_page, summary
from pipeline.compute.escalation.policy import DEFAULT_POLICY, EscalationPolicy
from pipeline.compute.escalation.signals import MessageSignal, scorable, signal_for, signals_for
from pipeline.compute.escalation.spread import SpreadSignal, SpreadState, observe, spread_signals

__all__ = [
    "BatchOutcome",
    "grade_batch",
    "incident_clock",
    "open_by_tier",
    "past_sla",
    "DEFAULT_POLICY",
    "PAGING_EVENTS",
    "CommunityState",
    "EscalationPolicy",
    "Incident",
    "MessageSignal",
    "Rejected",
    "SpreadSignal",
    "SpreadState",
    "TermMatch",
    "apply_command",
    "assess",
    "due_commands",
    "due_escalations",
    "handle_command",
    "match_terms",
    "observe",
    "scorable",
    "should_page",
    "signal_for",
    "signals_for",
    "spread_signals",
    "summary",
]
