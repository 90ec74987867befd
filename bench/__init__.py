"""Benchmarks for `make bench` (SPEC §9): each figure next to a baseline from the same run.

A benchmark is a function registered with `@benchmark(order)`; it gets the shared
`Context` (sizes, generated data, databases made by earlier benchmarks) and returns
`Result`s. Later features add a module with their own benchmarks and import it in
`bench/__main__.py`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Result:
    """One printed line: the figure, the baseline, their ratio, the target and the verdict."""

    name: str
    value: float
    unit: str  # "s", "ms" or "MB"
    target: str  # human form, e.g. "< 30 s, ratio <= 2"
    passed: bool
    baseline: float | None = None
    baseline_label: str = ""
    note: str = ""  # e.g. CPU time, which shows when a busy machine stretched the wall time

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline <= 0:
            return None
        return self.value / self.baseline

    def line(self) -> str:
        def fmt(v: float) -> str:
            return f"{v:,.1f} {self.unit}" if v >= 10 else f"{v:,.3g} {self.unit}"

        base = f"baseline {fmt(self.baseline)} ({self.baseline_label})" \
            if self.baseline is not None else "baseline -"
        ratio = f"ratio {self.ratio:.2f}" if self.ratio is not None else "ratio -"
        verdict = "PASS" if self.passed else "FAIL"
        note = f"   [{self.note}]" if self.note else ""
        return (f"{self.name:<36} {fmt(self.value):>10}   {base:<52} {ratio:<13} "
                f"target {self.target:<20} {verdict}{note}")


@dataclass
class Context:
    """What benchmarks share: sizes, the generated CSVs, a work folder and each other's output."""

    members: int
    contributions: int
    seed: int
    data_dir: Path  # members.csv and contributions.csv
    generated_on: date  # the synthetic data's "today"
    work_dir: Path  # fresh databases go here
    template_db: Path  # an empty, migrated SQLite database to copy
    shared: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Benchmark:
    order: int
    name: str
    run: Callable[[Context], list[Result]]


BENCHMARKS: list[Benchmark] = []


def benchmark(order: int, name: str | None = None) -> Callable:
    """Register a benchmark; they run by `order` (later ones may use earlier ones' output)."""

    def decorator(fn: Callable[[Context], list[Result]]):
        BENCHMARKS.append(Benchmark(order, name or fn.__name__, fn))
        BENCHMARKS.sort(key=lambda b: b.order)
        return fn

    return decorator
