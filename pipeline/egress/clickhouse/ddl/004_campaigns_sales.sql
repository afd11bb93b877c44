-- Campaign funnels, conversion alerts and sales totals (docs/metrics.md,
-- "Campaigns and sales"). Like the activity windows, each update is a new row and
-- ReplacingMergeTree(revision) keeps the highest revision per key: read with FINAL.

-- One row per campaign, channel ('*' = all) and window; window_start is
-- 1970-01-01 for the whole-campaign window. Steps are parallel arrays in the
-- campaign's step order.
CREATE TABLE IF NOT EXISTS {db}.campaign_funnel
(
    campaign_id          LowCardinality(String),
    campaign_name        String,
    registered           UInt8,
    channel              LowCardinality(String),
    window               LowCardinality(String),
    window_start         DateTime('UTC'),
    window_end           Nullable(DateTime('UTC')),
    phase                LowCardinality(String),
    entered              UInt32,
    overall_conversion   Nullable(Float64),
    step_names           Array(LowCardinality(String)),
    step_persons         Array(UInt32),
    step_conversion      Array(Nullable(Float64)),
    step_median_seconds  Array(Nullable(Float64)),
    step_threshold       Array(Float64),
    revision             UInt64,
    updated_at           DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(window_start)
ORDER BY (campaign_id, channel, window, window_start)
TTL window_start + INTERVAL {retention_days} DAY
    WHERE window != 'campaign'
SETTINGS non_replicated_deduplication_window = 1000;

-- Conversion alerts: one row per revision (1 opened, 2 resolved).
CREATE TABLE IF NOT EXISTS {db}.campaign_conversion_alerts
(
    alert_id       String,
    campaign_id    LowCardinality(String),
    campaign_name  String,
    from_step      LowCardinality(String),
    to_step        LowCardinality(String),
    status         LowCardinality(String),
    entered        UInt32,
    converted      UInt32,
    rate           Float64,
    upper_bound    Float64,
    threshold      Float64,
    opened_at      DateTime64(3, 'UTC'),
    evaluated_at   DateTime64(3, 'UTC'),
    revision       UInt8,
    updated_at     DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(opened_at)
ORDER BY (campaign_id, alert_id)
TTL toDateTime(opened_at) + INTERVAL {retention_days} DAY
SETTINGS non_replicated_deduplication_window = 1000;

-- Orders, GMV, refunds and buyers per dimension ('all', community, campaign,
-- channel) and window (hour, local day, 'all' = cumulative with window_start
-- 1970-01-01). Amounts in integer fen.
CREATE TABLE IF NOT EXISTS {db}.sales_totals
(
    dimension             LowCardinality(String),
    dimension_value       String,
    window                LowCardinality(String),
    window_start          DateTime('UTC'),
    phase                 LowCardinality(Nullable(String)),
    orders                UInt32,
    gmv_fen               Int64,
    refunds               UInt32,
    refund_fen            Int64,
    net_gmv_fen           Int64,
    refunds_capped        UInt32,
    unmatched_refunds     UInt32,
    unmatched_refund_fen  Int64,
    paying_members        UInt32,
    repeat_members        UInt32,
    aov_fen               Nullable(Int64),
    repurchase_rate       Nullable(Float64),
    joins                 UInt32,
    invited_joins         UInt32,
    participants          UInt32,
    revision              UInt64,
    updated_at            DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(window_start)
ORDER BY (dimension, dimension_value, window, window_start)
TTL window_start + INTERVAL {retention_days} DAY
    WHERE window != 'all'
SETTINGS non_replicated_deduplication_window = 1000;

-- Sales of a community's local day next to its health report: conversion rate =
-- paying members / members at the end of the day (docs/metrics.md).
CREATE VIEW IF NOT EXISTS {db}.community_sales_day AS
SELECT
    s.dimension_value AS community_id,
    h.day AS day,
    s.window_start AS window_start,
    s.orders AS orders,
    s.gmv_fen AS gmv_fen,
    s.refund_fen AS refund_fen,
    s.net_gmv_fen AS net_gmv_fen,
    s.paying_members AS paying_members,
    s.repeat_members AS repeat_members,
    s.aov_fen AS aov_fen,
    h.member_count AS member_count,
    if(h.member_count > 0, s.paying_members / h.member_count, NULL) AS conversion_rate
FROM (SELECT * FROM {db}.sales_totals FINAL WHERE dimension = 'community' AND window = 'day') AS s
LEFT JOIN (SELECT community_id, day, window_start, member_count
           FROM {db}.community_health_day FINAL) AS h
    ON s.dimension_value = h.community_id AND s.window_start = h.window_start;

-- Fission and join conversion per campaign and first-touch channel ('*': the whole
-- campaign): invited joins and joins credited to the campaign's touches over the
-- persons who entered its funnel with that channel (docs/metrics.md).
CREATE VIEW IF NOT EXISTS {db}.campaign_fission AS
WITH credited AS (
    SELECT
        substring(dimension_value, 1, position(dimension_value, '|') - 1) AS campaign_id,
        substring(dimension_value, position(dimension_value, '|') + 1) AS channel,
        joins, invited_joins, participants, orders, gmv_fen
    FROM {db}.sales_totals FINAL
    WHERE dimension = 'first_touch' AND window = 'all'
),
by_channel AS (
    SELECT campaign_id, channel, sum(joins) AS joins, sum(invited_joins) AS invited_joins,
           sum(participants) AS participants, sum(orders) AS orders, sum(gmv_fen) AS gmv_fen
    FROM credited GROUP BY campaign_id, channel
    UNION ALL
    SELECT campaign_id, '*' AS channel, sum(joins), sum(invited_joins), sum(participants),
           sum(orders), sum(gmv_fen)
    FROM credited GROUP BY campaign_id
)
SELECT
    c.campaign_id AS campaign_id,
    c.channel AS channel,
    f.entered AS entered,
    c.joins AS joins,
    c.invited_joins AS invited_joins,
    c.participants AS participants,
    c.orders AS orders,
    c.gmv_fen AS gmv_fen,
    if(f.entered > 0, c.invited_joins / f.entered, NULL) AS fission_rate,
    if(f.entered > 0, c.joins / f.entered, NULL) AS join_conversion
FROM by_channel AS c
INNER JOIN (SELECT campaign_id, channel, entered FROM {db}.campaign_funnel FINAL
            WHERE window = 'campaign') AS f
    ON c.campaign_id = f.campaign_id AND c.channel = f.channel;

-- Invitation trees (裂变) from the raw joins: each member's depth (1 = invited by a
-- member who was not invited, 2 = by someone invited, ...; 5 means five or more), per
-- community and acquisition channel (QR code id, else UTM channel). A member's
-- first join with an inviter counts; computed when queried, from member_events.
CREATE VIEW IF NOT EXISTS {db}.invitation_depth AS
WITH joins AS (
    SELECT community_id, member_id,
           argMin(inviter_id, ts) AS inviter,
           argMin(coalesce(qr_code_id, channel, '(none)'), ts) AS channel
    FROM {db}.member_events FINAL
    WHERE action = 'join' AND inviter_id IS NOT NULL
    GROUP BY community_id, member_id
),
j1 AS (SELECT j.community_id AS community_id, j.member_id AS member_id, j.channel AS channel,
              p.inviter AS up
       FROM joins AS j LEFT JOIN joins AS p
           ON j.community_id = p.community_id AND j.inviter = p.member_id),
j2 AS (SELECT a.community_id AS community_id, a.member_id AS member_id, a.channel AS channel,
              if(a.up IS NULL, 1, 2) AS base, p.inviter AS up
       FROM j1 AS a LEFT JOIN joins AS p
           ON a.community_id = p.community_id AND a.up = p.member_id),
j3 AS (SELECT b.community_id AS community_id, b.member_id AS member_id, b.channel AS channel,
              if(b.up IS NULL, b.base, 3) AS base, p.inviter AS up
       FROM j2 AS b LEFT JOIN joins AS p
           ON b.community_id = p.community_id AND b.up = p.member_id),
j4 AS (SELECT c.community_id AS community_id, c.member_id AS member_id, c.channel AS channel,
              if(c.up IS NULL, c.base, 4) AS base, p.inviter AS up
       FROM j3 AS c LEFT JOIN joins AS p
           ON c.community_id = p.community_id AND c.up = p.member_id)
SELECT community_id, member_id, channel,
       if(up IS NULL, base, 5) AS depth
FROM j4;
