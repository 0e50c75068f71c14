"""The project's documentation, readable where the agent is installed (``zenithlink docs``).

A wheel carries ``docs/*.md`` as ``agent/_docs/`` (see setup.py); a source checkout or an
editable install reads the ``docs`` folder beside the package instead.
"""

from __future__ import annotations

from pathlib import Path

from agent.errors import UsageError


def folder() -> Path:
    """Where the pages are: the shipped copy, else the source checkout's ``docs``."""
    shipped = Path(__file__).resolve().parent / "_docs"
    return shipped if shipped.is_dir() else Path(__file__).resolve().parent.parent / "docs"


def pages() -> dict[str, str]:
    """Every page's name (the file name without ``.md``) and its title (its first heading)."""
    found = {}
    for path in sorted(folder().glob("*.md")):
        first = next((line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")), "")
        found[path.stem] = first.lstrip("#").strip()
    return found


def read(name: str) -> str:
    """The text of one page; ``name`` as :func:`pages` names it (``.md`` and ``docs/`` are allowed)."""
    stem = Path(name.strip()).name.removesuffix(".md").lower()
    known = pages()
    if stem not in known:
        raise UsageError(f"there is no documentation page {name!r}; the pages are: {', '.join(known) or 'none'} "
                         "('zenithlink docs' lists them)")
    return (folder() / f"{stem}.md").read_text(encoding="utf-8")
