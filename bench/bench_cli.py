"""How fast the command line starts: wall time of whole ``zenithlink`` processes, each beside a
bare ``python -c pass`` measured in the same run (medians of ``RUNS``).

Every script, monitoring probe and test pays a command's start; a command should load only what
it uses. The folder is a real one, as a stopped agent leaves it: an INI, a store, the folder's
lock file, a sites file of 50 sites (written once, before the clock). Standard output is not a
terminal, as for a script. Target: each command ≤ 6× the bare interpreter.

Beside the wall time, the CPU time of each process (user + system, where the platform reports a
child's usage): on a machine shared with other work the wall time also counts the waits for a
core, the CPU time much less so.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench.common import Table

RUNS = 7
TARGET_RATIO = 6.0
COMMANDS = (("--version",), ("status",), ("inventory", "sites"), ("check-config", "--offline"))
_ENTRY = "import sys; from agent.cli import main; main(sys.argv[1:])"


def _folder(root: Path) -> Path:
    """A folder an agent has run on and stopped: an INI with a PSG and a ContinuumURL, its store,
    its lock file (left behind, as a stopped agent leaves it), a sites file of 50 sites."""
    from agent.app import App
    from agent.runtime.lock import FolderLock
    from dbsys import cmt

    ini = root / "CmtZenithLink.ini"
    ini.write_text("[Continuum]\nPSG=bench-psg\nContinuumURL=http://127.0.0.1:9/\n[RangerMSP]\nDbsysFolder=Dbsys\n")
    app = App(ini)
    try:
        app.state  # noqa: B018 - the store, created as the agent's first start creates it
        settings = app.settings
        with FolderLock(settings.dbsys_folder):
            pass
        sites = ([("SiteCode", f"S{n:03d}"), ("Name", f"Site {n}")] for n in range(50))
        cmt.write_inventory(cmt.sites_path(settings.dbsys_folder, settings.instance_id), "sites", sites,
                            datetime.now(timezone.utc))
    finally:
        app.close()
    return ini


def _children_cpu() -> float | None:
    try:
        import resource
    except ImportError:  # Windows: no usage of children to read
        return None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _seconds(argv: list[str], env: dict[str, str]) -> tuple[float, float | None]:
    """Wall time and CPU time (``None`` where unknown) of one process, run alone."""
    cpu_before = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, timeout=60)
    took = time.perf_counter() - start
    cpu_after = _children_cpu()
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[3:])} exited {done.returncode}: {done.stderr.decode(errors='replace')}")
    return took, (cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None)


def main(quick: bool = False) -> Table:
    runs = 3 if quick else RUNS
    table = Table(f"CLI start: whole processes, median of {runs}, beside a bare 'python -c pass' (wall, then CPU)")
    with tempfile.TemporaryDirectory() as tmp:
        ini = _folder(Path(tmp))
        env = {**os.environ, "ZENITHLINK_CONFIG": str(ini)}
        bare_argv = [sys.executable, "-c", "pass"]
        argvs = [[sys.executable, "-c", _ENTRY, *command] for command in COMMANDS]
        _seconds(bare_argv, env)  # the interpreter's files into the page cache first
        bare: list[tuple[float, float | None]] = []
        taken: list[list[tuple[float, float | None]]] = [[] for _ in COMMANDS]
        for _ in range(runs):  # interleaved: a drift of the machine's speed hits every row alike
            bare.append(_seconds(bare_argv, env))
            for times, argv in zip(taken, argvs):
                times.append(_seconds(argv, env))
        for kind, at in (("", 0), (" (CPU)", 1)):
            if any(sample[at] is None for sample in bare):
                continue
            base = statistics.median(sample[at] or 0.0 for sample in bare)
            for command, times in zip(COMMANDS, taken):
                table.add(f"zenithlink {' '.join(command)}{kind}", statistics.median(t[at] or 0.0 for t in times),
                          "s", baseline=base, higher_is_better=False,
                          target=f"<= {TARGET_RATIO:.0f}x bare ({TARGET_RATIO * base:.3f} s)")
    return table
