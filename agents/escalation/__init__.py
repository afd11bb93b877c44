"""Sentiment escalation: negative feedback graded into incidents, their lifecycle and spread.

Pure logic over JSON-serialisable state; no Kafka, no Faust, no clock.  The
wiring scores a batch, turns messages into signals (``signals_for``), calls
``assess`` with the community's state, publishes the Alert records it returns
and saves the state; it sends ``spread_signals`` to the spread partition
(``observe``), and commands (moderators, ``due_commands`` timers, spread) to
``handle_command``.  Rules and defaults: ``policy`` and README.md.
"""

from agents.escalation.community import CommunityState
from agents.escalation.incident import Incident
from agents.escalation.incidents import assess, due_commands, handle_command
from agents.escalation.lexicon import TermMatch, match_terms
from agents.escalation.lifecycle import Rejected, apply_command, due_escalations
from agents.escalation.notify import PAGING_EVENTS, should_page, summary
from agents.escalation.policy import DEFAULT_POLICY, EscalationPolicy
from agents.escalation.signals import MessageSignal, scorable, signal_for, signals_for
from agents.escalation.spread import SpreadSignal, SpreadState, observe, spread_signals

__all__ = [
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
