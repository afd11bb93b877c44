"""Memory of the metrics worker with a million members: peak RSS against the idle worker.

One ``metrics`` worker (community activity: hour windows, member records, the
``health-members`` table and its in-memory directory; raw storage in chdb) takes
synthetic chat from ``members`` distinct members across ``communities`` groups:
every member posts once, every ``second_every``-th member twice, over two hours
of a fixed past day, after a few joins per group; one bot message per group
1.5 hours after the end moves the watermark past the hour lateness, so every
hour folds and every speaker gets a member record.  The worker's RSS is read
from ``/proc/<pid>/status`` every 0.5 s until its consumer group has committed
every record; the value is the peak (``VmHWM``, the kernel's high-water mark,
never below a sample), the baseline the same worker's RSS after start-up, before
any input.  A run that does not finish in time reports the members whose
messages were committed, in the entry's name and details.

``python -m bench.members_rss`` runs it alone (its own broker; ``--help``);
``make bench`` runs it after the throughput and latency entries, with the stores
in ``BENCH_MEMBERS_RSS`` (bench/run.py).  Each entry's details say which commit
was measured (``tree``), how far it got, the worker's own count of distinct
speakers, and the records written to each table's changelog.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
from confluent_kafka import Producer
from kafka import KafkaConsumer, TopicPartition

from pipeline.app.settings import Settings, load_settings
from pipeline.devtools.progress import committed_offsets, log_end_offsets, wait_until_committed
from pipeline.devtools.stack import Broker, WorkerProcess, free_port, prepare
from pipeline.runtime.kafka_clients import kafka_python_options, librdkafka_config
from pipeline.topics import CHAT_MESSAGES, HEALTH_DAY, MEMBER_EVENTS

TARGET_MIB = 1024.0
HOUR_MS = 3_600_000
START = datetime(2026, 11, 2, tzinfo=UTC)
"""Monday 00:00 UTC, a fixed past day (the edge accepts 2015 up to now + 1 h)."""
SAMPLE_EVERY_S = 0.5
SETTLE_S = 3.0
"""After the worker reports healthy: group joined, tables recovered, before the baseline."""
TIMEOUT_S = 600.0
"""Per store, from the first record produced to the commit (1M members took 394 to 540 s
on a 2-CPU VM); a run cut short reports the members it reached."""

TEXTS = (
    "今天的直播几点开始？", "这个团购链接还能用吗", "请问优惠券怎么领取", "已经下单了，期待发货",
    "宝宝吃了这个辅食很喜欢", "有没有人一起拼单的", "物流好慢啊，三天了还没到", "群主辛苦了",
    "这款面霜适合油皮吗？", "上次买的水果很新鲜，回购了", "周末的线下活动在哪里报名",
    "退款什么时候能到账", "推荐一下适合老人的保健品", "客服一直不回消息怎么办",
    "打卡第七天，坚持就是胜利", "收到", "+1", "[强][强]", "好的谢谢",
    "想问下会员积分可以抵现吗", "昨天的课程回放在哪里看", "这个价格比旗舰店便宜多了",
)
"""Member texts: questions, praise, complaints and a few mechanical replies (收到, +1)."""
STICKER_EVERY = 23
"""Every 23rd message is a sticker (mechanical); the rest are texts."""
BOT_TEXT = "欢迎新朋友入群，发言前请先阅读群公告～"


@dataclass(frozen=True, slots=True)
class Shape:
    """The synthetic population and its timing."""

    communities: int = 1000
    members_per_community: int = 1000
    second_every: int = 10
    """Every n-th member of a group posts a second message (0: nobody)."""
    joins_per_community: int = 10
    start_ms: int = int(START.timestamp() * 1000)
    spread_ms: int = 2 * HOUR_MS
    lateness_ms: int = HOUR_MS
    """The worker's hour lateness: the closing bot messages come this much after the last
    hour ends, and half an hour more, so every hour folds."""

    @property
    def members(self) -> int:
        return self.communities * self.members_per_community

    @property
    def second_round(self) -> int:
        """Members per group with a second message."""
        if not self.second_every:
            return 0
        return -(-self.members_per_community // self.second_every)

    @property
    def chat_messages(self) -> int:
        """Member messages (the closing bot messages are not counted)."""
        return self.communities * (self.members_per_community + self.second_round)

    @property
    def records(self) -> int:
        """Everything produced: joins, member messages, closing bot messages."""
        return (self.communities * min(self.joins_per_community, self.members_per_community)
                + self.chat_messages + self.communities)

    def community_id(self, c: int) -> str:
        return f"grp-{c:04d}"

    def member_id(self, c: int, j: int) -> str:
        return f"wxid_{c:04d}{j:05d}"


@dataclass(frozen=True, slots=True)
class Synthetic:
    """One record to produce: logical topic, key, value bytes, event time."""

    topic: str
    key: bytes
    value: bytes
    ts_ms: int


def iso(ms: int) -> str:
    """``2026-11-02T00:00:00.123Z``, as the generator writes UTC event times."""
    moment = datetime.fromtimestamp(ms // 1000, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def chat_value(ms: int, message_id: str, community_id: str, member_id: str,
               text: str, role: str = "member", msg_type: str = "text") -> bytes:
    """A ChatMessage's bytes in the wire shape (pipeline/devtools/generator/wire.py)."""
    return orjson.dumps({
        "schema_version": 1, "ts": iso(ms), "message_id": message_id,
        "community_id": community_id, "platform": "wechat", "member_id": member_id,
        "sender_role": role, "msg_type": msg_type, "text": text, "reply_to": None,
        "mentions": [],
    })


