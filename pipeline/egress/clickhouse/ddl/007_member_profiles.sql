-- Member profiles (docs/metrics.md, "KOC and member layers"): one row per community, local
-- day and member, written when the community's day closes; ReplacingMergeTree(revision)
-- keeps the highest revision per key, so read with FINAL. The leaderboard is the latest
-- day's rows by rank; member ids are the platforms' pseudonymous ids.
CREATE TABLE IF NOT EXISTS {db}.member_profile
(
    community_id        LowCardinality(String),
    member_id           String,
    member_ref          String,
    day                 Date,
    timezone            LowCardinality(String),
    layer               LowCardinality(String),
    is_koc              UInt8,
    rank                Nullable(UInt32),
    score               Float64,
    points_messages     Float64,
    points_engagement   Float64,
    points_content      Float64,
    points_sentiment    Float64,
    points_invitations  Float64,
    real_interactions   UInt32,
    active_days         UInt8,
    replies_received    UInt32,
    mentions_received   UInt32,
    avg_text_length     Nullable(Float64),
    positive_share      Nullable(Float64),
    scored_messages     UInt32,
    invited_joins       UInt32,
    revision            UInt64,
    updated_at          DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(day)
ORDER BY (community_id, day, member_id)
TTL day + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 1000;

-- Layer counts on the day report (NULL until the day closes).
ALTER TABLE {db}.community_health_day ADD COLUMN IF NOT EXISTS koc_members Nullable(UInt32);
ALTER TABLE {db}.community_health_day ADD COLUMN IF NOT EXISTS core_members Nullable(UInt32);
ALTER TABLE {db}.community_health_day
    ADD COLUMN IF NOT EXISTS participating_members Nullable(UInt32);
ALTER TABLE {db}.community_health_day ADD COLUMN IF NOT EXISTS onlooker_members Nullable(UInt32);
