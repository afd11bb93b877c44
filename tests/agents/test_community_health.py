"""Community health end to end: a real broker, a real worker process, chdb.

A three-day stream with late, stale (past the minute windows' lateness),
very late (past every window's), duplicated and malformed records and
membership snapshots; the day and hour records, silence transitions and
retention cohorts in ClickHouse and on the compacted topics must equal the
brute-force oracle computed from the produced events, also after a SIGKILL
mid-stream.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.partitioner.default import murmur2

from pipeline.app.settings import Settings
from pipeline.devtools.generator import generate, produce
from pipeline.devtools.stack import WorkerProcess
from pipeline.egress.clickhouse.client import connect
from pipeline.topics import (
    ACTIVITY_HOUR,
    ACTIVITY_MINUTE,
    CHAT_MESSAGES,
    HEALTH_DAY,
    MEMBER_PROFILES,
    MEMBER_STATUS,
    RETENTION_COHORTS,
    SENTIMENT_SCORES,
)
from schemas.scores import decode_chunk
from tests.pipeline.compute.health.oracle import (
    accepted_events,
    day_health,
    hour_counts,
    member_profiles,
    retention_cohorts,
    silence_transitions,
)
from tests.support import (
    HEALTH_STREAM,
    check_published_contracts,
    kill_midway_and_resume,
    wait_until_committed,
)

pytestmark = pytest.mark.integration

TOPICS = {"community.chat.messages.v1": "chat", "community.member.events.v1": "members",
          "community.membership.snapshots.v1": "snapshots"}
DAY_FIELDS = ("messages", "interactions", "real_interactions", "mechanical_messages",
              "copy_messages", "speakers", "dau", "wau", "mau", "joins", "leaves", "removals",
              "member_count", "member_count_anchor", "membership_conflicts", "ugc_messages",
              "scored_messages", "positive_messages", "negative_messages")


def partition_of(key: bytes, partitions: int) -> int:
    """kafka-python's default partitioner (the generator's producer uses it)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def oracle_input(stream, partitions: int) -> list[dict]:
    """The produced valid events in delivery order, as the oracle reads them."""
    out = []
    for record in stream.records:
        if record.kind == "malformed" or record.topic not in TOPICS:
            continue
        value = orjson.loads(record.value)
        topic = TOPICS[record.topic]
        event = {"topic": topic, "partition": partition_of(record.key, partitions),
                 "community_id": value["community_id"],
                 "ts": int(datetime.fromisoformat(value["ts"]).timestamp() * 1000)}
        if topic == "chat":
            event |= {"id": value["message_id"], "member_id": value["member_id"],
                      "sender_role": value["sender_role"], "msg_type": value["msg_type"],
                      "text": value["text"], "reply_to": value.get("reply_to"),
                      "mentions": value.get("mentions") or []}
        elif topic == "members":
            event |= {"id": value["event_id"], "member_id": value["member_id"],
                      "action": value["action"], "channel": value.get("channel"),
                      "qr_code_id": value.get("qr_code_id"),
                      "inviter_id": value.get("inviter_id")}
        else:
            event |= {"id": value["snapshot_id"], "action": "snapshot",
                      "member_ids": value["member_ids"]}
        out.append(event)
    return out


def scored_events(settings: Settings) -> list[dict]:
    """The scored messages the alert path published, in each partition's offset order (the
    order the health agent reads them in)."""
    consumer = KafkaConsumer(
        settings.topic(SENTIMENT_SCORES.name), bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=2000,
    )
    try:
        records = sorted(consumer, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()
    return [{"topic": "scores", "partition": r.partition, "community_id": m.community_id,
             "ts": m.ts_ms, "id": "s:" + m.message_id, "polarity": m.polarity}
            for r in records for m in decode_chunk(r.value)
            if not m.community_id.startswith("zz-flush-")]


def send_flush(settings: Settings, after: datetime) -> None:
    """One chat message per partition two days after the stream, so every window closes."""
    wanted = set(range(settings.topic_partitions))
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers)
    ts = (after + timedelta(days=2)).isoformat()
    for i in range(1000):
        key = f"zz-flush-{i}".encode()
        partition = partition_of(key, settings.topic_partitions)
        if partition in wanted:
            wanted.discard(partition)
            value = {"schema_version": 1, "ts": ts, "message_id": f"flush-{i}",
                     "community_id": key.decode(), "member_id": "flush", "text": "flush"}
            producer.send(settings.topic(CHAT_MESSAGES.name), key=key,
                          value=orjson.dumps(value))
        if not wanted:
            break
    producer.flush()
    producer.close()


