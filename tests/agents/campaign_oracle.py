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


ATTRIBUTION_FIELDS = ("joins", "invited_joins", "participants", "orders", "gmv_fen")


def attribution_totals(funnel: list[dict], members: list[dict], transactions: list[dict],
                       window_ms: int, participation_step: str = "activity_entry",
                       ) -> dict[tuple[str, str, str, int], dict[str, int]]:
    """(first_touch | last_touch | inviter, value, window, start) -> credited joins,
    invited joins, participants, orders and GMV (docs/metrics.md, "Attribution")."""
    touches: dict[str, dict[str, tuple[int, str, str, str]]] = defaultdict(dict)
    participations: dict[tuple[str, str], int] = {}
    for e in funnel:
        ts = millis(e["ts"])
        if e.get("channel"):
            touches[e["person_id"]][e["event_id"]] = (ts, e["event_id"], e["campaign_id"],
                                                      e["channel"])
        if e["step"] == participation_step:
            key = (e["person_id"], e["campaign_id"])
            participations[key] = min(ts, participations.get(key, ts))
    rows: dict[tuple, dict[str, int]] = defaultdict(lambda: dict.fromkeys(ATTRIBUTION_FIELDS, 0))

    def credit(person: str, ts: int, own: str | None, campaign: str | None,
               amounts: dict[str, int]) -> str:
        found = sorted(t for t in touches[person].values()
                       if ts - window_ms <= t[0] <= ts and (campaign is None or t[2] == campaign))
        credited = {}
        for model, touch in (("first_touch", found[0] if found else None),
                             ("last_touch", found[-1] if found else None)):
            value = f"{touch[2]}|{touch[3]}" if touch else f"-|{own or '(direct)'}"
            credited[model] = value.split("|")[0]
            for window, start in (("all", 0), ("day", local_day_start(ts))):
                for field, amount in amounts.items():
                    rows[(model, value, window, start)][field] += amount
        return credited["last_touch"]

    seen_joins = set()
    for e in members:
        if e["action"] != "join" or e["event_id"] in seen_joins:
            continue
        seen_joins.add(e["event_id"])
        invited = 1 if e.get("inviter_id") else 0
        campaign = credit(e["member_id"], millis(e["ts"]), e.get("qr_code_id") or e.get("channel"),
                          None, {"joins": 1, "invited_joins": invited})
        if invited:
            for scope in (campaign, "*"):
                rows[("inviter", f"{scope}|{e['inviter_id']}", "all", 0)]["invited_joins"] += 1
    for (person, campaign), ts in participations.items():
        credit(person, ts, None, campaign, {"participants": 1})
    paid: dict[str, dict] = {}
    for e in transactions:
        if e["status"] == "paid":
            paid.setdefault(e["order_id"], e)
    for order in paid.values():
        credit(order["member_id"], millis(order["ts"]), order.get("channel"), None,
               {"orders": 1, "gmv_fen": order["amount_fen"]})
    return {k: v for k, v in rows.items() if any(v.values())}
