"""The demo's day-health summary: read back from a real chdb engine (FINAL), then rendered."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from pipeline.devtools.demo import day_health_table
from pipeline.devtools.report import DAY_TARGETS, DayHealthRow
from schemas.outputs import CommunityDayHealth, HotWord

REPO = Path(__file__).resolve().parents[3]

# chdb serves one data directory per process: read in a process of its own.
SCRIPT = """
import json, pickle, sys
from datetime import UTC, datetime
import clickhouse_connect
from pipeline.devtools.report import read_day_health
from pipeline.egress.clickhouse.client import create_schema
from pipeline.egress.clickhouse.tables import HEALTH_DAY
from schemas.outputs import CommunityDayHealth

path, records, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
client = clickhouse_connect.get_client(interface="chdb", path=path)
create_schema(client, "pulse", retention_days=20_000)
now = datetime(2026, 11, 22, tzinfo=UTC)
for record in records:  # one insert (one part) each: FINAL, not the insert, folds revisions
    row = HEALTH_DAY.row(CommunityDayHealth.model_validate_json(record), now)
    client.insert(f"pulse.{HEALTH_DAY.name}", [row], column_names=list(HEALTH_DAY.columns))
rows = read_day_health(client, "pulse")
client.close()
with open(out, "wb") as file:
    pickle.dump(rows, file)
"""

SHANGHAI = timedelta(hours=8)

HOT_WORDS = (("课程", 12), ("老师", 9), ("作业", 7), ("打卡", 7), ("报名", 5), ("优惠", 4))
"""The final day's words, most frequent first, ties by word (打卡 after 作业)."""
STORED_WORDS = tuple(HOT_WORDS[i] for i in (3, 5, 0, 4, 1, 2))
"""The same words as a store would not order them: read back ordered all the same."""


def day_record(community: str, day: date, revision: int, *, is_final: bool,
               **values) -> CommunityDayHealth:
    """A community day; values not given are those of a healthy day of 200 members."""
    start = datetime.combine(day, time(), UTC) - SHANGHAI
    fields = dict(
        community_id=community, day=day, timezone="Asia/Shanghai", window_start=start,
        window_end=start + timedelta(days=1), messages=400, member_messages=350,
        staff_messages=40, bot_messages=10, interactions=340, real_interactions=300,
        mechanical_messages=25, copy_messages=15, speakers=60, dau=50, wau=90, mau=110,
        stickiness=0.45, ugc_messages=300, ugc_share=0.85, slot_interactions=120,
        slot_share=0.35, hourly_interactions=[0] * 24, joins=4, leaves=2, removals=1,
        net_growth=1, member_count=200, member_count_anchor="snapshot",
        membership_conflicts=0, join_rate=0.02, leave_rate=0.015, speaking_rate=0.3,
        interaction_rate=0.3, real_interaction_rate=0.25, weekly_active_rate=0.45,
        interactions_per_member_30d=9.5, hot_words=[], is_final=is_final, revision=revision,
        scored_messages=0, positive_messages=0, negative_messages=0, positive_share=None,
        negative_share=None,
    )
    fields.update(values)
    fields["hot_words"] = [HotWord(word=w, count=c) for w, c in fields["hot_words"]]
    return CommunityDayHealth(**fields)


DAY = date(2026, 11, 20)

RECORDS = (
    # wx-a: an older final day, the reported final day in two revisions (the higher one
    # inserted first, so the stale replay is the last row written), and a newer open day.
    day_record("wx-a", DAY - timedelta(days=1), 8, is_final=True, dau=11, member_count=190),
    # Its stickiness and interaction rate are exactly on target (a target is a lower bound).
    day_record("wx-a", DAY, 20, is_final=True, member_count=200, dau=48, wau=91, mau=107,
               stickiness=0.4, interaction_rate=0.15, real_interaction_rate=0.24,
               ugc_share=0.82, slot_share=0.375, interactions_per_member_30d=9.31,
               joins=6, leaves=3, removals=1, hot_words=STORED_WORDS),
    day_record("wx-a", DAY, 12, is_final=False, member_count=199, dau=30, wau=80, mau=100,
               stickiness=0.3, hot_words=(("旧词", 3),)),
    day_record("wx-a", DAY + timedelta(days=1), 31, is_final=False, member_count=201,
               dau=5, hot_words=(("明天", 2),)),
    # wx-b: no final day yet; two revisions of its latest day; misses every target.
    day_record("wx-b", DAY - timedelta(days=1), 3, is_final=False, dau=1),
    day_record("wx-b", DAY, 7, is_final=False, member_count=80, member_count_anchor="relative",
               dau=4, wau=9, mau=40, stickiness=0.1, interaction_rate=0.125,
               real_interaction_rate=0.05, ugc_share=0.5, slot_share=0.2,
               interactions_per_member_30d=3.5, joins=2, leaves=5, removals=0,
               hot_words=(("退款", 6), ("客服", 2))),
    day_record("wx-b", DAY, 5, is_final=False, member_count=81, dau=40, stickiness=0.9),
    # wx-c: a relative count below zero: no rates (None misses no target).
    day_record("wx-c", DAY, 2, is_final=True, member_count=-3, member_count_anchor="relative",
               dau=0, wau=0, mau=0, stickiness=None, interaction_rate=None,
               real_interaction_rate=None, ugc_share=None, slot_share=None,
               interactions_per_member_30d=None, joins=0, leaves=3, removals=0),
)

