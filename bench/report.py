"""Pure arithmetic and formatting for the printed report: medians, paired ratios, markdown."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from bench.wrk import WrkResult


@dataclass(frozen=True, slots=True)
class CellSummary:
    """Medians over the rounds of one (route, concurrency) cell."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    rounds: int


def summarise(results: Sequence[WrkResult]) -> CellSummary:
    if not results:
        raise ValueError("a cell needs at least one run")
    return CellSummary(
        rps=statistics.median(r.rps for r in results),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        errors=sum(r.errors for r in results),
        rounds=len(results),
    )


def paired_ratio(numerator: Sequence[WrkResult], denominator: Sequence[WrkResult]) -> float:
    """Median of the per-round ratios.

    Runs are interleaved, so round i of each cell saw the same machine weather; the ratio within a
    round cancels that drift, and the median drops the odd disturbed round.
    """
    if len(numerator) != len(denominator) or not numerator:
        raise ValueError("paired ratio needs the same, non-zero number of rounds on each side")
    ratios = [n.rps / d.rps for n, d in zip(numerator, denominator, strict=True) if d.rps > 0]
    return statistics.median(ratios) if ratios else 0.0


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table; numbers are right-aligned, text left."""
    cells = [[_fmt(v) for v in row] for row in rows]
    for row in cells:
        if len(row) != len(headers):
            raise ValueError(f"row has {len(row)} cells, table has {len(headers)} columns")
    numeric = [
        bool(rows) and all(isinstance(row[i], int | float) for row in rows)
        for i in range(len(headers))
    ]
    align = ["---:" if n else "---" for n in numeric]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def verdict(value: float, target: float) -> str:
    """`1.34× (target ≥ 1.2×: met)` — the ratio with its target beside it."""
    met = "met" if value >= target else "NOT met"
    return f"{value:.3g}× (≥ {target:g}×: {met})"


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)
