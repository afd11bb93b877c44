-- Per-community event-time windows. Each update of a window is inserted as a
-- new row; ReplacingMergeTree(revision) keeps the highest revision per window,
-- so replays after a crash (same or lower revision) never change the result.
-- Read with FINAL (or argMax(..., revision)).

CREATE TABLE IF NOT EXISTS {db}.community_activity_minute
(
    community_id  LowCardinality(String),
    window_start  DateTime('UTC'),
    window_end    DateTime('UTC'),
    messages      UInt32,
    speakers      UInt32,
    senders       UInt32 DEFAULT 0,
    is_final      UInt8,
    revision      UInt64,
    updated_at    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(window_start)
ORDER BY (community_id, window_start)
TTL window_start + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 1000;

-- Hour windows: activity, interaction and membership (docs/metrics.md).
CREATE TABLE IF NOT EXISTS {db}.community_activity_hour
(
    community_id        LowCardinality(String),
    window_start        DateTime('UTC'),
    window_end          DateTime('UTC'),
    messages            UInt32,
    member_messages     UInt32,
    staff_messages      UInt32,
    bot_messages        UInt32,
    interactions        UInt32,
    real_interactions   UInt32,
    mechanical_messages UInt32,
    copy_messages       UInt32,
    speakers            UInt32,
    active_members      UInt32,
    senders             UInt32,
    slot_interactions   UInt32,
    joins               UInt32,
    leaves              UInt32,
    removals            UInt32,
    net_growth          Int32,
    member_count        Int32,
    member_count_anchor LowCardinality(String),
    speaking_rate       Nullable(Float64),
    scored_messages     UInt32,
    positive_messages   UInt32,
    negative_messages   UInt32,
    negative_share      Nullable(Float64),
    is_final            UInt8,
    revision            UInt64,
    updated_at          DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(window_start)
ORDER BY (community_id, window_start)
TTL window_start + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 1000;

-- Local days (Asia/Shanghai by default): the community health report.
CREATE TABLE IF NOT EXISTS {db}.community_health_day
(
    community_id                LowCardinality(String),
    day                         Date,
    timezone                    LowCardinality(String),
    window_start                DateTime('UTC'),
    window_end                  DateTime('UTC'),
    messages                    UInt32,
    member_messages             UInt32,
    staff_messages              UInt32,
    bot_messages                UInt32,
    interactions                UInt32,
    real_interactions           UInt32,
    mechanical_messages         UInt32,
    copy_messages               UInt32,
    speakers                    UInt32,
    dau                         UInt32,
    wau                         UInt32,
    mau                         UInt32,
    stickiness                  Nullable(Float64),
    ugc_messages                UInt32,
    ugc_share                   Nullable(Float64),
    slot_interactions           UInt32,
    slot_share                  Nullable(Float64),
    hourly_interactions         Array(UInt32),
    joins                       UInt32,
    leaves                      UInt32,
    removals                    UInt32,
    net_growth                  Int32,
    member_count                Int32,
    member_count_anchor         LowCardinality(String),
    membership_conflicts        UInt32,
    churn_risk_members          Nullable(UInt32),
    win_back_members            Nullable(UInt32),
    join_rate                   Nullable(Float64),
    leave_rate                  Nullable(Float64),
    speaking_rate               Nullable(Float64),
    interaction_rate            Nullable(Float64),
    real_interaction_rate       Nullable(Float64),
    weekly_active_rate          Nullable(Float64),
    interactions_per_member_30d Nullable(Float64),
    hot_words                   Array(Tuple(word String, count UInt32)),
    scored_messages             UInt32,
    positive_messages           UInt32,
    negative_messages           UInt32,
    positive_share              Nullable(Float64),
    negative_share              Nullable(Float64),
    is_final                    UInt8,
    revision                    UInt64,
    updated_at                  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(day)
ORDER BY (community_id, day)
TTL day + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 1000;

-- Anomalies of community metrics against their seasonal baselines: one row per
-- revision (1 opened, 2 resolved); the latest is the anomaly's state.
CREATE TABLE IF NOT EXISTS {db}.community_anomalies
(
    anomaly_id      String,
    community_id    LowCardinality(String),
    metric          LowCardinality(String),
    direction       LowCardinality(String),
    status          LowCardinality(String),
    window_start    DateTime('UTC'),
    window_end      DateTime('UTC'),
    expected        Float64,
    observed        Float64,
    deviation       Float64,
    fraction        Float64,
    severity        LowCardinality(String),
    revision        UInt8,
    updated_at      DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(window_start)
ORDER BY (community_id, anomaly_id)
TTL window_start + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 1000;

-- Silence status changes of members (docs/metrics.md, "Silent members"): one row per
-- change; a replay re-inserts the same row (same key and revision).
CREATE TABLE IF NOT EXISTS {db}.member_status_changes
(
    community_id  LowCardinality(String),
    member_id     String,
    status        LowCardinality(String),
    previous      LowCardinality(String),
    at            DateTime64(3, 'UTC'),
    silent_since  Nullable(DateTime64(3, 'UTC')),
    revision      UInt64,
    updated_at    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(at)
ORDER BY (community_id, member_id, at, status)
TTL toDateTime(at) + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 1000;

-- Each member's latest status per community (the compacted topic's content).
CREATE VIEW IF NOT EXISTS {db}.member_status_latest AS
SELECT community_id, member_id, argMax(status, revision) AS status,
       max(at) AS since, argMax(silent_since, revision) AS silent_since
FROM {db}.member_status_changes FINAL
GROUP BY community_id, member_id;