EXPECTED = [
    DayHealthRow(community_id="wx-a", day=DAY, is_final=True, member_count=200,
                 member_count_anchor="snapshot", dau=48, wau=91, mau=107, stickiness=0.4,
                 interaction_rate=0.15, real_interaction_rate=0.24, ugc_share=0.82,
                 slot_share=0.375, interactions_per_member_30d=9.31, joins=6, leaves=3,
                 removals=1, hot_words=HOT_WORDS, revision=20),
    DayHealthRow(community_id="wx-b", day=DAY, is_final=False, member_count=80,
                 member_count_anchor="relative", dau=4, wau=9, mau=40, stickiness=0.1,
                 interaction_rate=0.125, real_interaction_rate=0.05, ugc_share=0.5,
                 slot_share=0.2, interactions_per_member_30d=3.5, joins=2, leaves=5,
                 removals=0, hot_words=(("退款", 6), ("客服", 2)), revision=7),
    DayHealthRow(community_id="wx-c", day=DAY, is_final=True, member_count=-3,
                 member_count_anchor="relative", dau=0, wau=0, mau=0, stickiness=None,
                 interaction_rate=None, real_interaction_rate=None, ugc_share=None,
                 slot_share=None, interactions_per_member_30d=None, joins=0, leaves=3,
                 removals=0, hot_words=(), revision=2),
]


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[DayHealthRow]:
    directory = tmp_path_factory.mktemp("day-health")
    out = directory / "rows.pickle"
    records = json.dumps([r.model_dump_json() for r in RECORDS])
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(directory / "clickhouse"), records, str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return pickle.loads(out.read_bytes())


def test_each_community_reports_its_latest_final_day_at_its_highest_revision(
    rows: list[DayHealthRow],
) -> None:
    assert rows[0] == EXPECTED[0]


def test_a_community_without_a_final_day_reports_its_latest_open_day(
    rows: list[DayHealthRow],
) -> None:
    assert rows[1] == EXPECTED[1]


def test_every_community_once_in_order_with_absent_rates_read_as_none(
    rows: list[DayHealthRow],
) -> None:
    assert rows == EXPECTED


def test_misses_follow_the_targets_of_the_metrics_doc() -> None:
    assert DAY_TARGETS == {"stickiness": 0.4, "interaction_rate": 0.15,
                           "real_interaction_rate": 0.15, "ugc_share": 0.6,
                           "interactions_per_member_30d": 8.0}
    assert EXPECTED[0].misses() == set()
    assert EXPECTED[1].misses() == set(DAY_TARGETS)
    assert EXPECTED[2].misses() == set()
    assert replace(EXPECTED[0], ugc_share=0.5999).misses() == {"ugc_share"}


def rendered(rows: list[DayHealthRow]) -> tuple[dict[str, str], list]:
    """Each community's line of the table as text, and the styled segments of the table."""
    console = Console(record=True, width=320, color_system="truecolor", force_terminal=True)
    table = day_health_table(rows)
    segments = list(console.render(table))
    console.print(table)
    lines = console.export_text().splitlines()
    by_community = {c: next(line for line in lines if f" {c} " in line)
                    for c in ("wx-a", "wx-b", "wx-c")}
    return by_community, segments


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("│┃").split("│")]


def test_the_table_shows_each_communitys_day_metrics(rows: list[DayHealthRow]) -> None:
    lines, _ = rendered(rows)
    assert cells(lines["wx-a"]) == [
        "wx-a", "2026-11-20", "yes", "200 snapshot", "48", "91", "107", "40.0%", "15.0%",
        "24.0%", "82.0%", "37.5%", "9.3", "+6 -3 -1",
        "课程 12, 老师 9, 作业 7, 打卡 7, 报名 5",
    ]
    assert cells(lines["wx-b"]) == [
        "wx-b", "2026-11-20", "none yet: latest day", "80 relative", "4", "9", "40",
        "10.0% !", "12.5% !", "5.0% !", "50.0% !", "20.0%", "3.5 !", "+2 -5 -0",
        "退款 6, 客服 2",
    ]
    assert cells(lines["wx-c"]) == [
        "wx-c", "2026-11-20", "yes", "-3 relative", "0", "0", "0", "—", "—", "—", "—",
        "—", "—", "+0 -3 -0", "—",
    ]


def test_only_values_below_target_are_red(rows: list[DayHealthRow]) -> None:
    _, segments = rendered(rows)
    red = {s.text.strip() for s in segments
           if s.style is not None and s.style.color is not None and s.style.color.name == "red"}
    # the caption's legend is red too
    assert red - {"red, with !"} == {"10.0% !", "12.5% !", "5.0% !", "50.0% !", "3.5 !"}
