"""The escalation policy: every threshold, window and deadline in one frozen value.

Tier rules (all counts are over the open incident's negative messages within
``cluster_window_minutes`` of the latest one; tiers only go up):

=====================================================  ========  =====================
rule                                                   tier      default
=====================================================  ========  =====================
one negative message (score, or lexicon and not        mild      score < 0.03, or a
clearly positive)                                                 term and score < 0.8
complaint terms: >= 2 distinct terms, or terms from    moderate  2
>= 2 members
one member posts repeated negatives                    moderate  3 in 30 min
small cluster: distinct members negative               moderate  3 in 30 min
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

Why the score thresholds are so far apart: on the generator's ordinary chat the
scorer puts ~10% of messages below 0.3 and ~1% below 0.1 (e.g. "我家也是这样，
后来慢慢就好了" scores 0.06), while real complaints often score 0.2-0.5.  So the
score alone only counts when it is extreme, and grading rests on the lexicons;
the score still keeps clearly positive messages that mention a term out
("客服很耐心" 0.82, "售后处理得很好" 0.93), while a complaint the scorer misreads
("感觉这次的身体乳没有上次好用了" 0.72, for 好用) still counts.
``pipeline/compute/escalation/README.md`` is the operators' copy of this table.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.alerts import Tier

COMPLAINT_TERMS: tuple[str, ...] = (
    "投诉", "退款", "退货", "换货", "质量问题", "客服", "售后", "差评", "不满意",
    "欺骗", "被骗", "骗人", "骗钱", "假货", "坑人", "三无",
)
CRISIS_TERMS: tuple[str, ...] = (
    "曝光", "维权", "起诉", "律师", "315", "12315", "媒体", "记者", "食物中毒", "泄露",
    "骗子", "报警", "消协", "集体诉讼",
)
DISSATISFACTION_TERMS: tuple[str, ...] = (
    "失望", "不太满意", "无语", "坏了", "破损", "发错", "没收到", "没发货", "瑕疵",
    "没有上次好", "不如上次", "太慢", "没人回", "不回复", "联系不上", "打不通", "难用",
    "太差", "差劲", "上当", "变质", "过期", "烂脸", "过敏",
)


class EscalationPolicy(BaseModel):
    """Thresholds of the tier rules, deadlines and memory bounds (see the module table)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # What counts as negative feedback.
    negative_score: float = Field(
        0.03, ge=0, le=1,
        description="A message scoring below this is negative on its score alone.",
    )
    lexicon_max_score: float = Field(
        0.8, ge=0, le=1,
        description="A message with a lexicon term is negative unless it scores this or more "
        "(clearly positive, e.g. praise for 客服).",
    )
    complaint_terms: tuple[str, ...] = Field(
        COMPLAINT_TERMS, description="投诉类: complaints that need more than one reply.",
    )
    crisis_terms: tuple[str, ...] = Field(
        CRISIS_TERMS, description="危机类: public-relations risk; any one makes it severe.",
    )
    dissatisfaction_terms: tuple[str, ...] = Field(
        DISSATISFACTION_TERMS,
        description="不满类: mark a message negative but do not raise the tier.",
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
        if self.negative_score > self.lexicon_max_score:
            raise ValueError("negative_score must not exceed lexicon_max_score")
        return self

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
