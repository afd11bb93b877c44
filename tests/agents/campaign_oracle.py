"""Brute-force funnel and sales figures from the produced valid events, written
independently of ``pipeline.compute.campaigns`` / ``pipeline.compute.sales``:
plain loops over every event, no incremental state."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import orjson

from schemas.events import FUNNEL_STEPS

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOUR_MS = 3_600_000


def valid_values(stream, topic: str) -> list[dict]:
    return [orjson.loads(r.value) for r in stream.records
            if r.topic == topic and r.kind != "malformed"]


def millis(ts: str) -> int:
    return int(datetime.fromisoformat(ts).timestamp() * 1000)


def local_day_start(ms: int) -> int:
    local = datetime.fromtimestamp(ms / 1000, SHANGHAI)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return int(midnight.astimezone(UTC).timestamp() * 1000)


def funnel_counts(events: list[dict]) -> dict[tuple[str, str, str, int], list[int]]:
    """(campaign, channel or *, window, start) -> persons per default step, later steps
    implying earlier ones; a person's channel is that of their first event with one."""
    reached: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    touch: dict[tuple[str, str], tuple[int, str, str]] = {}
    for e in events:
        person = (e["campaign_id"], e["person_id"])
        ts = millis(e["ts"])
        steps = reached[person]
        steps[e["step"]] = min(ts, steps.get(e["step"], ts))
        if e.get("channel") is not None:
            candidate = (ts, e["event_id"], e["channel"])
            touch[person] = min(candidate, touch.get(person, candidate))
    counts: dict[tuple[str, str, str, int], list[int]] = defaultdict(
        lambda: [0] * len(FUNNEL_STEPS))
    for person, steps in reached.items():
        campaign = person[0]
        channel = touch[person][2] if person in touch else "(none)"
        for i in range(len(FUNNEL_STEPS)):
            later = [steps[s] for s in FUNNEL_STEPS[i:] if s in steps]
            if not later:
                continue
            at = min(later)
            for ch in ("*", channel):
                counts[(campaign, ch, "campaign", 0)][i] += 1
                counts[(campaign, ch, "hour", at - at % HOUR_MS)][i] += 1
                counts[(campaign, ch, "day", local_day_start(at))][i] += 1
    return dict(counts)


def sales_totals(events: list[dict]) -> dict[tuple[str, str, str, int], dict[str, int]]:
    """(dimension, value, window, start) -> orders, gmv_fen, refunds, refund_fen,
    paying_members, repeat_members (refunds by refund time, capped at the order)."""
    paid: dict[str, dict] = {}
    refunded: dict[str, dict] = {}
    for e in events:
        target = paid if e["status"] == "paid" else refunded
        target.setdefault(e["order_id"], e)
    sums: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    buyers: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def keys(order: dict, ms: int) -> list[tuple]:
        dims = [("all", "*")] + [(d, order[f"{d}_id" if d != "channel" else d])
                                 for d in ("community", "campaign", "channel")
                                 if order[f"{d}_id" if d != "channel" else d] is not None]
        windows = [("all", 0), ("hour", ms - ms % HOUR_MS), ("day", local_day_start(ms))]
        return [(d, v, w, s) for d, v in dims for w, s in windows]

    for order_id, order in paid.items():
        ms = millis(order["ts"])
        for key in keys(order, ms):
            sums[key]["orders"] += 1
            sums[key]["gmv_fen"] += order["amount_fen"]
            buyers[key][order["member_id"]] += 1
        refund = refunded.get(order_id)
        if refund is not None:
            for key in keys(order, millis(refund["ts"])):
                sums[key]["refunds"] += 1
                sums[key]["refund_fen"] += min(refund["amount_fen"], order["amount_fen"])
    out = {}
    for key in set(sums) | set(buyers):
        values = {f: sums[key].get(f, 0) for f in ("orders", "gmv_fen", "refunds", "refund_fen")}
        values["paying_members"] = len(buyers[key])
        values["repeat_members"] = sum(n >= 2 for n in buyers[key].values())
        out[key] = values
    return out
