-- Access and erasure requests (PIPL): one row per `pulse members export | delete`,
-- written by pipeline/privacy/audit.py.  No member id: subject_digest is a keyed hash
-- (HMAC-SHA256 with PULSE_PRIVACY_AUDIT_KEY) or '' (the fact only); counts are rows or
-- records per store, pending the stores still holding the member afterwards.
-- No TTL: the record of a request outlives the data it was about.
CREATE TABLE IF NOT EXISTS {db}.privacy_requests
(
    request_id      String,
    action          LowCardinality(String),
    subject_digest  String,
    community_id    Nullable(String),
    operator        String,
    requested_at    DateTime64(3, 'UTC'),
    completed_at    DateTime64(3, 'UTC'),
    outcome         LowCardinality(String),
    counts          Map(String, UInt64),
    pending         Array(String),
    note            String
)
ENGINE = MergeTree
ORDER BY (requested_at, request_id);
