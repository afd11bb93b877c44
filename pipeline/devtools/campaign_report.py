"""The demo's campaign and sales summary: funnels, conversion alerts and GMV from
ClickHouse, each checked against the generator's ground truth."""

from __future__ import annotations

from dataclasses import dataclass

from clickhouse_connect.driver.client import Client
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from schemas.events import FUNNEL_STEPS

SHORT_STEPS = ("poster", "page", "signup", "remind", "entry", "follow")


@dataclass(frozen=True, slots=True)
class FunnelRow:
    campaign_id: str
    name: str
    steps: tuple[str, ...]
    persons: tuple[int, ...]
    conversion: tuple[float | None, ...]


def read_funnels(client: Client, database: str) -> list[FunnelRow]:
    rows = client.query(
        "SELECT campaign_id, campaign_name, step_names, step_persons, step_conversion "
        f"FROM {database}.campaign_funnel FINAL "
        "WHERE window = 'campaign' AND channel = '*' ORDER BY campaign_id").result_rows
    return [FunnelRow(c, n, tuple(s), tuple(p), tuple(v)) for c, n, s, p, v in rows]


def read_alerts(client: Client, database: str) -> list[tuple]:
    return client.query(
        "SELECT campaign_id, from_step, to_step, status, converted, entered, rate, threshold "
        f"FROM {database}.campaign_conversion_alerts FINAL ORDER BY alert_id").result_rows


def read_sales(client: Client, database: str) -> dict[tuple[str, str], tuple]:
    rows = client.query(
        "SELECT dimension, dimension_value, orders, gmv_fen, refund_fen, net_gmv_fen, "
        "paying_members, repeat_members, aov_fen, repurchase_rate "
        f"FROM {database}.sales_totals FINAL WHERE window = 'all' "
        "AND dimension IN ('all', 'campaign')").result_rows
    return {(row[0], row[1]): tuple(row[2:]) for row in rows}


def _yuan(fen: int | None) -> str:
    return "—" if fen is None else f"¥{fen / 100:,.2f}"


def _verdict(ok: bool) -> Text:
    return Text("exact", style="green") if ok else Text("DIFFERS", style="bold red")


def funnel_table(funnels: list[FunnelRow], truth) -> tuple[Table, int]:
    expected = {f.campaign_id: f for f in truth.funnels}
    labels = [SHORT_STEPS[FUNNEL_STEPS.index(s)] if s in FUNNEL_STEPS else s
              for s in (funnels[0].steps if funnels else FUNNEL_STEPS)]
    table = Table(Column("campaign"), *(Column(label, justify="right") for label in labels),
                  Column("vs truth"),
                  title="Campaign funnels (ClickHouse campaign_funnel FINAL, whole campaign, "
                        "all channels): persons, and conversion from the previous step",
                  caption="[red]red, with ![/red]: conversion below its target (85%)")
    wrong = 0
    for row in funnels:
        cells = []
        for persons, conversion in zip(row.persons, row.conversion, strict=True):
            if conversion is None:
                cells.append(Text(f"{persons:,}"))
            else:
                low = conversion < 0.85
                cells.append(Text(f"{persons:,} {conversion:.0%}{' !' if low else ''}",
                                  style="bold red" if low else ""))
        truth_row = expected.get(row.campaign_id)
        ok = truth_row is not None and list(row.persons) == [
            truth_row.steps[s] for s in row.steps]
        wrong += not ok
        table.add_row(f"{row.campaign_id} {row.name}", *cells, _verdict(ok))
    return table, wrong


def sales_table(sales: dict[tuple[str, str], tuple], truth) -> tuple[Table, int]:
    table = Table("scope", Column("orders", justify="right"), Column("GMV", justify="right"),
                  Column("refunds", justify="right"), Column("net GMV", justify="right"),
                  Column("paying", justify="right"), Column("repeat", justify="right"),
                  Column("AOV", justify="right"), Column("repurchase", justify="right"),
                  "vs truth",
                  title="Sales (ClickHouse sales_totals FINAL, cumulative; amounts in yuan, "
                        "kept as integer fen)")
    scopes = [(("all", "*"), truth.orders.total)] + [
        (("campaign", c), totals) for c, totals in truth.orders.by_campaign.items()]
    wrong = 0
    for (dimension, value), expected in scopes:
        got = sales.get((dimension, value))
        if got is None:
            wrong += 1
            table.add_row(value if dimension != "all" else "all orders", *["—"] * 8,
                          _verdict(False))
            continue
        orders, gmv, refund, net, paying, repeat, aov, repurchase = got
        ok = (orders, gmv, refund, paying, repeat) == (
            expected.orders, expected.gmv_fen, expected.refund_fen, expected.buyers,
            expected.repeat_buyers)
        wrong += not ok
        table.add_row(value if dimension != "all" else "all orders", f"{orders:,}", _yuan(gmv),
                      _yuan(refund), _yuan(net), f"{paying:,}", f"{repeat:,}", _yuan(aov),
                      "—" if repurchase is None else f"{repurchase:.1%}", _verdict(ok))
    return table, wrong


@dataclass(frozen=True, slots=True)
class CampaignReadings:
    funnels: list[FunnelRow]
    alerts: list[tuple]
    sales: dict[tuple[str, str], tuple]


def read_campaigns(client: Client, database: str) -> CampaignReadings:
    return CampaignReadings(read_funnels(client, database), read_alerts(client, database),
                            read_sales(client, database))


def print_campaigns(readings: CampaignReadings, truth, console: Console) -> int:
    """Print the summary; returns the number of campaigns and sales scopes that differ
    from the ground truth."""
    funnels, wrong_funnels = funnel_table(readings.funnels, truth)
    console.print(funnels)
    alerts = readings.alerts
    weak = {(f.campaign_id, t) for f in truth.funnels for t in f.below_target}
    for campaign, from_step, to_step, status, converted, entered, rate, threshold in alerts:
        expected = (campaign, f"{from_step}->{to_step}") in weak
        mark = "[green]expected[/green]" if expected else "[yellow]not in the truth[/yellow]"
        console.print(f"conversion alert {campaign} {from_step} -> {to_step}: {status}, "
                      f"{converted}/{entered} = {rate:.0%} < {threshold:.0%} ({mark})")
    if not alerts:
        console.print("no conversion alerts")
    sales, wrong_sales = sales_table(readings.sales, truth)
    console.print(sales)
    return wrong_funnels + wrong_sales
