"""The engines are typed: a misspelt setting or store method in an engine fails type checking, and
no module's type errors are hidden by an ``ignore_errors`` override."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STRICT_PACKAGES = ("agent.sync.*", "plugins.*", "agent.backends.rangermsp.*", "agent.backends.ninjaone.*",
                   "agent.backends.nsight.*", "agent.backends.continuum.*", "agent.ports.*")


def _overrides() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    overrides: list[dict[str, object]] = config["tool"]["mypy"]["overrides"]
    return overrides


def _modules(override: dict[str, object]) -> list[str]:
    module = override["module"]
    return [module] if isinstance(module, str) else list(module)  # type: ignore[arg-type]


def test_no_module_hides_its_type_errors() -> None:
    hidden = [_modules(o) for o in _overrides() if o.get("ignore_errors")]
    assert hidden == []


def test_the_engines_plugins_and_backends_are_strict() -> None:
    strict = {m for o in _overrides() if o.get("disallow_untyped_defs") and o.get("check_untyped_defs")
              for m in _modules(o)}
    assert set(STRICT_PACKAGES) <= strict


def test_a_misspelt_setting_or_store_method_in_an_engine_fails_type_checking(tmp_path: Path) -> None:
    from mypy import api

    module = tmp_path / "engine_with_typos.py"
    module.write_text("from agent.sync.engine_app import EngineApp\n"
                      "def poll(app: EngineApp) -> None:\n"
                      "    app.state.set_stat('cursor', None)\n"
                      "    print(app.settings.poll_intervl_seconds)\n", encoding="utf-8")
    out, _, status = api.run(["--no-incremental", "--follow-imports=silent", str(module)])
    assert status == 1
    assert '"AgentState" has no attribute "set_stat"' in out
    assert '"Settings" has no attribute "poll_intervl_seconds"' in out
