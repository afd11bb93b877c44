-- Raw input events, one row per distinct event. ReplacingMergeTree collapses
-- at-least-once duplicates by the ORDER BY key (query with FINAL for exact
-- results); non_replicated_deduplication_window drops retried identical
-- batches (insert_deduplication_token) at insert time.
-- Chat text is stored with personal data masked (minimum necessary data).

CREATE TABLE IF NOT EXISTS {db}.chat_messages
(
    message_id      String,
    community_id    LowCardinality(String),
    platform        LowCardinality(String),
    member_id       String,
    sender_role     LowCardinality(String),
    msg_type        LowCardinality(String),
    text            String,
    reply_to        Nullable(String),
    mentions        Array(String),
    ts              DateTime64(3, 'UTC'),
    kafka_partition UInt16,
    kafka_offset    UInt64,
    ingested_at     DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (community_id, message_id)
TTL toDateTime(ts) + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS {db}.member_events
(
    event_id        String,
    community_id    LowCardinality(String),
    platform        LowCardinality(String),
    member_id       String,
    action          LowCardinality(String),
    inviter_id      Nullable(String),
    channel         Nullable(String),
    qr_code_id      Nullable(String),
    ts              DateTime64(3, 'UTC'),
    kafka_partition UInt16,
    kafka_offset    UInt64,
    ingested_at     DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (community_id, event_id)
TTL toDateTime(ts) + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS {db}.transactions
(
    order_id        String,
    status          LowCardinality(String),
    member_id       String,
    community_id    Nullable(String),
    campaign_id     Nullable(String),
    channel         Nullable(String),
    amount_fen      Int64,
    currency        LowCardinality(String),
    ts              DateTime64(3, 'UTC'),
    kafka_partition UInt16,
    kafka_offset    UInt64,
    ingested_at     DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (order_id, status)
TTL toDateTime(ts) + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS {db}.funnel_events
(
    event_id        String,
    campaign_id     LowCardinality(String),
    person_id       String,
    step            LowCardinality(String),
    channel         Nullable(String),
    community_id    Nullable(String),
    ts              DateTime64(3, 'UTC'),
    kafka_partition UInt16,
    kafka_offset    UInt64,
    ingested_at     DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (campaign_id, event_id)
TTL toDateTime(ts) + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 1000;

-- Rejected input, one row per source offset (the payload stays in the
-- dead-letter topic, which has restricted access; only metadata lands here).
CREATE TABLE IF NOT EXISTS {db}.dead_letters
(
    source_topic     LowCardinality(String),
    source_partition UInt16,
    source_offset    UInt64,
    reason           LowCardinality(String),
    detail           String,
    size_bytes       UInt32,
    rejected_at      DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(rejected_at)
ORDER BY (source_topic, source_partition, source_offset)
TTL toDateTime(rejected_at) + INTERVAL 90 DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS {db}.membership_snapshots
(
    snapshot_id     String,
    community_id    LowCardinality(String),
    platform        LowCardinality(String),
    member_ids      Array(String),
    ts              DateTime64(3, 'UTC'),
    kafka_partition UInt16,
    kafka_offset    UInt64,
    ingested_at     DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (community_id, snapshot_id)
TTL toDateTime(ts) + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 1000;
