"""No module-level mutable state and no hidden caches (docs/architecture.md): state lives on the
object that owns it. The few exceptions are listed below, each with its reason."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("agent", "plugins", "dbsys", "config")

_MUTABLE_BUILDERS = {"dict", "list", "set", "bytearray", "defaultdict", "OrderedDict", "Counter", "deque",
                     "Lock", "RLock", "Event", "Condition", "Semaphore", "BoundedSemaphore", "local", "Random"}
_CACHES = {"lru_cache", "cache", "cached_property"}
# Tables a module declares for its framework and never changes: click commands, web routes.
_DECLARATIONS = {"commands", "routes"}

# "<module path>:<name>" -> why it stays where it is.
ALLOWED = {
    "agent/hookspecs.py:hookspec": "pluggy's marker: holds the project name only",
    "agent/hookspecs.py:hookimpl": "pluggy's marker: holds the project name only",
    # Per-thread values: nothing is shared between threads.
    "agent/backends/continuum/deadline.py:_local": "each thread's own deadline",
    "agent/ports/times.py:_local": "each thread's last stored time",
    "agent/ports/recid.py:_local": "each thread's last REC ID time prefix",
    "agent/ports/recid.py:_random": "the random source of REC IDs; its own lock, no state worth owning",
    # Process-wide by nature: the process has one stdout and stderr, and logging is configured once.
    "agent/logs.py:_secrets": "every secret the process must keep out of its logs",
    "agent/logs.py:_file_sink": "the process's one log file",
    "dbsys/redact.py:_redactor": "the process's redaction of written files, set by the logging set-up",
    "dbsys/reports.py:_claim_lock": "error report names are claimed once per process",
    # A notifier's worker outlives the plugin manager (rebuilt on every reload) so that an unchanged
    # configuration keeps its queue; zenith_notify is handed no App to keep it on.
    "plugins/notify_email.py:_slot": "the running e-mail notifier",
    "plugins/notify_webhook.py:_slot": "the running webhook notifier",
    # Measured caches (docs/performance.md, "Caches kept, and why").
    "agent/sync/links/listings.py:cached_property":
        "a list view's linked/unlinked split, on the view made for one page",
    "dbsys/inventory.py:_cache": "parsed inventory files: 12 us a look-up against 0.8 s a parse",
    "dbsys/inventory.py:_lock": "guards the cache above",
}
# Pure memos in modules under rework on other branches (the inbound engine, the RMM backend): to be
# measured or removed there; not checked for staleness, so that work may remove them freely.
PENDING = {
    "agent/sync/inbound/rules.py:lru_cache": "a Continuum time's two formats, by its text",
    "agent/backends/continuum/answers.py:lru_cache": "compiled XPath expressions, by tag",
}


def _findings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    where = path.relative_to(ROOT).as_posix()
    found = []
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        for target in targets:
            if (isinstance(target, ast.Name) and not target.id.isupper() and not target.id.startswith("__")
                    and target.id not in _DECLARATIONS and _is_mutable(value)):
                found.append(f"{where}:{target.id}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            found += [f"{where}:{name}" for name in node.names]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found += [f"{where}:{_name(d)}" for d in node.decorator_list if _name(d) in _CACHES]
    return found


def _is_mutable(value: ast.expr) -> bool:
    if isinstance(value, (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)):
        return True
    if not isinstance(value, ast.Call):
        return False
    builder = _name(value.func)
    # An instance of a class of ours (CapWords) may hold anything: it is judged like a dict.
    return builder in _MUTABLE_BUILDERS or builder.lstrip("_")[:1].isupper()


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        return _name(node.func)
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def test_no_module_level_mutable_state_nor_hidden_cache() -> None:
    found = [f for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
             if "sandbox" not in path.parts for f in _findings(path)]
    unexplained = sorted({f for f in found if f not in ALLOWED and f not in PENDING})
    assert unexplained == [], "move the state onto the object that owns it, or explain it in ALLOWED"
    gone = sorted(set(ALLOWED) - set(found))
    assert gone == [], "no longer found: remove from ALLOWED"


def test_the_check_sees_state_and_caches(tmp_path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import threading\nfrom functools import lru_cache\nLIMITS = {'a': 1}\n_seen = {}\n"
                      "_lock = threading.Lock()\nname = 'x'\n@lru_cache(maxsize=8)\ndef f(x):\n    return x\n"
                      "def g():\n    global name\n", encoding="utf-8")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert sorted(_findings(module)) == ["m.py:_lock", "m.py:_seen", "m.py:lru_cache", "m.py:name"]
    finally:
        ROOT = saved
