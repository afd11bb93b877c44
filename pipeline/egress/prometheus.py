"""Prometheus metrics of the pipeline (live monitoring and alert rules).

Conventions: ``pulse_`` prefix, ``_total`` counters, base units.  Per-community
series are capped (``Settings.prometheus_max_communities``); beyond the cap a
community is reported as ``_other``: the full detail lives in ClickHouse.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

OTHER_COMMUNITY = "_other"


class PrometheusSeries:
    """All metric families, registered once per registry."""

    def __init__(self, registry: CollectorRegistry = REGISTRY, max_communities: int = 500):
        self.max_communities = max_communities
        self._communities: set[str] = set()
        self._watermarks: dict[str, float] = {}
        self.events_consumed = Counter(
            "pulse_events_consumed_total", "Records read from input topics.", ["topic"],
            registry=registry,
        )
        self.events_processed = Counter(
            "pulse_events_processed_total",
            "Records whose batch completed: every sink written, ready to commit.", ["topic"],
            registry=registry,
        )
        self.events_valid = Counter(
            "pulse_events_valid_total", "Records that passed edge validation.", ["topic"],
            registry=registry,
        )
        self.events_duplicate = Counter(
            "pulse_events_duplicate_total", "Redelivered events recognised and ignored.",
            ["topic"], registry=registry,
        )
        self.events_too_late = Counter(
            "pulse_events_too_late_total",
            "Events arriving after their window closed (kept in raw storage only).",
            ["topic"], registry=registry,
        )
        self.window_too_late = Counter(
            "pulse_window_too_late_total",
            "Accepted input events too late for their window, by window size (minute windows "
            "take chat only; hour and day windows take chat, membership and snapshots).",
            ["window"], registry=registry,
        )
        self.membership_conflicts = Counter(
            "pulse_membership_conflicts_total",
            "Membership events contradicting the state, ignored (docs/metrics.md).",
            ["conflict"], registry=registry,
        )
        self.community_day = Gauge(
            "pulse_community_day",
            "The community's most recent closed (final) day: one series per health metric "
            "(docs/metrics.md; rates as fractions).",
            ["community", "metric"], registry=registry,
        )
        self.community_retention = Gauge(
            "pulse_community_retention",
            "Retention of the community's latest join cohort (all channels) whose day 1, 7 or "
            "30 has closed, by horizon d1 / d7 / d30 (fraction; day-7 target 0.6).",
            ["community", "horizon"], registry=registry,
        )
        self.member_status_changes = Counter(
            "pulse_member_status_changes_total",
            "Members' silence status changes published, by new status (churn_risk, win_back, "
            "reactivated, left, active).", ["status"], registry=registry,
        )
        self.anomalies = Counter(
            "pulse_community_anomalies_total",
            "Community anomalies opened or resolved, by metric, event and severity.",
            ["metric", "event", "severity"], registry=registry,
        )
        self.campaign_step_persons = Gauge(
            "pulse_campaign_step_persons",
            "Distinct persons who reached each funnel step of a registered campaign (whole "
            "campaign, all channels).", ["campaign", "step"], registry=registry,
        )
        self.campaign_conversion = Gauge(
            "pulse_campaign_conversion",
            "Whole-campaign conversion of each step of a registered campaign (fraction; "
            "target 0.85 unless the registry says otherwise).",
            ["campaign", "transition"], registry=registry,
        )
        self.campaign_conversion_alerts = Counter(
            "pulse_campaign_conversion_alerts_total",
            "Conversion alerts opened or resolved, by campaign (unregistered ones share a label).",
            ["campaign", "event"], registry=registry,
        )
        self.sales = Gauge(
            "pulse_sales",
            "Cumulative sales of a dimension value: orders, gmv_fen, refund_fen, net_gmv_fen, "
            "paying_members, repeat_members (communities capped like other series; campaigns "
            "from the registry; channels are in ClickHouse only).",
            ["dimension", "value", "metric"], registry=registry,
        )
        self.sales_anomalies = Counter(
            "pulse_sales_anomalies_total",
            "Transactions handled by a documented rule: duplicate, conflict, refund_before_order, "
            "refund_exceeds_order, unmatched_refund.", ["kind"], registry=registry,
        )
        self.dead_letters = Counter(
            "pulse_dead_letters_total", "Records sent to the dead-letter topic.",
            ["topic", "reason"], registry=registry,
        )
        self.community_messages = Counter(
            "pulse_community_messages_total", "Distinct chat messages counted, by community.",
            ["community"], registry=registry,
        )
        self.community_last_minute = Gauge(
            "pulse_community_last_minute_messages",
            "Messages in the community's most recent closed (final) minute window.",
            ["community"], registry=registry,
        )
        self.watermark = Gauge(
            "pulse_watermark_timestamp_seconds", "Highest event time seen, per input topic.",
            ["topic"], registry=registry,
        )
        self.batch_duration = Histogram(
            "pulse_batch_duration_seconds", "Time to handle one agent batch.", ["agent"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.sink_rows = Counter(
            "pulse_sink_rows_total", "Rows written to a sink.", ["sink", "table"],
            registry=registry,
        )
        self.sink_errors = Counter(
            "pulse_sink_errors_total", "Failed sink writes (retried).", ["sink"],
            registry=registry,
        )
        self.sink_errors.labels("clickhouse")  # 0, not "no data", on a dashboard
        self.sink_write_duration = Histogram(
            "pulse_sink_write_duration_seconds", "Time of one sink write.", ["sink"],
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=registry,
        )
        self.sentiment_messages = Counter(
            "pulse_sentiment_messages_total",
            "Scored member text messages by polarity (positive share target >= 60%).",
            ["community", "polarity"], registry=registry,
        )
        self.alerts = Counter(
            "pulse_alerts_total", "Alert records published, by tier and lifecycle event.",
            ["tier", "event"], registry=registry,
        )
        self.open_incidents = Gauge(
            "pulse_open_incidents", "Incidents not yet resolved, by tier (this worker).",
            ["tier"], registry=registry,
        )
        self.incidents_past_sla = Gauge(
            "pulse_incidents_past_sla",
            "Incidents whose deadline passed with the step not done, by community, tier and "
            "SLA: respond (not acknowledged within 3 h), close_loop (not followed up within "
            "48 h); this worker's partitions.", ["community", "tier", "sla"], registry=registry,
        )
        self.alert_latency = Histogram(
            "pulse_alert_latency_seconds",
            "From the triggering message's arrival at the broker (its Kafka timestamp, "
            "LogAppendTime) to the alert being published.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=registry,
        )
        self.alertmanager_notifications = Counter(
            "pulse_alertmanager_notifications_total",
            "Alerts Alertmanager routed back to the worker's webhook, by tier and status: "
            "proves routing end to end.",
            ["tier", "status"], registry=registry,
        )
        self.alert_deliveries = Counter(
            "pulse_alert_deliveries_total", "Alert delivery attempts by channel and outcome.",
            ["channel", "outcome"], registry=registry,
        )
        self.alert_delivery_duration = Histogram(
            "pulse_alert_delivery_seconds", "Time to deliver an alert, retries included.",
            ["channel"], buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120), registry=registry,
        )

        self.commit_stall = Gauge(
            "pulse_partition_commit_stall_seconds",
            "How long an assigned input partition has had records beyond its committed offset "
            "without that offset moving (0: committing or caught up); series of revoked "
            "partitions are removed (pipeline/runtime/watchdog.py).",
            ["topic", "partition"], registry=registry,
        )
        self.partition_rewinds = Counter(
            "pulse_partition_rewinds_total",
            "Stalled partitions fetched again from their committed offset because records "
            "read past it were neither queued nor being processed (pipeline/runtime/"
            "watchdog_timer.py): each one a recovered loss inside the worker, to report.",
            ["topic"], registry=registry,
        )

    def advance_watermark(self, topic: str, event_time_s: float) -> None:
        """Raise the topic's watermark gauge (never lowers it)."""
        if event_time_s > self._watermarks.get(topic, 0.0):
            self._watermarks[topic] = event_time_s
            self.watermark.labels(topic).set(event_time_s)

    def set_incidents_past_sla(self, counts: Mapping[tuple[str, str, str], int]) -> None:
        """Replace every series of ``pulse_incidents_past_sla``: an incident acknowledged or
        followed up since the last call drops out instead of staying at its old count."""
        merged: dict[tuple[str, str, str], int] = {}
        for (community, tier, sla), count in counts.items():
            labels = (self.community_label(community), tier, sla)
            merged[labels] = merged.get(labels, 0) + count
        self.incidents_past_sla.clear()
        for labels, count in merged.items():
            self.incidents_past_sla.labels(*labels).set(count)

    def community_label(self, community_id: str) -> str:
        """Bounded label value for a community."""
        if community_id in self._communities:
            return community_id
        if len(self._communities) < self.max_communities:
            self._communities.add(community_id)
            return community_id
        return OTHER_COMMUNITY
