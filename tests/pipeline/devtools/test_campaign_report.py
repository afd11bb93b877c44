"""The demo's campaign and sales summary judges ClickHouse figures against the truth."""

from __future__ import annotations

import io

from rich.console import Console

from pipeline.devtools.campaign_report import CampaignReadings, FunnelRow, print_campaigns
from pipeline.devtools.generator import generate
from schemas.events import FUNNEL_STEPS
from tests.support import CAMPAIGN_STREAM


def readings_of(truth) -> CampaignReadings:
    """What a correct pipeline stores, built from the truth."""
    funnels = [FunnelRow(f.campaign_id, f.title, FUNNEL_STEPS,
                         tuple(f.steps[s] for s in FUNNEL_STEPS),
                         (None, *(f.conversion[f"{a}->{b}"]
                                  for a, b in zip(FUNNEL_STEPS, FUNNEL_STEPS[1:], strict=False))))
               for f in truth.funnels]
    scopes = [(("all", "*"), truth.orders.total)] + [
        (("campaign", c), t) for c, t in truth.orders.by_campaign.items()]
    sales = {key: (t.orders, t.gmv_fen, t.refund_fen, t.gmv_fen - t.refund_fen, t.buyers,
                   t.repeat_buyers, t.gmv_fen // max(1, t.orders), None)
             for key, t in scopes}
    return CampaignReadings(funnels, [], sales)


def test_exact_figures_pass_and_a_wrong_one_is_flagged() -> None:
    truth = generate(CAMPAIGN_STREAM).truth
    readings = readings_of(truth)
    out = io.StringIO()
    assert print_campaigns(readings, truth, Console(file=out, width=200)) == 0
    text = out.getvalue()
    assert "DIFFERS" not in text and text.count("exact") == len(readings.funnels) + len(
        readings.sales)
    assert text.count("% !") == sum(len(f.below_target) for f in truth.funnels)  # weak steps

    first = readings.funnels[0]
    readings.funnels[0] = FunnelRow(first.campaign_id, first.name, first.steps,
                                    (first.persons[0] + 1, *first.persons[1:]),
                                    first.conversion)
    key = ("all", "*")
    orders, *rest = readings.sales[key]
    readings.sales[key] = (orders - 1, *rest)
    out = io.StringIO()
    assert print_campaigns(readings, truth, Console(file=out, width=200)) == 2
    assert out.getvalue().count("DIFFERS") == 2
