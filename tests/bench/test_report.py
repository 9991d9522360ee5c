from __future__ import annotations

import pytest

from bench.report import markdown_table, paired_ratio, summarise, verdict
from bench.wrk import WrkResult


def _run(rps: float, *, p50: float = 1.0, p99: float = 2.0, errors: int = 0) -> WrkResult:
    return WrkResult(
        requests=int(rps * 2), duration_s=2.0, errors=errors, non_2xx=0, p50_ms=p50, p99_ms=p99
    )


def test_summary_takes_medians_and_sums_errors() -> None:
    cell = summarise([_run(100, p99=5), _run(300, p99=1, errors=2), _run(200, p99=3)])
    assert cell.rps == 200
    assert cell.p99_ms == 3
    assert cell.errors == 2
    assert cell.rounds == 3


def test_summary_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        summarise([])


def test_paired_ratio_is_the_median_of_per_round_ratios() -> None:
    # Round 2 is a slow patch for both sides: per-round ratios are 2, 2, 1.5 -> median 2,
    # while the ratio of medians would be 400/250 = 1.6.
    backend = [_run(400), _run(100), _run(600)]
    hono = [_run(200), _run(50), _run(400)]
    assert paired_ratio(backend, hono) == pytest.approx(2.0)


def test_paired_ratio_needs_paired_rounds() -> None:
    with pytest.raises(ValueError, match="same"):
        paired_ratio([_run(1)], [_run(1), _run(2)])


def test_markdown_table_aligns_numbers_right_and_formats_them() -> None:
    table = markdown_table(["route", "req/s", "p99 ms"], [["bare", 23712.4, 4.289], ["x", 12, 0.5]])
    lines = table.splitlines()
    assert lines[0] == "| route | req/s | p99 ms |"
    assert lines[1] == "| --- | ---: | ---: |"
    assert lines[2] == "| bare | 23,712 | 4.29 |"
    assert lines[3] == "| x | 12 | 0.50 |"


def test_markdown_table_refuses_a_ragged_row() -> None:
    with pytest.raises(ValueError, match="columns"):
        markdown_table(["a", "b"], [["only one"]])


def test_verdict_states_the_target_and_whether_it_was_met() -> None:
    assert verdict(1.34, 1.2) == "1.34× (≥ 1.2×: met)"
    assert verdict(0.15, 0.2) == "0.15× (≥ 0.2×: NOT met)"
