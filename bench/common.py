"""Shared helpers for the benchmarks: a figures table and a peak-RSS probe."""

from __future__ import annotations

import resource
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator


@dataclass
class Row:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    target: str = ""
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        if not self.baseline or not self.value:
            return None
        return self.value / self.baseline if self.higher_is_better else self.baseline / self.value


@dataclass
class Table:
    """Figures of one benchmark; ``ratio`` is >1 when the measured figure beats the baseline."""

    title: str
    rows: list[Row] = field(default_factory=list)

    def add(self, name: str, value: float, unit: str, *, baseline: float | None = None,
            target: str = "", higher_is_better: bool = True) -> None:
        self.rows.append(Row(name, value, unit, baseline, target, higher_is_better))

    def print(self, out=sys.stdout) -> None:
        print(f"\n== {self.title}", file=out)
        print(f"{'figure':<44} {'value':>12} {'unit':<8} {'baseline':>12} {'ratio':>7}  target", file=out)
        for r in self.rows:
            base = f"{r.baseline:12.3f}" if r.baseline is not None else f"{'-':>12}"
            ratio = f"{r.ratio:7.2f}" if r.ratio is not None else f"{'-':>7}"
            print(f"{r.name:<44} {r.value:12.3f} {r.unit:<8} {base} {ratio}  {r.target}", file=out)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as t: ...`` then ``t[0]`` is the elapsed seconds."""
    box = [0.0]
    start = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - start
