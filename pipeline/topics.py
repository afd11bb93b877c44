"""Every topic of the pipeline in one place: name, key, partitions, retention.

Chat and member events are keyed by community id so that all state of one
community lives on one partition (and one worker).  Topics are created
idempotently at start-up; retention is always set explicitly because some
brokers (Tansu) report only explicitly set configs.

Record timestamps are the broker's append time (``LogAppendTime``), never the
producer's: retention then counts from when a record arrived.  With producer
timestamps, a producer that stamps records with their event time (a backfill,
a bridge sending its buffer after an outage, our generator) hands the broker
records that are already "older than retention", and Kafka deletes them at its
next retention check, before any worker has read them.  Event time always comes
from the payload (``ts``), so nothing downstream loses by this.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from pipeline.app.settings import Settings
from pipeline.runtime.kafka_clients import kafka_python_options

log = logging.getLogger(__name__)

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A logical topic; the physical name adds ``Settings.topic_prefix``."""

    name: str
    key: str
    doc: str
    retention_ms: int = 7 * DAY_MS
    compacted: bool = False

    def configs(self) -> dict[str, str]:
        return {
            "retention.ms": str(self.retention_ms),
            "cleanup.policy": "compact" if self.compacted else "delete",
            "message.timestamp.type": "LogAppendTime",  # module docstring
        }


CHAT_MESSAGES = TopicSpec(
    "community.chat.messages.v1", "community_id", "Chat messages in community groups."
)
MEMBER_EVENTS = TopicSpec(
    "community.member.events.v1", "community_id", "Joins, leaves and removals."
)
TRANSACTIONS = TopicSpec("commerce.transactions.v1", "order_id", "Orders paid and refunded.")
MEMBERSHIP_SNAPSHOTS = TopicSpec(
    "community.membership.snapshots.v1",
    "community_id",
    "Member lists of communities at a time: anchors of member counts.",
    retention_ms=30 * DAY_MS,
)
FUNNEL_EVENTS = TopicSpec("marketing.funnel.events.v1", "campaign_id", "Campaign funnel steps.")
DEAD_LETTER = TopicSpec(
    "pipeline.dead-letter.v1",
    "source key",
    "Rejected input: original bytes as value, reason in dlq.* headers.",
    retention_ms=30 * DAY_MS,
)
ACTIVITY_MINUTE = TopicSpec(
    "metrics.community.activity.minute.v1",
    "<community_id>|<window_start>",
    "CommunityMinuteActivity per window; compacted, latest revision wins.",
    retention_ms=30 * DAY_MS,
    compacted=True,
)
ACTIVITY_HOUR = TopicSpec(
    "metrics.community.activity.hour.v1",
    "<community_id>|<window_start>",
    "CommunityHourActivity per window; compacted, latest revision wins.",
    retention_ms=90 * DAY_MS,
    compacted=True,
)
HEALTH_DAY = TopicSpec(
    "metrics.community.health.day.v1",
    "<community_id>|<day>",
    "CommunityDayHealth per community and local day; compacted, latest revision wins.",
    retention_ms=400 * DAY_MS,
    compacted=True,
)
ANOMALY_ALERTS = TopicSpec(
    "alerts.community-anomalies.v1",
    "anomaly_id",
    "CommunityAnomaly: a community metric far from its seasonal baseline, opened / resolved.",
    retention_ms=90 * DAY_MS,
)
FUNNEL_METRICS = TopicSpec(
    "metrics.campaign.funnel.v1",
    "<campaign_id>|<channel>|<window>|<window_start or all>",
    "CampaignFunnel per campaign, channel and window; compacted, latest revision wins.",
    retention_ms=400 * DAY_MS,
    compacted=True,
)
CONVERSION_ALERTS = TopicSpec(
    "alerts.campaign-conversion.v1",
    "alert_id",
    "ConversionAlert: a funnel step converting below target, opened / resolved.",
    retention_ms=90 * DAY_MS,
)
SALES_TOTALS = TopicSpec(
    "metrics.sales.totals.v1",
    "<dimension>|<dimension_value>|<window>|<window_start or all>",
    "SalesTotals per community / campaign / channel / all and window; compacted, "
    "latest revision wins.",
    retention_ms=400 * DAY_MS,
    compacted=True,
)
MEMBER_STATUS = TopicSpec(
    "metrics.member.status.v1",
    "<community_id>|<member_id>",
    "MemberStatusChange: churn_risk, win_back, reactivated, left, active; compacted, each "
    "member's latest status wins (highest revision).",
    retention_ms=400 * DAY_MS,
    compacted=True,
)
MEMBER_PROFILES = TopicSpec(
    "metrics.member.profile.v1",
    "<community_id>|<member_id>",
    "MemberProfile: KOC score with its components, rank and layer at a community's day end; "
    "compacted, each member's latest profile wins (highest revision).",
    retention_ms=400 * DAY_MS,
    compacted=True,
)
RETENTION_COHORTS = TopicSpec(
    "metrics.community.retention.cohort.v1",
    "<community_id>|<cohort_day>|<channel>",
    "CommunityRetentionCohort per community, local join day and channel (* for all); "
    "compacted, latest revision wins.",
    retention_ms=400 * DAY_MS,
    compacted=True,
)

