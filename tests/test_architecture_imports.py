"""The layering the architecture promises, checked on the source: engines depend on ports only.

Each rule names the packages it covers and the imports they must not make; add a rule (e.g.
no ``sqlite3`` outside the embedded backend) by adding a :class:`Rule` to ``RULES``.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Rule:
    name: str
    packages: tuple[str, ...]
    forbidden: tuple[str, ...]
    allowed: tuple[str, ...] = ()  # modules (dotted prefixes) inside ``packages`` exempt from the rule


#: Every module and package directly under ``agent``, dotted.
_AGENT_PARTS = {f"agent.{p.stem}" for p in (ROOT / "agent").iterdir()
                if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}
#: What of the agent a plugin may import: the hook contract, the ports, errors, events, logs.
PLUGINS_MAY_IMPORT = {"agent.hookspecs", "agent.ports", "agent.errors", "agent.events", "agent.logs"}

RULES = (
    Rule("engines, runtime and ports know no RMM wire format or backend",
         packages=("agent/sync", "agent/runtime", "agent/ports"),
         forbidden=("lxml", "agent.backends.continuum")),
    Rule("only the stores touch SQLite: the embedded backend, the RangerMSP journal, the DLL simulator",
         packages=("agent", "plugins"), forbidden=("sqlite3",),
         allowed=("agent.backends.embedded", "agent.backends.rangermsp.journal", "agent.sandbox.rangermsp")),
    Rule("engines, runtime, ports, the command line and the web console depend on the ports, never on a backend",
         packages=("agent/sync", "agent/runtime", "agent/ports", "agent/cli", "agent/web"),
         forbidden=("agent.backends",),
         # check-config's one quick try of the Continuum connection uses the client's retry policy.
         allowed=("agent.cli.config_cmd",)),
    Rule("plugins depend on the hook contract and what they are handed, never on the engines, the App or a front end",
         packages=("plugins",),
         forbidden=("agent.sync", "agent.runtime", "agent.app", "agent.plugins", "agent.cli", "agent.web",
                    "agent.backends"),
         # the built-in plugin that offers the backends by name
         allowed=("plugins.backends",)),
    Rule("of the agent, plugins import only the hook contract, the ports, errors, events and logs: what a plugin "
         "needs of the engines (name evidence, account pools) is moved there first",
         packages=("plugins",), forbidden=tuple(sorted(_AGENT_PARTS - PLUGINS_MAY_IMPORT)),
         allowed=("plugins.backends",)),
    Rule("the ports declare, they decide nothing: no engine, no App, no logging (a policy such as following a "
         "merged account is the sync layer's, agent.sync.accounts)",
         packages=("agent/ports",),
         forbidden=("loguru", "agent.sync", "agent.runtime", "agent.app", "agent.plugins", "agent.hookspecs",
                    "agent.cli", "agent.web")),
    Rule("the Dbsys folder contract and the INI schema are the bottom layer: they import nothing of the agent",
         packages=("dbsys", "config"), forbidden=("agent", "plugins")),
    Rule("the command line is a front end: nothing below it, nor the web console, imports it",
         packages=("agent/sync", "agent/runtime", "agent/ports", "agent/backends", "agent/web", "plugins"),
         forbidden=("agent.cli",)),
    Rule("the outbound engine answers request drops through agent.sync.request_results, the one writer of "
         "result files below both it and the request processor, never by importing up into the processor",
         packages=("agent/sync/outbound",), forbidden=("agent.sync.requests",)),
)


def imported_modules(path: Path, *, annotations: bool = False) -> set[str]:
    """Every module ``path`` imports, at any depth (function-level imports included); with
    ``annotations``, the imports under ``if TYPE_CHECKING:`` too."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    type_only = set() if annotations else {
        id(n) for block in ast.walk(tree) if isinstance(block, ast.If) and _is_type_checking(block.test)
        for stmt in block.body for n in ast.walk(stmt)}
    for node in ast.walk(tree):
        if id(node) in type_only:  # imports for annotations only: no run-time dependency
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _matches(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def violations(rule: Rule) -> list[str]:
    found = []
    for package in rule.packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            dotted = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            if any(_matches(dotted, a) for a in rule.allowed):
                continue
            for module in sorted(imported_modules(path)):
                if any(_matches(module, f) for f in rule.forbidden):
                    found.append(f"{path.relative_to(ROOT)} imports {module}")
    return found


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_layering(rule: Rule) -> None:
    assert all((ROOT / p).is_dir() for p in rule.packages)
    assert violations(rule) == []


def test_the_check_sees_every_kind_of_import(tmp_path, monkeypatch) -> None:
    pkg = tmp_path / "agent" / "sync"
    pkg.mkdir(parents=True)
    (pkg / "bad.py").write_text("def f():\n    from lxml import etree\n"
                                "from ..backends.continuum import errors\nimport agent.backends.continuum.client\n")
    (pkg / "good.py").write_text("from typing import TYPE_CHECKING\nfrom agent.ports.rmm import RmmError\n"
                                 "import lxmlish\nif TYPE_CHECKING:\n    from lxml import etree\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    rule = Rule("t", ("agent/sync",), ("lxml", "agent.backends.continuum"))
    found = violations(rule)
    assert any("bad.py imports lxml" in v for v in found)
    assert any("bad.py imports agent.backends.continuum.errors" in v for v in found)
    assert any("bad.py imports agent.backends.continuum.client" in v for v in found)
    assert not any("good.py" in v for v in found)


def _module_graph(*, annotations: bool = False) -> dict[str, set[str]]:
    """Every module of ``agent`` and what it imports of ``agent`` (function-level imports too; with
    ``annotations``, the imports for type annotations as well)."""
    modules = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
               for p in (ROOT / "agent").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in imported_modules(path, annotations=annotations):
            # "from agent.sync import records" names a module; "from agent.ports.psa import X" a name in one.
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name and not name.startswith(imported + "."):
                targets.add(imported)
        graph[name] = targets
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()
    for start in sorted(graph):
        stack, path, on_path = [(start, iter(sorted(graph[start])))], [start], {start}
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
            elif child in on_path:
                return path[path.index(child):] + [child]
            elif child not in done:
                stack.append((child, iter(sorted(graph[child]))))
                path.append(child)
                on_path.add(child)
    return None


def test_no_import_cycle_in_agent() -> None:
    cycle = _cycle(_module_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_import_cycle_in_agent_even_through_annotations() -> None:
    """A cycle of type-only imports still ties the modules together: each needs the other to be
    understood (the hooks declare what they hand a plugin instead of naming the App)."""
    cycle = _cycle(_module_graph(annotations=True))
    assert cycle is None, "import cycle through annotations: " + " -> ".join(cycle or [])


def _reaches_into_the_store(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [f"{path.relative_to(ROOT)}:{node.lineno}" for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr == "db" and _names_the_store(node.value)]


def _names_the_store(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id in ("state", "store")) or (
        isinstance(node, ast.Attribute) and node.attr in ("state", "store"))


def test_only_the_embedded_backend_touches_the_state_stores_connection() -> None:
    """``app.state.db`` is the embedded backend's SQLite connection: above it, ask the store."""
    found = [hit for package in ("agent", "plugins") for path in sorted((ROOT / package).rglob("*.py"))
             if "backends" not in path.relative_to(ROOT).parts for hit in _reaches_into_the_store(path)]
    assert found == []


def _probes_a_port(path: Path) -> list[str]:
    """``hasattr(app.psa, ...)`` / ``getattr(client, ..., None)``: a capability guessed, not declared."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [f"{path.relative_to(ROOT)}:{node.lineno}" for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in ("hasattr", "getattr") and node.args and _names_a_port(node.args[0])]


def _names_a_port(node: ast.expr) -> bool:
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return name in ("psa", "client", "rmm")


def test_what_a_backend_offers_beyond_its_port_is_declared_by_the_port() -> None:
    """A backend's extra commands (the RangerMSP probe and employee map) are reached through the
    port's ``PsaStore.administration``, not found by probing the backend object for a method."""
    found = [hit for package in ("agent/cli", "agent/web", "agent/runtime", "agent/sync")
             for path in sorted((ROOT / package).rglob("*.py")) for hit in _probes_a_port(path)]
    assert found == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_what_plugins_may_import_is_there() -> None:
    assert PLUGINS_MAY_IMPORT <= _AGENT_PARTS and "agent.sync" in _AGENT_PARTS
