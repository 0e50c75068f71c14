"""The hook reference ``docs/hooks.md``, generated from the docstrings of ``agent/hookspecs.py``.

Regenerate after changing a hook: ``python -c "from agent.docgen.hooks import write; write()"``.
A test fails while the file is out of date.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

from agent import hookspecs

HOOKS_DOC = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"
_MARK = f"{hookspecs.PROJECT}_spec"


def hook_specs() -> list[tuple[str, Callable, dict]]:
    """Every hook specification, in the order of the module: ``(name, function, options)``."""
    return [(name, obj, getattr(obj, _MARK)) for name, obj in vars(hookspecs).items()
            if callable(obj) and hasattr(obj, _MARK)]


def render_hooks_md() -> str:
    """The Markdown text of the hook reference."""
    out = ["# Hook reference", "",
           "Generated from the docstrings of `agent/hookspecs.py` by `agent/docgen/hooks.py`; do not edit by hand.",
           "See [plugins.md](plugins.md) for how to write and enable a plugin.", "",
           inspect.cleandoc(hookspecs.__doc__ or ""), "", "| hook | kind |", "|---|---|"]
    specs = hook_specs()
    out += [f"| [`{name}`](#{name}) | {_kind(opts)} |" for name, _, opts in specs]
    for name, fn, opts in specs:
        out += ["", f"## {name}", "", "```python", "@hookimpl", f"def {name}{_signature(fn)}:", "```", "",
                f"*{_kind(opts)}*", "", inspect.cleandoc(fn.__doc__ or "(undocumented)")]
    return "\n".join(out) + "\n"


def _signature(fn: Callable) -> str:
    # The annotations are strings (postponed evaluation): shown as written, without quotes.
    return str(inspect.signature(fn)).replace("'", "")


def _kind(opts: dict) -> str:
    words = ["firstresult: the first non-`None` answer wins" if opts.get("firstresult") else
             "every implementation is called"]
    if opts.get("historic"):
        words.append("historic")
    return "; ".join(words)


def write(path: Path = HOOKS_DOC) -> Path:
    """Write the reference to ``path`` (default ``docs/hooks.md``)."""
    path.write_text(render_hooks_md(), encoding="utf-8")
    return path
