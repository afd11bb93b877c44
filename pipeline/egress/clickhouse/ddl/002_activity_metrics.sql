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
    is_final      UInt8,
    revision      UInt64,
    updated_at    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(window_start)
ORDER BY (community_id, window_start)
TTL window_start + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 1000;
