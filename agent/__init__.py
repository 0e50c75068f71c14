"""zenithlink: the integration agent between RangerMSP and Continuum."""

__version__ = "0.1.0"


def _check_siblings() -> None:
    """The distribution installs four top-level packages side by side (``agent``, ``config``,
    ``dbsys``, ``plugins``: the layout the design fixes). In an environment shared with another
    project, one of those names may be that project's: then the agent would run someone else's
    code. Say so plainly instead, before anything is imported from them."""
    import importlib.util
    import sys
    from pathlib import Path

    home = Path(__file__).resolve().parent.parent
    for name in ("config", "dbsys", "plugins"):
        spec = importlib.util.find_spec(name)
        origin = Path(spec.origin).resolve().parent.parent if spec and spec.origin else None
        if origin != home:
            where = spec.origin if spec and spec.origin else "nowhere"
            sys.stderr.write(
                f"zenithlink cannot start: the package '{name}' it needs is not its own here ({where}); another "
                f"installed project uses the same name. Install zenithlink in a virtual environment of its own "
                "(python -m venv), as the README shows.\n")
            raise SystemExit(2)


_check_siblings()
