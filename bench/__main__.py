"""Run the benchmarks: ``python -m bench [NAME ...] [--quick]``.

Each ``bench/bench_<name>.py`` exposes ``main(quick: bool) -> Table``; this runner imports
them, runs the ones named (all by default) and prints every table.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import bench


def available() -> list[str]:
    return sorted(m.name[len("bench_"):] for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_"))


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all): {', '.join(available())}")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args(argv)
    from agent import logs

    logs.configure("WARNING")  # a benchmark measures the work, not a log line per request
    names = args.names or available()
    unknown = [n for n in names if n not in available()]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(available())}")
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        module.main(quick=args.quick).print()
    return 0


if __name__ == "__main__":
    sys.exit(run())