def latest_by_key(settings: Settings, name: str) -> dict[bytes, dict]:
    consumer = KafkaConsumer(
        settings.topic(name), bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=2000,
    )
    best: dict[bytes, dict] = {}
    try:
        for record in consumer:
            value = orjson.loads(record.value)
            if record.key not in best or value["revision"] >= best[record.key]["revision"]:
                best[record.key] = value
    finally:
        consumer.close()
    return best


def stored_days(settings: Settings) -> dict[tuple[str, date], dict]:
    client = connect(settings.clickhouse_url)
    try:
        result = client.query(
            f"SELECT community_id, day, {', '.join(DAY_FIELDS)}, is_final "
            "FROM pulse.community_health_day FINAL WHERE community_id NOT LIKE 'zz-flush-%'")
    finally:
        client.close()
    return {(row[0], row[1]): dict(zip((*DAY_FIELDS, "is_final"), row[2:], strict=True))
            for row in result.result_rows}


def stored_hours(settings: Settings) -> dict[tuple[str, int], tuple[int, int, int, int]]:
    client = connect(settings.clickhouse_url)
    try:
        result = client.query(
            "SELECT community_id, window_start, messages, speakers, active_members, joins "
            "FROM pulse.community_activity_hour FINAL "
            "WHERE community_id NOT LIKE 'zz-flush-%'")
    finally:
        client.close()
    return {(row[0], int(row[1].replace(tzinfo=UTC).timestamp() * 1000)): tuple(row[2:])
            for row in result.result_rows}


def stored_transitions(settings: Settings) -> set[tuple]:
    client = connect(settings.clickhouse_url)
    try:
        rows = client.query(
            "SELECT community_id, member_id, status, previous, at, silent_since "
            "FROM pulse.member_status_changes FINAL").result_rows
    finally:
        client.close()

    def ms(value) -> int | None:
        return None if value is None else int(value.replace(tzinfo=UTC).timestamp() * 1000)

    return {(c, m, s, p, ms(at), ms(since)) for c, m, s, p, at, since in rows}


def check_transitions(settings: Settings, stream, events: list[dict]) -> set[tuple]:
    """Silence transitions in ClickHouse and on the compacted topic equal the oracle's:
    judged hourly up to the final horizon (the flush, two days after the stream, less the
    lateness)."""
    lateness = settings.hour_allowed_lateness_s * 1000
    end = int((stream.truth.end + timedelta(days=2)).timestamp() * 1000) - lateness
    expected = silence_transitions(events, lateness, end)
    assert stored_transitions(settings) == expected
    latest: dict[tuple[str, str], tuple] = {}
    for t in sorted(expected, key=lambda t: t[4]):
        latest[(t[0], t[1])] = t
    on_topic = latest_by_key(settings, MEMBER_STATUS.name)
    assert {(v["community_id"], v["member_id"]): v["status"] for v in on_topic.values()} == {
        k: v[2] for k, v in latest.items()}
    return expected


def stored_cohorts(settings: Settings) -> dict[tuple[str, date, str], tuple]:
    client = connect(settings.clickhouse_url)
    try:
        rows = client.query(
            "SELECT community_id, cohort_day, channel, cohort_size, retained_d1, retained_d7, "
            "retained_d30, retention_d7, is_final FROM pulse.community_retention_cohort FINAL"
        ).result_rows
    finally:
        client.close()
    for *_, size, _d1, d7, _d30, rate_d7, final in rows:
        assert rate_d7 == (None if d7 is None else round(d7 / size, 6)) and not final
    return {(c, day, channel): tuple(counts) for c, day, channel, *counts, _, _ in rows}


