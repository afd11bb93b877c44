"""Runtime configuration from environment variables (``PULSE_*``) or ``.env``.

The embedded stack and a production deployment run the same code; only these
values differ (see README "Configuration").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class Settings(BaseSettings):
    """Every knob of a worker, generator or CLI run."""

    model_config = SettingsConfigDict(env_prefix="PULSE_", env_file=".env", extra="ignore")

    # Kafka
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="host:port[,host:port]")
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_session_timeout_s: float = Field(
        6.0, description="Consumer group session timeout; short for the embedded broker."
    )
    kafka_heartbeat_interval_s: float = 1.0
    kafka_verify_end_offsets: bool = Field(
        True,
        description="Confirm end offsets by reading partition tails before table recovery "
        "(works around brokers that under-report them; harmless elsewhere).",
    )
    kafka_fetch_max_wait_ms: int = Field(
        100,
        ge=1,
        description="Longest a fetch waits at the broker for data (Faust fixes 1500 ms); "
        "bounds the delay on brokers that answer a waiting fetch only at its timeout.",
    )
    topic_prefix: str = Field("", description="Prefix for every topic name (isolation).")
    topic_partitions: int = Field(4, ge=1)
    topic_replication: int = Field(1, ge=1)

    # Faust worker
    app_id: str = "community-pulse"
    worker_role: Literal["all", "alerts", "metrics"] = Field(
        "all",
        description="all: every agent in one worker; alerts: chat to incidents and alert "
        "delivery (no ClickHouse); metrics: activity, raw events, ClickHouse sinks, console. "
        "Split roles are separate consumer groups, so alerts never queue behind metrics.",
    )
    store: str = Field("memory://", description="Faust table store: memory:// or rocksdb://")
    data_dir: Path = Field(Path("var"), description="Faust state and local files.")
    store_memory_mib: int = Field(
        256, ge=16,
        description="RocksDB memory (write buffers and block caches) shared by all of a "
        "worker's tables and partitions, with rocksdb://.",
    )
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    batch_max: int = Field(10_000, ge=1, description="Max events handled per agent batch.")
    gc_young_threshold: int = Field(
        20_000, ge=0,
        description="Allocations between young garbage collections, start-up objects frozen "
        "(pipeline/runtime/gc_tuning.py); 0 keeps CPython's defaults (700, with full-collection "
        "pauses up to ~140 ms under load).",
    )
    batch_within_s: float = Field(
        0.5, gt=0, description="Max wait to fill a batch: fewer, larger sink writes vs latency."
    )
    commit_stall_check_s: float = Field(
        15.0, gt=0,
        description="How often the commit-stall watchdog reads the committed and end offsets "
        "of the assigned input partitions (pipeline/runtime/watchdog.py).",
    )
    commit_stall_unhealthy_s: float = Field(
        300.0, gt=0,
        description="A partition with records beyond its committed offset whose committed "
        "offset has not moved for this long turns /health to 503 (status stalled).",
    )
    commit_stall_rewind_s: float = Field(
        120.0, ge=0,
        description="A partition stalled this long whose records the worker has read past "
        "its committed offset, with none of them queued or being processed, lost them "
        "inside the worker: it is fetched again from its committed offset (0: never).",
    )
    shutdown_timeout_s: float = Field(
        60.0, gt=0,
        description="A worker asked to stop (SIGTERM, SIGINT, its parent gone) that has not "
        "exited after this long exits at once (code 75): a stop waiting on an unreachable "
        "broker must not hold ports, state locks and CPU forever. Uncommitted input is "
        "processed again by the next worker (at-least-once).",
    )

    # Event time
    allowed_lateness_s: int = Field(
        900, ge=0, description="How long after the watermark passes a window it still updates."
    )
    hour_allowed_lateness_s: int = Field(
        3600, ge=0,
        description="Lateness of hour and day windows: a message up to this late (in event "
        "time) still counts for its hour and its day.",
    )
    community_timezone: str = Field(
        "Asia/Shanghai", description="Zone whose midnights bound a community's day."
    )
    slot_minutes: int = Field(
        60, ge=1, le=180, description="Width of each 3+2 posting slot (9:00, 12:00, 20:00)."
    )
    copy_window_s: int = Field(
        600, ge=0, description="A member text repeating an earlier one this soon is a copy."
    )
    max_future_skew_s: int = Field(3600, ge=0, description="Reject events further in the future.")

    # Member profiles (docs/metrics.md, "KOC and member layers")
    koc_share: float = Field(
        0.06, gt=0, le=1,
        description="Share of a community's active members (a real interaction in 30 days) "
        "flagged KOC, top by score (5-8% expected).",
    )
    koc_min_score: float = Field(
        30.0, ge=0, le=100, description="Lowest KOC score (0-100) a flagged member may have."
    )
    core_active_days: int = Field(
        10, ge=1, le=30,
        description="Days of the last 30 with a real interaction that make a member core "
        "(核心) without being KOC.",
    )

    # Campaigns
    campaigns_file: Path | None = Field(
        None,
        description="Campaign registry (TOML: ids, names, steps, thresholds, peak days; "
        "pipeline/compute/campaigns/registry.py). Unlisted campaigns get the default six steps.",
    )
    attribution_window_days: int = Field(
        7, ge=0, le=90,
        description="Touches (campaign funnel events with a channel) at most this long before "
        "a join, participation or order are credited with it (first and last touch).",
    )
    conversion_check_interval_s: int = Field(
        300, ge=1,
        description="Event time between conversion judgements of a campaign that is not "
        "receiving events (its partition's watermark still moves).",
    )

    # Sinks
    clickhouse_url: str = Field(
        "chdb://var/clickhouse",
        description="chdb://<dir> (embedded) or http(s)://user:password@host:port",
    )
    clickhouse_database: str = "pulse"
    clickhouse_retention_days: int = Field(
        400, ge=1, le=25_000,  # event time + TTL must stay inside DateTime (ends 2106)
        description="Days of event-time history the tables keep (their TTL), applied when a "
        "table is created; longer for backfills of old history, and in tests, whose streams "
        "start on a fixed date.",
    )
    privacy_audit_key: SecretStr | None = Field(
        None,
        description="Key of the keyed hash (HMAC-SHA256) of the member id in the audit rows "
        "of `pulse members export | delete`; unset, the rows record the fact only.",
    )
    prometheus_max_communities: int = Field(
        500, ge=1, description="Label cardinality cap: further communities share '_other'."
    )

    # Sentiment and alerts
    sentiment_mode: Literal["improved", "snownlp"] = Field(
        "improved", description="Scorer: improved (default) or snownlp (SnowNLP-identical)."
    )
    sentiment_workers: int = Field(
        1, ge=0, description="Scoring processes (0 = in the worker process, for tests)."
    )
    positive_score: float | None = Field(
        None, ge=0, le=1,
        description="Score at or above which a message counts as positive in share metrics "
        "(unset: the scorer mode's calibration, pipeline/compute/escalation/data).",
    )
    negative_score: float | None = Field(
        None, ge=0, le=1,
        description="Unset (default): a message is negative in share metrics exactly when "
        "escalation grades it negative feedback; set: also whenever it scores below this.",
    )
    alert_batch_within_s: float = Field(
        0.1, gt=0, description="Max wait to fill a sentiment batch: bounds alert latency."
    )
    escalation_policy_file: Path | None = Field(
        None,
        description="JSON file overriding escalation rule defaults (pipeline/compute/escalation).",
    )
    escalation_check_interval_s: float = Field(
        30.0, gt=0, description="How often unacknowledged incidents are checked for escalation."
    )
    alertmanager_url: str | None = Field(
        None, description="Alertmanager base URL (API v2), e.g. http://alertmanager:9093"
    )
    wecom_webhook_url: SecretStr | None = Field(
        None, description="WeCom group robot webhook URL (contains the robot key)."
    )
    console_token: SecretStr | None = Field(
        None, description="Shared administrator token of the moderator console and its API "
        "(account 'admin', all communities; holders name themselves when they act)."
    )
    console_access_file: Path | None = Field(
        None, description="TOML file of console accounts: role, assigned communities or "
        "community groups, and the environment variable holding each token "
        "(pipeline/console/access.py)."
    )
    public_url: str = Field(
        "http://127.0.0.1:6066", description="Base URL of the worker's web server, for links."
    )

    def topic(self, base_name: str) -> str:
        """Physical topic name for a logical one."""
        return f"{self.topic_prefix}{base_name}"

    @property
    def group_id(self) -> str:
        """Faust app id and consumer group of this worker's role."""
        return self.app_id if self.worker_role == "all" else f"{self.app_id}-{self.worker_role}"

    @property
    def bootstrap_servers(self) -> list[str]:
        return [s.strip() for s in self.kafka_bootstrap.split(",") if s.strip()]


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with explicit overrides winning."""
    return Settings(**overrides)