SENTIMENT_ALERTS = TopicSpec(
    "alerts.sentiment.v1",
    "incident_id",
    "Alert per incident change (opened, upgraded, acknowledged, ...); highest revision wins.",
    retention_ms=90 * DAY_MS,
)
INCIDENT_COMMANDS = TopicSpec(
    "pipeline.incident-commands.v1",
    "community_id",
    "IncidentCommand: moderator actions, escalations, spread; co-partitioned with chat.",
    retention_ms=30 * DAY_MS,
)
NEGATIVE_SIGNALS = TopicSpec(
    "pipeline.negative-signals.v1",
    "fingerprint",
    "Negative messages re-keyed by complaint fingerprint, for cross-community spread.",
    retention_ms=2 * DAY_MS,
)
SENTIMENT_SCORES = TopicSpec(
    "pipeline.sentiment-scores.v1",
    "community_id",
    "Scored chat messages in chunks of up to 500, from the alert worker to the ClickHouse sink.",
    retention_ms=2 * DAY_MS,
)
JOURNEYS_BY_MEMBER = TopicSpec(
    "pipeline.journeys-by-member.v1",
    "none: packed entries keyed by member (person) id, on that key's partition",
    "Valid transactions, funnel events and community joins re-keyed by member, so one "
    "partition holds a member's orders, touches and joins (pipeline/egress/journeys.py).",
    retention_ms=7 * DAY_MS,
)
SALES_PARTIALS = TopicSpec(
    "pipeline.sales-partials.v1",
    "none: packed entries keyed by sales totals row, on that key's partition",
    "Partial SalesTotals of each source partition, sent to the partition of their row so "
    "one combiner owns each row.",
    retention_ms=7 * DAY_MS,
)
PRIVACY_ERASURES = TopicSpec(
    "pipeline.privacy-erasures.v1",
    "request id (one record per partition, sent to each)",
    "ErasureRequest of `pulse members delete`: the member and the table keys naming them "
    "on that partition, applied by every agent holding member state (compute/erasure.py).",
    retention_ms=1 * DAY_MS,
)

INPUT_TOPICS = (CHAT_MESSAGES, MEMBER_EVENTS, MEMBERSHIP_SNAPSHOTS, TRANSACTIONS, FUNNEL_EVENTS)
COMMUNITY_INPUTS = (CHAT_MESSAGES, MEMBER_EVENTS, MEMBERSHIP_SNAPSHOTS)
"""Co-partitioned by community id and consumed together by ``community-activity``."""
OUTPUT_TOPICS = (DEAD_LETTER, ACTIVITY_MINUTE, ACTIVITY_HOUR, HEALTH_DAY, ANOMALY_ALERTS,
                 MEMBER_STATUS, MEMBER_PROFILES, RETENTION_COHORTS, FUNNEL_METRICS,
                 CONVERSION_ALERTS, SALES_TOTALS, SENTIMENT_ALERTS)
INTERNAL_TOPICS = (INCIDENT_COMMANDS, NEGATIVE_SIGNALS, SENTIMENT_SCORES, JOURNEYS_BY_MEMBER,
                   SALES_PARTIALS, PRIVACY_ERASURES)
ALL_TOPICS = INPUT_TOPICS + OUTPUT_TOPICS + INTERNAL_TOPICS

ROLE_TOPICS: dict[str, tuple[TopicSpec, ...]] = {
    "alerts": (CHAT_MESSAGES, INCIDENT_COMMANDS, NEGATIVE_SIGNALS, SENTIMENT_ALERTS,
               ANOMALY_ALERTS, CONVERSION_ALERTS, PRIVACY_ERASURES),
    "metrics": INPUT_TOPICS + (SENTIMENT_SCORES, SENTIMENT_ALERTS, JOURNEYS_BY_MEMBER,
                               SALES_PARTIALS, PRIVACY_ERASURES),
}
"""Topics each worker role consumes (``pipeline.app.factory`` registers agents to match)."""


def consumed_topics(role: str) -> tuple[TopicSpec, ...]:
    if role == "all":
        return tuple(dict.fromkeys(ROLE_TOPICS["alerts"] + ROLE_TOPICS["metrics"]))
    return ROLE_TOPICS[role]


def ensure_topics(settings: Settings, specs: tuple[TopicSpec, ...] = ALL_TOPICS) -> list[str]:
    """Create missing topics; existing ones are left as they are. Returns created names."""
    admin = KafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.app_id}-admin",
        **kafka_python_options(settings),
    )
    created: list[str] = []
    try:
        existing = set(admin.list_topics())
        for spec in specs:
            name = settings.topic(spec.name)
            if name in existing:
                continue
            new = NewTopic(
                name,
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication,
                topic_configs=spec.configs(),
            )
            try:
                admin.create_topics([new])
                created.append(name)
            except TopicAlreadyExistsError:
                log.debug("topic %s created concurrently", name)
    finally:
        admin.close()
    if created:
        log.info("created topics: %s", ", ".join(created))
    return created