def check_retention(settings: Settings, stream, events: list[dict]) -> dict:
    """Retention cohorts in ClickHouse and on the compacted topic equal the brute force's,
    judged up to the final horizon (the stream has three days and its members' first joins
    the week before it, so days 1 and 7 are judged, day 30 is not)."""
    lateness = settings.hour_allowed_lateness_s * 1000
    end = int((stream.truth.end + timedelta(days=2)).timestamp() * 1000) - lateness
    expected = retention_cohorts(events, lateness, end)
    assert stored_cohorts(settings) == expected
    on_topic = {(v["community_id"], date.fromisoformat(v["cohort_day"]), v["channel"]): (
        v["cohort_size"], v["retained_d1"], v["retained_d7"], v["retained_d30"])
        for v in latest_by_key(settings, RETENTION_COHORTS.name).values()}
    assert on_topic == expected
    return expected


PROFILE_FIELDS = ("layer", "is_koc", "rank", "score", "real_interactions", "active_days",
                  "replies_received", "mentions_received", "scored_messages", "invited_joins")


def check_profiles(settings: Settings, stream, events: list[dict]) -> dict:
    """Member profiles in ClickHouse (every closed day) and on the compacted topic (each
    member's latest) and the day records' layer counts equal the brute force's."""
    lateness = settings.hour_allowed_lateness_s * 1000
    end = int((stream.truth.end + timedelta(days=2)).timestamp() * 1000) - lateness
    expected, layers = member_profiles(events, lateness, end, share=settings.koc_share,
                                       min_score=settings.koc_min_score,
                                       core_days=settings.core_active_days)
    expected = {k: v for k, v in expected.items() if not k[0].startswith("zz-flush-")}
    client = connect(settings.clickhouse_url)
    try:
        rows = client.query(
            f"SELECT community_id, day, member_id, {', '.join(PROFILE_FIELDS)} "
            "FROM pulse.member_profile FINAL").result_rows
        counts = client.query(
            "SELECT community_id, day, koc_members, core_members, participating_members, "
            "onlooker_members FROM pulse.community_health_day FINAL "
            "WHERE community_id NOT LIKE 'zz-flush-%'").result_rows
    finally:
        client.close()
    stored = {(c, day, m): dict(zip(PROFILE_FIELDS, values, strict=True))
              for c, day, m, *values in rows}
    for view in stored.values():
        view["is_koc"] = bool(view["is_koc"])
    assert stored == expected
    assert {(c, day): tuple(n) for c, day, *n in counts} == {
        k: v for k, v in layers.items() if not k[0].startswith("zz-flush-")}
    latest: dict[tuple[str, str], tuple] = {}
    for (community, day, member), view in sorted(expected.items()):
        latest[(community, member)] = (day.isoformat(), view["layer"], view["score"])
    on_topic = {(v["community_id"], v["member_id"]): (v["day"], v["layer"], v["score"])
                for v in latest_by_key(settings, MEMBER_PROFILES.name).values()}
    assert on_topic == latest
    assert all(v["member_ref"].startswith("m-")
               for v in latest_by_key(settings, MEMBER_PROFILES.name).values())
    return expected