def join_value(ms: int, event_id: str, community_id: str, member_id: str) -> bytes:
    return orjson.dumps({
        "schema_version": 1, "ts": iso(ms), "event_id": event_id,
        "community_id": community_id, "platform": "wechat", "member_id": member_id,
        "action": "join", "inviter_id": None, "channel": "qr", "qr_code_id": "qr-bench",
    })


def synthetic_records(shape: Shape) -> Iterator[Synthetic]:
    """Joins, then round 0 (every member once), round 1 (every ``second_every``-th member
    again), group after group within each member rank so event time only grows, then one
    bot message per group past the lateness.  All first messages come before any second
    one: the first ``k`` chat records of a group are ``min(k, members_per_community)``
    distinct members (what :func:`members_reached` relies on)."""
    chat, members = CHAT_MESSAGES.name, MEMBER_EVENTS.name
    groups = [(shape.community_id(c), shape.community_id(c).encode())
              for c in range(shape.communities)]
    for c, (community, key) in enumerate(groups):
        for j in range(min(shape.joins_per_community, shape.members_per_community)):
            yield Synthetic(members, key, join_value(
                shape.start_ms, f"me-{c:04d}-{j:05d}", community, shape.member_id(c, j)),
                shape.start_ms)
    step = shape.spread_ms / max(1, shape.chat_messages)
    index = 0
    ranks = [(0, j) for j in range(shape.members_per_community)]
    if shape.second_every:
        ranks += [(1, j) for j in range(0, shape.members_per_community, shape.second_every)]
    for turn, j in ranks:
        for c, (community, key) in enumerate(groups):
            ms = shape.start_ms + int(index * step)
            n = c * 7 + j * 13 + turn
            sticker = index % STICKER_EVERY == 0
            value = chat_value(
                ms, f"msg-{c:04d}-{j:05d}-{turn}", community, shape.member_id(c, j),
                "[捂脸]" if sticker else TEXTS[n % len(TEXTS)],
                msg_type="sticker" if sticker else "text")
            yield Synthetic(chat, key, value, ms)
            index += 1
    closing = shape.start_ms + shape.spread_ms + shape.lateness_ms + HOUR_MS // 2
    for c, (community, key) in enumerate(groups):
        yield Synthetic(chat, key, chat_value(
            closing, f"msg-{c:04d}-bot", community, f"bot-{c:04d}", BOT_TEXT,
            role="bot", msg_type="system"), closing)


# --- /proc ---------------------------------------------------------------------------


def parse_status(text: str) -> dict[str, int]:
    """``Vm*`` fields of a ``/proc/<pid>/status`` text, in kB."""
    fields: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if name.startswith("Vm") and len(parts) == 2 and parts[1] == "kB":
            fields[name] = int(parts[0])
    return fields


