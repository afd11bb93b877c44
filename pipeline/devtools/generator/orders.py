"""Orders paid and refunded: organic purchases by members and campaign sales.

Buyers are drawn from a per-community pool with heavy-tailed propensity, so
repeat purchases happen naturally; a small share of orders is refunded later.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import accumulate

from pipeline.devtools.generator.campaigns import Campaign
from pipeline.devtools.generator.clock import (
    HOUR_MS,
    MINUTE_MS,
    ORDER_RHYTHM,
    SHANGHAI_OFFSET_MS,
    from_ms,
    poisson,
    sample_time,
)
from pipeline.devtools.generator.world import World

ORDERS_PER_DAY = 55
"""Organic orders per day in a community of average activity at scale 1."""

CAMPAIGN_BUY_RATE = 0.35
REFUND_RATE = 0.06


@dataclass(slots=True)
class Order:
    ts: int
    order_id: str
    member_id: str
    community_id: str | None
    campaign_id: str | None
    channel: str | None
    amount_fen: int
    status: str


def _order_id(world: World, ms: int) -> str:
    day = from_ms(ms + SHANGHAI_OFFSET_MS).strftime("%Y%m%d")
    return world.ids.next(f"ord{day}", 6)


def _amount(rng: random.Random, price: int) -> int:
    quantity = rng.choices((1, 2, 3), (0.8, 0.15, 0.05))[0]
    amount = price * quantity
    coupon = rng.choice((0, 0, 0, 500, 1000, 2000))
    return amount - coupon if amount > coupon * 3 else amount


def simulate_orders(world: World, campaigns: list[Campaign]) -> list[Order]:
    rng = world.rng("orders")
    paid: list[Order] = []
    for community in world.communities:
        pool = [m for m in community.memberships if not m.spammer and rng.random() < 0.3]
        if not pool:
            continue
        cumulative = list(accumulate(rng.paretovariate(1.3) for _ in pool))
        count = poisson(rng, ORDERS_PER_DAY * world.days * world.config.scale * community.activity)
        for _ in range(count):
            ms = sample_time(rng, world.start_ms, world.end_ms, ORDER_RHYTHM)
            for _ in range(30):
                buyer = rng.choices(pool, cum_weights=cumulative)[0]
                if buyer.is_member(ms):
                    break
            else:
                continue
            product, price = rng.choice(community.theme.catalog)
            paid.append(Order(ms, "", buyer.member_id, community.community_id, None,
                              buyer.channel, _amount(rng, price), "paid"))
    for campaign in campaigns:
        community = world.communities[campaign.community]
        for person, entry in campaign.entry_ms.items():
            if rng.random() >= CAMPAIGN_BUY_RATE:
                continue
            ms = entry + rng.randint(5 * MINUTE_MS, 3 * HOUR_MS)
            if ms >= world.end_ms:
                continue
            membership = community.by_member.get(person)
            in_group = membership is not None and membership.is_member(ms)
            paid.append(Order(ms, "", person, community.community_id if in_group else None,
                              campaign.campaign_id, campaign.channel_of[person],
                              _amount(rng, campaign.featured[1]), "paid"))
    paid.sort(key=lambda o: o.ts)
    for order in paid:
        order.order_id = _order_id(world, order.ts)
    refunds = []
    for order in paid:
        if rng.random() >= REFUND_RATE:
            continue
        ms = order.ts + rng.randint(2 * HOUR_MS, 40 * HOUR_MS)
        if ms >= world.end_ms:
            continue
        amount = order.amount_fen
        if rng.random() < 0.2:
            amount = max(100, int(amount * rng.uniform(0.2, 0.6)) // 100 * 100)
        refunds.append(Order(ms, order.order_id, order.member_id, order.community_id,
                             order.campaign_id, order.channel, amount, "refunded"))
    return sorted(paid + refunds, key=lambda o: o.ts)