def check_exact(settings: Settings, stream) -> dict:
    lateness = settings.hour_allowed_lateness_s * 1000
    events = oracle_input(stream, settings.topic_partitions) + scored_events(settings)
    transitions = check_transitions(settings, stream, events)
    assert {"churn_risk", "left"} <= {t[2] for t in transitions}
    cohorts = check_retention(settings, stream, events)
    profiles = check_profiles(settings, stream, events)
    assert {v["layer"] for v in profiles.values()} == {"core", "participating", "onlooker"}
    assert any(v["is_koc"] for v in profiles.values())
    assert any(v["replies_received"] and v["mentions_received"] for v in profiles.values())
    assert any(v[1] for v in cohorts.values()) and any(v[2] for v in cohorts.values())
    assert {k[2] for k in cohorts} > {"*"}
    expected = day_health(events, lateness)
    days = stored_days(settings)
    assert sorted(set(expected) - set(days)) == [] and sorted(set(days) - set(expected)) == []
    for key, values in expected.items():
        got = days[key]
        assert got.pop("is_final") == 1, key
        assert got == {f: values[f] for f in DAY_FIELDS}, key
    on_topic = {(v["community_id"], date.fromisoformat(v["day"])): v
                for v in latest_by_key(settings, HEALTH_DAY.name).values()
                if not v["community_id"].startswith("zz-flush-")}
    assert set(on_topic) == set(expected)
    for key, values in expected.items():
        assert on_topic[key]["is_final"] and [
            [w["word"], w["count"]] for w in on_topic[key]["hot_words"]
        ] == [list(pair) for pair in values["hot_words"]], key
        assert {f: on_topic[key][f] for f in DAY_FIELDS} == {f: values[f] for f in DAY_FIELDS}
    assert stored_hours(settings) == hour_counts(events, lateness)
    hour_topic = latest_by_key(settings, ACTIVITY_HOUR.name)
    assert all(v["is_final"] for v in hour_topic.values()
               if not v["community_id"].startswith("zz-flush-"))
    return expected


def test_day_and_hour_health_equal_the_brute_force(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    stream = generate(HEALTH_STREAM)
    worker = WorkerProcess(pipeline_settings, tmp_path / "worker.log")
    worker.start()
    try:
        produce(stream.records, pipeline_settings)
        send_flush(pipeline_settings, stream.truth.end)
        wait_until_committed(pipeline_settings, worker)
        metrics = worker.prometheus_samples()
    finally:
        worker.stop()
    expected = check_exact(pipeline_settings, stream)
    assert len(expected) >= 4 * 3
    check_published_contracts(pipeline_settings, ACTIVITY_MINUTE, ACTIVITY_HOUR, HEALTH_DAY,
                              MEMBER_STATUS, MEMBER_PROFILES, RETENTION_COHORTS)
    assert {v["member_count_anchor"] for v in expected.values()} == {"snapshot", "relative"}
    inputs = oracle_input(stream, pipeline_settings.topic_partitions)
    scores = scored_events(pipeline_settings)
    lateness = pipeline_settings.hour_allowed_lateness_s * 1000
    _, too_late = accepted_events(inputs + scores, lateness)
    _, inputs_too_late = accepted_events(inputs, lateness)
    assert inputs_too_late > 0
    assert metrics['pulse_window_too_late_total{window="hour"}'] == too_late
    assert metrics['pulse_window_too_late_total{window="minute"}'] > inputs_too_late
    # scores follow their chat messages: the alert path keeps them in event-time order
    _, scores_too_late = accepted_events(scores, lateness)
    assert scores_too_late <= inputs_too_late
    assert sum(v["scored_messages"] for v in expected.values()) > 0.9 * len(scores)
    community = stream.truth.communities[0].community_id
    assert metrics[f'pulse_community_day{{community="{community}",metric="dau"}}'] > 0
    for horizon in ("d1", "d7"):
        assert 0 <= metrics[f'pulse_community_retention{{community="{community}",'
                            f'horizon="{horizon}"}}'] <= 1


def test_health_after_a_killed_worker_equals_the_brute_force(
    any_pipeline_settings: Settings, tmp_path: Path
) -> None:
    # both brokers (tests/conftest.py): on Apache Kafka this is also the exact run
    pipeline_settings = any_pipeline_settings
    settings = pipeline_settings.model_copy(update={"store": "rocksdb://"})
    stream = generate(HEALTH_STREAM)

    def produce_input() -> None:
        produce(stream.records, settings)
        send_flush(settings, stream.truth.end)

    kill_midway_and_resume(settings, len(stream.records), tmp_path, produce_input)
    check_exact(settings, stream)