def memory_mib(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process in MiB (empty once it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return {k: v / 1024 for k, v in parse_status(text).items() if k in ("VmRSS", "VmHWM")}


class RssSampler:
    """VmRSS of ``pid`` every ``every`` seconds in a thread: peak and timeline."""

    def __init__(self, pid: int, every: float = SAMPLE_EVERY_S) -> None:
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._origin = time.monotonic()

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = memory_mib(self.pid).get("VmRSS")
            if rss is not None:
                self.samples.append((time.monotonic() - self._origin, rss))
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self._origin = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> float:
        return max((rss for _, rss in self.samples), default=0.0)


# --- producing -----------------------------------------------------------------------


def produce_fast(records: Iterator[Synthetic], settings: Settings) -> tuple[int, dict[str, int]]:
    """Send everything with librdkafka (large lz4 batches, idempotent: order kept per
    partition).  Returns records sent and each key's partition, from delivery reports."""
    producer = Producer(librdkafka_config(settings) | {
        "acks": "all", "enable.idempotence": True, "linger.ms": 50,
        "batch.size": 1_000_000, "compression.type": "lz4",
        "queue.buffering.max.messages": 1_000_000, "queue.buffering.max.kbytes": 1_048_576,
        "partitioner": "murmur2_random",  # kafka-python's and the JVM client's choice
        "log.connection.close": False,
    })
    partitions: dict[str, int] = {}
    failures: list[str] = []

    def delivered(error: object, message: object) -> None:
        if error is not None:
            failures.append(str(error))
        else:
            partitions[message.key().decode()] = message.partition()  # type: ignore[attr-defined]

    topics: dict[str, str] = {}
    sent = 0
    for record in records:
        topic = topics.get(record.topic) or topics.setdefault(
            record.topic, settings.topic(record.topic))
        while True:
            try:
                producer.produce(topic, value=record.value, key=record.key,
                                 timestamp=record.ts_ms, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.05)
        sent += 1
        if sent % 10_000 == 0:
            producer.poll(0)
    remaining = producer.flush(120)
    if failures or remaining:
        raise RuntimeError(f"{len(failures)} records failed, {remaining} undelivered: "
                           f"{failures[:1]}")
    return sent, partitions


# --- measuring -----------------------------------------------------------------------


def members_reached(shape: Shape, committed: dict[int, int],
                    partition_of: dict[str, int]) -> int:
    """Distinct members whose messages were committed, from the chat topic's committed
    offsets per partition (fresh topics: offset = records): each partition's records are
    its groups' messages in produce order, first messages first (``synthetic_records``)."""
    groups: dict[int, int] = {}
    for c in range(shape.communities):
        partition = partition_of.get(shape.community_id(c))
        if partition is not None:
            groups[partition] = groups.get(partition, 0) + 1
    return sum(min(committed.get(p, 0), n * shape.members_per_community)
               for p, n in groups.items())


def changelog_records(settings: Settings) -> dict[str, int]:
    """Records written to each table's changelog topic (every write of a key counts)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                             **kafka_python_options(settings))
    try:
        topics = [t for t in consumer.topics()
                  if t.startswith(f"{settings.group_id}-") and t.endswith("-changelog")]
    finally:
        consumer.close()
    counts: dict[str, int] = {}
    for tp, end in (log_end_offsets(settings, topics) if topics else {}).items():
        table = tp.topic.removeprefix(f"{settings.group_id}-").removesuffix("-changelog")
        counts[table] = counts.get(table, 0) + end
    return dict(sorted(counts.items()))


def day_speakers(settings: Settings) -> int:
    """Distinct speakers the worker counted: the sum over communities of ``speakers`` in
    each community-day's latest revision on the health-day topic (independent of how the
    members' records are stored)."""
    consumer = KafkaConsumer(settings.topic(HEALTH_DAY.name),
                             bootstrap_servers=settings.bootstrap_servers,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=3000, **kafka_python_options(settings))
    latest: dict[bytes, tuple[int, int]] = {}
    try:
        for record in consumer:
            day = orjson.loads(record.value)
            if record.key not in latest or day["revision"] >= latest[record.key][0]:
                latest[record.key] = (day["revision"], day["speakers"])
    finally:
        consumer.close()
    return sum(speakers for _, speakers in latest.values())


def tree() -> str:
    """The measured code: commit, and ``+dirty`` with uncommitted changes."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def label(members: int) -> str:
    """1m, 250k, 999k: never rounds up to a million."""
    if members >= 1_000_000 and members % 1_000_000 == 0:
        return f"{members // 1_000_000}m"
    return f"{members // 1000}k" if members >= 1000 else str(members)


def measure(settings: Settings, work: Path, shape: Shape, timeout: float = TIMEOUT_S,
            say: Callable[[str], None] = print) -> dict:
    """Start one metrics worker, take its idle RSS, feed ``shape``, wait for the commit
    (at most ``timeout`` s after producing starts) while sampling RSS; returns figures."""
    log = work / f"members-rss-{settings.app_id}.log"
    measured = tree()  # what the worker loads now (the tree may change during the run)
    worker = WorkerProcess(settings, log)
    worker.start()
    try:
        assert worker.process is not None
        pid = worker.process.pid
        time.sleep(SETTLE_S)
        idle = memory_mib(pid)["VmRSS"]
        say(f"  idle worker RSS {idle:,.0f} MiB (pid {pid}, store {settings.store})")
        alive = lambda: worker.process is not None and worker.process.poll() is None  # noqa: E731
        with RssSampler(pid) as sampler:
            started = time.monotonic()
            sent, partition_of = produce_fast(synthetic_records(shape), settings)
            produced_s = time.monotonic() - started
            say(f"  produced {sent:,} records in {produced_s:.1f} s "
                f"({sent / produced_s:,.0f}/s); peak RSS so far {sampler.peak:,.0f} MiB")
            complete = True
            try:
                wait_until_committed(settings, alive,
                                     timeout=max(10.0, timeout - produced_s))
            except TimeoutError:
                complete = False
            elapsed = time.monotonic() - started
            time.sleep(2 * SAMPLE_EVERY_S)  # a last sample or two after the commit
        end = memory_mib(pid)
        committed = committed_offsets(settings, [
            TopicPartition(settings.topic(spec.name), p)
            for spec in (CHAT_MESSAGES, MEMBER_EVENTS) for p in range(settings.topic_partitions)])
        chat = {tp.partition: n for tp, n in committed.items()
                if tp.topic == settings.topic(CHAT_MESSAGES.name)}
        chat_committed = sum(chat.values())
        events = sum(committed.values())
        reached = shape.members if complete else members_reached(shape, chat, partition_of)
        table_writes = changelog_records(settings)
        speakers = day_speakers(settings)
    finally:
        worker.stop()
    peak = max(sampler.peak, end.get("VmHWM", 0.0))
    return {
        "store": settings.store, "complete": complete, "members": reached,
        "members_planned": shape.members, "communities": shape.communities,
        "records": sent, "chat_messages_committed": chat_committed,
        "speakers_in_day_records": speakers, "table_writes": table_writes,
        "agent_crashes": log.read_text(errors="replace").count("Crashed reason="),
        "tree": measured,
        "idle_rss_mib": idle, "peak_rss_mib": peak, "sampled_peak_rss_mib": sampler.peak,
        "vm_hwm_mib": end.get("VmHWM", 0.0), "end_rss_mib": end.get("VmRSS", 0.0),
        "produce_s": produced_s, "elapsed_s": elapsed, "events_per_s": events / elapsed,
        "timeline": thin(sampler.samples),
    }


def thin(samples: list[tuple[float, float]], points: int = 24) -> str:
    """At most ``points`` samples, evenly spread, and the peak: ``"seconds:MiB ..."``."""
    chosen = samples
    if len(samples) > points:
        step = len(samples) / points
        chosen = [samples[int(i * step)] for i in range(points)] + [samples[-1]]
        chosen = sorted({*chosen, max(samples, key=lambda s: s[1])})
    return " ".join(f"{t:.0f}:{m:.0f}" for t, m in chosen)


def to_entry(name: str, figures: dict) -> dict:
    """A bench/results.json entry: peak over idle RSS, the rest in ``details``."""
    peak, idle = figures["peak_rss_mib"], figures["idle_rss_mib"]
    details = {k: (round(v, 3) if isinstance(v, float) else v)
               for k, v in figures.items() if k != "timeline"}
    details |= {"target_mib": TARGET_MIB, "within_target": peak <= TARGET_MIB,
                "rss_timeline_s_mib": figures["timeline"]}
    return {"name": name, "value": round(peak, 1), "unit": "MiB",
            "baseline": "idle worker RSS", "baseline_value": round(idle, 1),
            "ratio": round(peak / idle, 4) if idle else None, "details": details}


STORES = {"rocksdb": ("rocksdb://", ""), "memory": ("memory://", "_memory_store")}


def run(bootstrap: str, work: Path, shape: Shape = Shape(), stores: tuple[str, ...] = ("rocksdb",
        "memory"), timeout: float = TIMEOUT_S, say: Callable[[str], None] = print) -> list[dict]:
    """Entries ``worker_rss_mib_<members>_members[_memory_store]``, one worker per store,
    each on topics of its own in the broker at ``bootstrap``."""
    entries = []
    for store in stores:
        url, suffix = STORES[store]
        run_id = uuid.uuid4().hex[:6]
        settings = load_settings(
            kafka_bootstrap=bootstrap, topic_prefix=f"bench-rss-{run_id}.",
            app_id=f"bench-rss-{run_id}", worker_role="metrics", store=url,
            clickhouse_url=f"chdb://{work / f'clickhouse-rss-{store}'}",
            clickhouse_retention_days=20_000,  # the fixed day must not age out of the TTL
            data_dir=work / f"state-rss-{store}", web_port=free_port(),
        )
        prepare(settings)
        say(f"members RSS, store {url}: {shape.members:,} members in "
            f"{shape.communities:,} groups, {shape.records:,} records")
        figures = measure(settings, work, shape, timeout, say)
        name = f"worker_rss_mib_{label(figures['members'])}_members{suffix}"
        say(f"  {name}: peak {figures['peak_rss_mib']:,.0f} MiB (idle "
            f"{figures['idle_rss_mib']:,.0f}), {figures['elapsed_s']:.0f} s, "
            f"{figures['events_per_s']:,.0f} events/s, complete={figures['complete']}, "
            f"speakers in day records {figures['speakers_in_day_records']:,}")
        if figures["speakers_in_day_records"] != figures["members"] or figures["agent_crashes"]:
            say(f"  warning: the worker counted "
                f"{figures['speakers_in_day_records']:,} speakers for {figures['members']:,} "
                f"members committed, {figures['agent_crashes']} agent crashes (log: {work})")
        entries.append(to_entry(name, figures))
    return entries


def with_broker(work: Path, shape: Shape = Shape(), stores: tuple[str, ...] = tuple(STORES),
                timeout: float = TIMEOUT_S, say: Callable[[str], None] = print) -> list[dict]:
    """:func:`run` on a broker of its own (the 1M records stay out of other benchmarks')."""
    broker = Broker(work / "tansu-rss.log")
    broker.start()
    try:
        return run(broker.bootstrap, work, shape, stores, timeout, say)
    finally:
        broker.stop()


def main(argv: list[str] | None = None) -> None:
    defaults = Shape()
    parser = argparse.ArgumentParser(prog="python -m bench.members_rss", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--communities", type=int, default=defaults.communities)
    parser.add_argument("--members-per-community", type=int,
                        default=defaults.members_per_community)
    parser.add_argument("--second-every", type=int, default=defaults.second_every,
                        help="every n-th member posts twice (0: nobody)")
    parser.add_argument("--store", choices=[*STORES, "both"], default="rocksdb")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S,
                        help="seconds per store from the first record to the commit")
    parser.add_argument("--output", type=Path, help="write the entries here as JSON")
    parser.add_argument("--merge", action="store_true",
                        help="replace these entries in bench/results.json (others kept)")
    args = parser.parse_args(argv)
    shape = Shape(communities=args.communities, members_per_community=args.members_per_community,
                  second_every=args.second_every)
    stores = tuple(STORES) if args.store == "both" else (args.store,)
    work = Path(tempfile.mkdtemp(prefix="pulse-bench-rss-"))
    print(f"work dir {work}")
    entries = with_broker(work, shape, stores, args.timeout)
    text = json.dumps(entries, indent=2, ensure_ascii=False) + "\n"
    print(text)
    if args.output:
        args.output.write_text(text)
    if args.merge:
        merge(entries)


def merge(entries: list[dict], path: Path = Path(__file__).parent / "results.json") -> None:
    """Put ``entries`` into a results file in place of same-named ones."""
    results = json.loads(path.read_text())
    names = {e["name"] for e in entries}
    results["benchmarks"] = [e for e in results["benchmarks"] if e["name"] not in names]
    results["benchmarks"] += entries
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
