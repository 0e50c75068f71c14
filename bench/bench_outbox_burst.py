"""Intake and sending side by side: a burst of request drops into a running agent (see the burst
mode in :mod:`bench.bench_outbox`); ``python -m bench outbox_burst``."""

from __future__ import annotations

from bench.bench_outbox import burst_table
from bench.common import Table


def main(quick: bool = False) -> Table:
    return burst_table(quick)
