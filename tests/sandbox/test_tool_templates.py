"""The offline model's pandas templates, run in the real sandbox against known files: each figure they
print is checked against the same figure worked out here with the csv module and exact decimals."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import Decimal

import pytest

from offline_model.analysis import read_printed
from offline_model.analysis_code import DataRequest, code_for
from sandbox import sessions

pytestmark = pytest.mark.usefixtures("sandbox")

# Column names in another case and spacing than any question uses; amounts with currency signs.
ORDERS_CSV = """order date,REGION,Product Name,Net Revenue,units
2024-01-05,North,Mug,"$1,120.50",3
2024-01-17,South,Mug,$80.00,2
2024-02-03,North,Teapot,$200.00,1
2024-02-20,East,Mug,$40.25,1
2024-02-21,East,Kettle,$310.10,4
2024-03-11,South,Teapot,$210.00,1
2024-03-28,North,Mug,$99.75,2
2024-03-30,South,Kettle,$5.06,7
"""
# Semicolons, and a month column of its own.
VISITS_CSV = "Month;Channel;Visits\n2024-02;web;120\n2024-01;web;100\n2024-01;app;30\n2024-02;app;45\n"


@pytest.fixture(autouse=True)
def roomy_limits(sandbox_settings):
    sandbox_settings.SANDBOX_WALL_SECONDS = 30.0
    sandbox_settings.SANDBOX_CPU_SECONDS = 30.0


def rows() -> list[dict]:
    return list(csv.DictReader(io.StringIO(ORDERS_CSV)))


def money(text: str) -> Decimal:
    return Decimal(text.replace("$", "").replace(",", ""))


def shown(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):,}"


def run(request: DataRequest, content: str = ORDERS_CSV) -> tuple[str, list[tuple[str, str]], str | None, object]:
    execution = sessions.execute("templates", code_for(request), files=[(request.file, content.encode())])
    assert execution.error is None, execution.error
    printed = read_printed(execution.logs)
    return printed.title, printed.figures, printed.total, execution


def test_the_total_of_a_column_by_another_is_each_groups_exact_sum():
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows():
        expected[row["REGION"]] += money(row["Net Revenue"])

    title, figures, total, _ = run(DataRequest("aggregate", "orders.csv", "sum", "revenue", "region"))

    assert title == "Total Net Revenue by REGION (orders.csv, 8 rows)"
    ranked = sorted(expected.items(), key=lambda item: -item[1])
    assert figures == [(region, shown(amount)) for region, amount in ranked]
    assert total == shown(sum(expected.values()))


def test_the_average_by_a_group():
    amounts: dict[str, list[Decimal]] = defaultdict(list)
    for row in rows():
        amounts[row["Product Name"]].append(money(row["Net Revenue"]))

    title, figures, total, _ = run(DataRequest("aggregate", "orders.csv", "mean", "net revenue", "product name"))

    assert title.startswith("Average Net Revenue by Product Name")
    assert dict(figures) == {name: shown(sum(values) / len(values)) for name, values in amounts.items()}
    assert total is None  # no sum of averages


@pytest.mark.parametrize(("how", "pick"), [("max", max), ("min", min)])
def test_the_highest_and_lowest_by_a_group(how, pick):
    units: dict[str, list[int]] = defaultdict(list)
    for row in rows():
        units[row["REGION"]].append(int(row["units"]))

    _, figures, _, _ = run(DataRequest("aggregate", "orders.csv", how, "units", "region"))

    assert dict(figures) == {region: f"{pick(values):,.2f}" for region, values in units.items()}


def test_rows_are_counted_by_a_group():
    counts: dict[str, int] = defaultdict(int)
    for row in rows():
        counts[row["Product Name"]] += 1

    title, figures, total, _ = run(DataRequest("aggregate", "orders.csv", "count", None, "product"))

    assert title.startswith("Number of rows by Product Name")
    assert dict(figures) == {name: str(count) for name, count in counts.items()}
    assert total == "8"


def test_a_total_per_month_comes_from_the_dates_in_time_order_and_a_synonym_finds_the_column():
    by_month: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows():
        by_month[row["order date"][:7]] += money(row["Net Revenue"])

    # "sales": no column is named so; a revenue column is.
    title, figures, total, _ = run(DataRequest("aggregate", "orders.csv", "sum", "sales", "month"))

    assert title == "Total Net Revenue by month (orders.csv, 8 rows)"
    assert figures == [(month, shown(amount)) for month, amount in sorted(by_month.items())]
    assert total == shown(sum(by_month.values()))


def test_a_month_column_of_the_files_own_is_used_as_it_is():
    request = DataRequest("aggregate", "visits.csv", "sum", "visits", "month")

    title, figures, total, _ = run(request, VISITS_CSV)

    assert title == "Total Visits by Month (visits.csv, 4 rows)"
    assert figures == [("2024-01", "130.00"), ("2024-02", "165.00")]
    assert total == "295.00"


def test_a_plot_shows_a_chart_and_saves_its_figures():
    request = DataRequest("aggregate", "orders.csv", "sum", "units", "region", plot=True)

    _, figures, _, execution = run(request)

    (image,) = execution.images
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
    (table,) = execution.files
    assert table.name == "total_units_by_region.csv"
    saved = list(csv.reader(io.StringIO(table.content.decode())))
    assert saved[0] == ["REGION", "Total units by REGION"]
    assert [(region, f"{float(amount):,.2f}") for region, amount in saved[1:]] == figures


def test_what_is_not_a_column_counts_rows_only_when_no_computation_was_asked():
    counted = DataRequest("aggregate", "orders.csv", "sum", "orders", "month", count_if_missing=True)
    title, figures, _, _ = run(counted)
    assert title.startswith("Number of rows by month")
    assert figures == [("2024-01", "2"), ("2024-02", "3"), ("2024-03", "3")]

    _, _, _, execution = run(DataRequest("aggregate", "orders.csv", "sum", "profit", "region"))
    assert execution.logs.startswith("Could not find a column for profit in orders.csv; its columns are: order date,")


def test_a_description_gives_each_columns_range_or_values():
    title, figures, _, _ = run(DataRequest("describe", "orders.csv"))

    assert title == "orders.csv: 8 rows, 5 columns"
    described = dict(figures)
    assert described["units"] == "numbers from 1.00 to 7.00, average 2.62, total 21.00"
    assert described["REGION"] == "3 different values, most often North"
    assert set(described) == {"order date", "REGION", "Product Name", "Net Revenue", "units"}
