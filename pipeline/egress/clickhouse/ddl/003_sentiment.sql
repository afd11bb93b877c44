-- Sentiment of every scored chat message, and every revision of every alert.

CREATE TABLE IF NOT EXISTS {db}.message_sentiment
(
    message_id      String,
    community_id    LowCardinality(String),
    sender_role     LowCardinality(String),
    ts              DateTime64(3, 'UTC'),
    score           Float32,
    polarity        LowCardinality(String),  -- positive / neutral / negative
    complaint_terms Array(String),
    crisis_terms    Array(String),
    ingested_at     DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (community_id, message_id)
TTL toDateTime(ts) + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 1000;

-- Positive / negative share per community and day (Asia/Shanghai): target positive >= 60%.
CREATE VIEW IF NOT EXISTS {db}.community_sentiment_daily AS
SELECT
    community_id,
    toDate(ts, 'Asia/Shanghai') AS day,
    count() AS scored_messages,
    countIf(polarity = 'positive') / count() AS positive_share,
    countIf(polarity = 'negative') / count() AS negative_share,
    avg(score) AS mean_score
FROM {db}.message_sentiment FINAL
WHERE sender_role = 'member'
GROUP BY community_id, day;

-- Every published alert revision (the incident timeline); the latest revision per
-- incident is the current state: argMax(..., revision) or LIMIT 1 BY incident_id.
CREATE TABLE IF NOT EXISTS {db}.sentiment_alerts
(
    incident_id       String,
    revision          UInt32,
    event             LowCardinality(String),
    tier              LowCardinality(String),
    status            LowCardinality(String),
    community_id      LowCardinality(String),
    community_ids     Array(String),
    window_start      DateTime64(3, 'UTC'),
    window_end        DateTime64(3, 'UTC'),
    opened_at         DateTime64(3, 'UTC'),
    updated_at        DateTime64(3, 'UTC'),
    negative_messages UInt32,
    members           UInt32,
    min_score         Float32,
    mean_score        Float32,
    heat              UInt32,
    matched_terms     Array(String),
    escalations       UInt16,
    respond_by        DateTime64(3, 'UTC'),
    close_loop_by     DateTime64(3, 'UTC'),
    record            String,  -- the full Alert record (JSON, personal data masked)
    published_at      DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(published_at)
PARTITION BY toYYYYMM(opened_at)
ORDER BY (incident_id, revision)
TTL toDateTime(opened_at) + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 1000;
