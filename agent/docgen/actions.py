"""The outbound action reference ``docs/actions.md``, generated from the registry
(:mod:`agent.sync.outbound.registry`) and the RMM backends' declared capabilities.

Regenerate after changing an action: ``python -c "from agent.docgen.actions import write; write()"``.
A test fails while the file is out of date.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from agent.ports.rmm import RmmCapabilities
from agent.sync.outbound import registry

ACTIONS_DOC = Path(__file__).resolve().parents[2] / "docs" / "actions.md"


def known_rmms() -> tuple[RmmCapabilities, ...]:
    """The capabilities the built-in RMM backends declare, for the table of who offers what."""
    from agent.backends.continuum.client import ContinuumClient
    from agent.backends.memory_rmm import MEMORY_CAPABILITIES
    from agent.backends.ninjaone.client import NINJAONE_CAPABILITIES
    from agent.backends.nsight.client import NSIGHT_CAPABILITIES

    return (ContinuumClient.capabilities, NSIGHT_CAPABILITIES, NINJAONE_CAPABILITIES, MEMORY_CAPABILITIES)


def render_actions_md() -> str:
    """The Markdown text of the outbound action reference."""
    rmms = known_rmms()
    out = ["# Outbound actions", "",
           "Generated from `agent/sync/outbound/registry.py` by `agent/docgen/actions.py`; do not edit by hand.", "",
           inspect.cleandoc(registry.__doc__ or ""), "",
           "Each action needs one write-back capability of the RMM (`WriteBack`, `agent/ports/rmm.py`). With an RMM "
           "that does not offer it, the command, the request drop and the web console's form refuse it before "
           "anything is queued, with a sentence that names the RMM and what it offers; "
           "`zenithlink tickets actions` lists what the configured RMM offers.", "",
           "| action | outbox row | request drop | command | web form | needs | " +
           " | ".join(r.rmm for r in rmms) + " |",
           "|---|---|---|---|---|---|" + "---|" * len(rmms)]
    for action in registry.ACTIONS:
        offered = ["yes" if action.offered_by(r) else "—" for r in rmms]
        out.append(f"| {action.title('the RMM')} | `{action.row}` | {_code(action.drop)} | "
                   f"{_code(action.command and 'tickets ' + action.command)} | {_code(action.form)} | "
                   f"{action.write_back.label} | " + " | ".join(offered) + " |")
    for action in registry.ACTIONS:
        out += ["", f"## {action.title('the RMM')}", ""]
        if action.drop:
            out.append(f"Request drop `{action.drop}`, command `zenithlink tickets {action.command}`, "
                       f"web form `{action.form}`; the agent queues an outbox row `{action.row}`.")
        else:
            out.append(f"No drop, command or form asks for it: the agent queues the outbox row `{action.row}` "
                       "itself.")
        if action.fields:
            out += ["", "| field | required | values | meaning |", "|---|---|---|---|"]
            out += [f"| `{f.name}` | {'yes' if f in action.required else 'no'} | {', '.join(f.choices) or 'text'} "
                    f"| {f.meaning} |" for f in action.fields]
        out += ["", f"Sent through the RMM port by `{action.send.__name__}`; needs *{action.write_back.label}*."]
    return "\n".join(out) + "\n"


def _code(text: str | None) -> str:
    return f"`{text}`" if text else "—"


def write(path: Path = ACTIONS_DOC) -> Path:
    """Write the reference to ``path`` (default ``docs/actions.md``)."""
    path.write_text(render_actions_md(), encoding="utf-8")
    return path
