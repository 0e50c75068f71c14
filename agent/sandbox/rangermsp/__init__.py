"""A simulator of RangerMSP's database API (``CmtDbEng.dll`` and ``CmtDbQry.dll``), for the tests,
the demo and the benchmarks. Built from the facts gathered about the vendor's own code and the
shipped DLL (rangermsp-api-facts.md, cited by section), not from the backend that uses it: it
accepts what the vendor's code sends and refuses what it never sends. On a RangerMSP server the
real DLLs take its place. See docs/rangermsp-simulator.md."""

from __future__ import annotations

from pathlib import Path

from agent.sandbox.rangermsp.faults import Faults
from agent.sandbox.rangermsp.library import DESCRIPTIONS, SimulatorLibraries, simulator_libraries
from agent.sandbox.rangermsp.records import SimulatorDatabase
from agent.sandbox.rangermsp.settings import configure

__all__ = ["DESCRIPTIONS", "Faults", "SimulatorDatabase", "SimulatorLibraries", "configure", "make_installation",
           "simulator_libraries"]


def make_installation(folder: Path | str) -> Path:
    """The folders of a RangerMSP installation the simulator stands in for: ``ThirdParty/UserDev``
    (where the real DLLs would be), ``Db`` (the records) and ``Dbsys``. Returns ``folder``."""
    root = Path(folder)
    for sub in (Path("ThirdParty") / "UserDev", Path("Db"), Path("Dbsys")):
        (root / sub).mkdir(parents=True, exist_ok=True)
    readme = root / "ThirdParty" / "UserDev" / "SIMULATOR.txt"
    if not readme.exists():
        readme.write_text("This is not a RangerMSP installation: zenithlink's simulator of RangerMSP's DB API\n"
                          "keeps its records in ../../Db. The real CmtDbEng.dll and CmtDbQry.dll live here on a\n"
                          "RangerMSP server.\n", encoding="utf-8")
    return root
