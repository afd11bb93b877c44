"""The metrics catalogue is current, complete and consistent with the specs it names."""

from __future__ import annotations

import re
import types
from dataclasses import replace
from typing import Union, get_args, get_origin

from pipeline.egress.catalogue import (
    BOOKKEEPING,
    CATALOGUE_PATH,
    DAY_GAUGES,
    METRIC_FAMILIES,
    prometheus_help,
    render_catalogue,
    render_family,
)
from schemas.outputs import CommunityDayHealth

ROW = re.compile(r"^\| `(?P<field>\w+)` \| (?P<definition>.*?) \| (?P<column>\S+) \| "
                 r"`(?P<topic>[^`]+)` / `(?P<json>[^`]+)` \| (?P<series>.*) \|$")
BOOKKEEPING_ITEM = re.compile(r"^- `(?P<field>\w+)`: ")


def sections() -> dict[str, list[str]]:
    """The rendered catalogue, split by family heading (``## <name>: ...``)."""
    result: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in render_catalogue().splitlines():
        if line.startswith("## "):
            current = result.setdefault(line[3:].split(":")[0], [])
        elif current is not None:
            current.append(line)
    return result


def rows(lines: list[str]) -> list[re.Match[str]]:
    return [m for line in lines if (m := ROW.match(line))]


def bookkeeping_listed(lines: list[str]) -> list[str]:
    start = lines.index("Keys and bookkeeping:")
    listed = []
    for line in lines[start + 2:]:
        if not (m := BOOKKEEPING_ITEM.match(line)):
            break
        listed.append(m["field"])
    return listed


def test_committed_catalogue_is_up_to_date() -> None:
    on_disk = CATALOGUE_PATH.read_text(encoding="utf-8") if CATALOGUE_PATH.exists() else ""
    assert on_disk == render_catalogue(), (
        "run `make catalogue` (pulse catalogue) and commit docs/metrics-catalogue.md"
    )


def test_every_field_is_listed_once_or_declared_bookkeeping() -> None:
    rendered = sections()
    assert sorted(rendered) == sorted(f.name for f in METRIC_FAMILIES)
    for family in METRIC_FAMILIES:
        lines = rendered[family.name]
        listed = [m["field"] for m in rows(lines)]
        bookkeeping = bookkeeping_listed(lines)
        assert len(listed) == len(set(listed)), f"{family.name}: a field listed twice"
        assert not set(listed) & set(BOOKKEEPING), f"{family.name}: bookkeeping listed as metric"
        assert set(bookkeeping) <= set(BOOKKEEPING), f"{family.name}: {bookkeeping}"
        assert sorted(listed + bookkeeping) == sorted(family.record.model_fields), (
            f"{family.name}: fields not in the catalogue"
        )


def test_every_listed_clickhouse_column_exists_in_its_table() -> None:
    rendered = sections()
    for family in METRIC_FAMILIES:
        for row in rows(rendered[family.name]):
            assert row["topic"] == family.topic.name
            if row["column"] == "—":
                continue
            table, _, column = row["column"].strip("`").partition(".")
            assert table == family.table.name, row.group(0)
            assert column in family.table.columns, f"{table} has no column {column}"


def test_fields_with_a_column_show_it() -> None:
    rendered = sections()
    for family in METRIC_FAMILIES:
        for row in rows(rendered[family.name]):
            if row["field"] in family.table.columns:
                assert row["column"] == f"`{family.table.name}.{row['field']}`", row.group(0)


def test_every_prometheus_series_is_registered_and_carries_a_field() -> None:
    registered = prometheus_help()
    for family in METRIC_FAMILIES:
        for series in family.prometheus:
            assert series.name in registered, f"{series.name} is not a PrometheusSeries metric"
            assert series.field in family.metric_fields(), f"{family.name}: {series}"


def _is_number(annotation: object) -> bool:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return len(args) == 1 and _is_number(args[0])
    return annotation in (int, float)


def test_day_gauges_are_numeric_fields_of_the_day_record() -> None:
    assert len(DAY_GAUGES) == len(set(DAY_GAUGES))
    fields = CommunityDayHealth.model_fields
    for name in DAY_GAUGES:
        assert name in fields, f"{name} is no field of CommunityDayHealth"
        assert _is_number(fields[name].annotation), f"{name}: {fields[name].annotation}"


def test_a_field_without_a_column_shows_a_dash() -> None:
    minute = METRIC_FAMILIES[0]
    family = replace(minute, table=replace(minute.table, columns=("community_id",)))
    listed = rows(render_family(family, {}).splitlines())
    assert listed and {m["column"] for m in listed} == {"—"}
