-- Retention cohorts (docs/metrics.md, "Retention cohorts"): one row per community, local
-- join day and channel ('*' = the whole cohort), re-inserted when day 1, 7 and 30 after
-- the cohort close; ReplacingMergeTree(revision) keeps the highest revision per key, so
-- read with FINAL. retained_dN / retention_dN are NULL until that day has closed.
CREATE TABLE IF NOT EXISTS {db}.community_retention_cohort
(
    community_id   LowCardinality(String),
    cohort_day     Date,
    timezone       LowCardinality(String),
    channel        LowCardinality(String),
    cohort_size    UInt32,
    retained_d1    Nullable(UInt32),
    retained_d7    Nullable(UInt32),
    retained_d30   Nullable(UInt32),
    retention_d1   Nullable(Float64),
    retention_d7   Nullable(Float64),
    retention_d30  Nullable(Float64),
    is_final       UInt8,
    revision       UInt64,
    updated_at     DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(cohort_day)
ORDER BY (community_id, cohort_day, channel)
TTL cohort_day + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 1000;
