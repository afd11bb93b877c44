"""``/health``: ready, starting, or stalled with the stalled partitions listed."""

from __future__ import annotations

from pipeline.app.web import health
from pipeline.runtime.watchdog import Stall

STALL = Stall("community.chat.messages.v1", 2, 312.345)


def test_ready_worker_is_ok() -> None:
    body, status = health(4, sinks_started=True, rebalancing=False, stalls=())
    assert status == 200
    assert body == {"status": "ok", "assigned_partitions": 4, "sinks_started": True,
                    "rebalancing": False, "stalled_partitions": []}


def test_starting_until_sinks_started_partitions_assigned_and_no_rebalance() -> None:
    for assigned, started, rebalancing in ((4, False, False), (0, True, False), (4, True, True)):
        body, status = health(assigned, started, rebalancing, ())
        assert (body["status"], status) == ("starting", 503)


def test_a_stalled_partition_turns_health_to_503_and_is_listed() -> None:
    body, status = health(4, sinks_started=True, rebalancing=False, stalls=(STALL,))
    assert status == 503
    assert body["status"] == "stalled"
    assert body["stalled_partitions"] == [
        {"topic": "community.chat.messages.v1", "partition": 2, "seconds": 312.3}
    ]
    # a stall wins over "starting" (e.g. during a rebalance): it must not be hidden
    assert health(4, True, True, (STALL,))[0]["status"] == "stalled"
