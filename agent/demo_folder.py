"""The demo's working folder: the demo touches only a folder it made itself.

A folder the demo makes (or is handed empty) gets a marker file first. Any other folder is
refused: a real agent's folder holds a real INI and store, which the demo must never rewrite.
A folder with the marker holds an earlier run; that run's records belong to a sandbox world
that no longer exists, so the demo starts over in it, keeping the keys the user added to its INI.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from agent.errors import AlreadyRunning, UsageError
from dbsys.atomic import atomic_write
from dbsys.host import OWNER_ONLY

MARKER = ".zenithlink-demo"
INI_NAME = "CmtZenithLink.ini"
DBSYS = "Dbsys"

_SECTION = re.compile(r"^\s*\[(?P<name>[^\]]+)\]\s*$")
_KEY = re.compile(r"^\s*(?P<key>[^=;#\s][^=]*?)\s*=")


class DemoFolder:
    """The folder named by ``--folder``, or a new temporary one (removed by :meth:`remove_if_temporary`)."""

    def __init__(self, path: Path | None) -> None:
        self.temporary = path is None
        self.path = Path(tempfile.mkdtemp(prefix="zenithlink-demo-")) if path is None else Path(path)

    @property
    def ini(self) -> Path:
        return self.path / INI_NAME

    @property
    def dbsys(self) -> Path:
        return self.path / DBSYS

    def claim(self) -> bool:
        """Make the folder the demo's. Returns True when it holds an earlier run of the demo (which
        is then cleared: see :meth:`start_over`), False for a new or empty folder."""
        path = self.path
        if path.exists() and not path.is_dir():
            raise UsageError(f"{path} is a file, not a folder; name a new or empty folder for the demo")
        if (path / MARKER).is_file():
            self.start_over()
            return True
        if path.exists() and any(path.iterdir()):
            shown = ", ".join(sorted(p.name for p in path.iterdir())[:4])
            raise UsageError(f"{path} is not a folder the demo made (it holds {shown} and no {MARKER} file), so "
                             "the demo leaves it alone: it never touches a real agent's INI or store. Name a new "
                             "or empty folder, or leave out --folder for a temporary one.")
        path.mkdir(parents=True, exist_ok=True)
        atomic_write(path / MARKER, b"This folder was made by 'zenithlink demo', which may clear and reuse it.\n")
        return False

    def start_over(self) -> None:
        """Remove what an earlier run left (store, inventory, logs); the INI and the marker stay."""
        from agent.runtime.installers import agent_running

        running, pid = agent_running(self.dbsys)
        if running:
            raise AlreadyRunning(f"a demo or an agent is still running on {self.path} (pid {pid or '?'}); stop it "
                                 "(Ctrl-C) before running the demo in this folder again")
        if self.dbsys.exists():
            shutil.rmtree(self.dbsys)

    def write_ini(self, forced: dict[str, dict[str, str]], defaults: dict[str, dict[str, str]]) -> Path:
        """Write the demo's INI: the ``forced`` keys with these values, the ``defaults`` where the
        file has no value of its own, and every other line the user put there kept as it was."""
        text = self.ini.read_text(encoding="utf-8") if self.ini.exists() else "; written by 'zenithlink demo'\n"
        atomic_write(self.ini, merge_ini(text, forced, defaults).encode("utf-8"), mode=OWNER_ONLY)
        return self.ini

    def remove_if_temporary(self) -> bool:
        """Remove the folder if the demo made it in the temporary folder; True if it did."""
        if not self.temporary:
            return False
        shutil.rmtree(self.path, ignore_errors=True)
        return True


def merge_ini(text: str, forced: dict[str, dict[str, str]], defaults: dict[str, dict[str, str]]) -> str:
    """``text`` with the ``forced`` keys set (every occurrence, sections and keys compared without
    case) and the ``defaults`` added where absent; new keys go at the end of their section's first
    occurrence, new sections at the end of the file."""
    forced_l = {s.lower(): {k.lower(): (k, v) for k, v in keys.items()} for s, keys in forced.items()}
    present: dict[str, set[str]] = {}
    ends: dict[str, int] = {}  # section -> index in ``out`` after the last line of its first occurrence
    out: list[str] = []
    section: str | None = None
    for line in text.splitlines():
        header = _SECTION.match(line)
        if header:
            section = header.group("name").strip().lower()
            first = section not in ends
            out.append(line)
            if first:
                ends[section] = len(out)
            continue
        key = _KEY.match(line)
        if section is not None and key:
            name = key.group("key").strip().lower()
            present.setdefault(section, set()).add(name)
            if name in forced_l.get(section, {}):
                spelt, value = forced_l[section][name]
                line = f"{spelt}={value}"
        out.append(line)
        if section is not None and first and line.strip():
            ends[section] = len(out)
    additions: dict[str, list[str]] = {}
    for group in (forced, defaults):
        for sect, keys in group.items():
            for name, value in keys.items():
                if name.lower() not in present.setdefault(sect.lower(), set()):
                    present[sect.lower()].add(name.lower())
                    additions.setdefault(sect, []).append(f"{name}={value}")
    # Insert from the bottom up so that the recorded positions stay right.
    for sect in sorted((s for s in additions if s.lower() in ends), key=lambda s: -ends[s.lower()]):
        at = ends[sect.lower()]
        out[at:at] = additions[sect]
    for sect, new in additions.items():
        if sect.lower() not in ends:
            out += [f"[{sect}]", *new]
    return "\n".join(out) + "\n"
