"""The plugin manager: built-in plugins, entry points, plugin folders, on/off from the INI.

Built-in behaviour is ordinary plugins registered here exactly like third-party ones. A
plugin's name is its module's last component (built-in), its entry-point name (``zenithlink``
group), or its file name without ``.py`` (``[Plugins] PluginFolders``). ``[Plugins] <name> = N``
keeps a plugin from being registered; ``Y`` registers one whose own default is off.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from agent import hookspecs
from agent.errors import ZenithError

DEFAULT_PLUGINS: tuple[str, ...] = (
    "plugins.account_resolver",
    "plugins.asset_resolver",
    "plugins.ticket_format",
    "plugins.echo_filter",
    "plugins.matcher",
    "plugins.notify_log",
    "plugins.notify_email",
    "plugins.notify_webhook",
    "plugins.backends",
)
ENTRY_POINT_GROUP = "zenithlink"
# Set (non-empty) to load no installed plugins: the test suite runs hermetic this way.
NO_ENTRY_POINTS_ENV = "ZENITHLINK_NO_ENTRY_POINTS"


class PluginError(ZenithError):
    """A plugin could not be loaded or implements a hook that does not exist."""

    code = "BadPlugin"
    exit_code = 2


@dataclass
class PluginInfo:
    name: str
    source: str  # "built-in", "entry point <dist>", "folder <path>", "inline"
    enabled: bool
    hooks: list[str] = field(default_factory=list)
    default_enabled: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "enabled": self.enabled, "hooks": self.hooks}


class PluginManager(pluggy.PluginManager):
    """pluggy's manager plus the list of every plugin seen, enabled or not."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}

    def add(self, plugin: Any, name: str, source: str, settings=None) -> bool:
        """Register ``plugin`` unless the INI switches it off; record it either way."""
        default = bool(getattr(plugin, "DEFAULT_ENABLED", True))
        enabled = settings.plugin_enabled(name, default) if settings is not None else default
        info = PluginInfo(name=name, source=source, enabled=enabled, default_enabled=default)
        self.infos[name.lower()] = info
        if not enabled:
            return False
        if self.has_plugin(name):
            self.unregister(name=name)
        try:
            self.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(self._misfit(plugin, name, source, exc)) from None
        info.hooks = sorted(h.name for h in self.get_hookcallers(plugin) or [])
        return True

    def _misfit(self, plugin: Any, name: str, source: str, exc: pluggy.PluginValidationError) -> str:
        """What pluggy refused, said for the person who installed the plugin: which file, which
        hook, which argument, and the arguments that hook offers."""
        for attr in dir(plugin):
            if self.parse_hookimpl_opts(plugin, attr) is None:
                continue
            hook = getattr(self.hook, attr, None)
            spec = getattr(hook, "spec", None)
            if spec is None:
                continue
            function = getattr(plugin, attr)
            unknown = [arg for arg in _required_arguments(function) if arg not in spec.argnames]
            if unknown:
                offered = ", ".join(spec.argnames)
                return (f"the plugin {name!r} ({_file_of(function, source)}) implements the hook {attr} with "
                        f"the argument{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}, which that hook "
                        f"does not offer: {attr} offers {offered} (docs/hooks.md; 'zenithlink docs hooks'). "
                        f"Name only arguments it offers, in any order, or switch the plugin off with "
                        f"[Plugins] {name}=N.")
        return (f"the plugin {name!r} ({source}) does not fit its hooks: {' '.join(str(exc).split())}. "
                "See docs/hooks.md, or switch the plugin off in [Plugins].")

    def switched_off(self, name: str, source: str, settings) -> bool:
        """True, and recorded as off, when the INI says ``name=N``: such a plugin is never imported,
        so that a plugin that cannot even be loaded can still be switched off."""
        if settings is None or settings.plugins_enabled.get(name.lower(), True):
            return False
        self.infos[name.lower()] = PluginInfo(name=name, source=source, enabled=False)
        return True

    def validate(self) -> None:
        """Refuse hook implementations that match no hook (a misspelled name)."""
        try:
            self.check_pending()
        except pluggy.PluginValidationError as exc:
            name = self.get_name(exc.plugin) or repr(exc.plugin)
            raise PluginError(f"plugin {name!r} implements an unknown hook: {exc}. "
                              "Check the function's name against the hook reference, or switch the "
                              "plugin off in [Plugins].") from None

    def notify(self, event) -> None:
        """Call every notifier; a failing notifier is logged and never stops the others."""
        self.notify_all([event])

    def notify_all(self, events: Sequence[Any]) -> None:
        """:meth:`notify` for each of ``events`` in turn, the notifiers looked up once."""
        notifiers = list(reversed(self.hook.zenith_notify.get_hookimpls()))
        for event in events:
            for impl in notifiers:
                try:
                    impl.function(event=event)
                except Exception as exc:  # noqa: BLE001 - a notifier must not stop the agent
                    from loguru import logger  # on use: a command that never logs here starts faster
                    logger.warning("notifier {} failed on {}: {}", impl.plugin_name, event.kind, exc)


def installed_plugin_manager() -> PluginManager:
    """Only the plugins installed as packages (entry points): enough to find their CLI commands
    without loading the built-ins or reading the INI on every start of the command line."""
    pm = PluginManager()
    _add_entry_points(pm, None)
    pm.validate()
    return pm


def get_plugin_manager(settings=None, *, extra: list[tuple[str, Any]] | None = None, app=None,
                       configure: bool = True) -> PluginManager:
    """A manager with the built-in plugins, entry points, plugin folders and ``extra`` plugins.

    With ``settings``, every plugin checks its configuration (``zenith_check_config``) and, unless
    ``configure=False`` (a reload that only asks whether the settings would work), is then handed
    it (``zenith_configure``) with ``app``.
    """
    pm = PluginManager()
    for module_name in DEFAULT_PLUGINS:
        name = module_name.rsplit(".", 1)[-1]
        if not pm.switched_off(name, "built-in", settings):
            pm.add(importlib.import_module(module_name), name, "built-in", settings)
    _add_entry_points(pm, settings)
    for folder in getattr(settings, "plugin_folders", None) or []:
        for path in sorted(Path(folder).glob("*.py")):
            if not pm.switched_off(path.stem, f"folder {folder}", settings):
                pm.add(_load_file(path), path.stem, f"folder {folder}", settings)
    for name, plugin in extra or []:
        pm.add(plugin, name, "inline", settings)
    pm.validate()
    if settings is not None:
        _warn_of_unknown_names(pm, settings)
        pm.hook.zenith_check_config(settings=settings)
        if configure:
            pm.hook.zenith_configure(settings=settings, app=app)
    return pm


def _warn_of_unknown_names(pm: PluginManager, settings) -> None:
    """A misspelt name in [Plugins] (``notify_emial=Y``) switches nothing on, and a misspelt
    ``[plugin:<name>]`` configures nothing: alerts that were meant to go out would be lost without
    a word, so each is a warning naming the nearest plugin."""
    import difflib

    known = sorted(pm.infos)

    def hint(name: str) -> str:
        near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        return f" (did you mean {near[0]}?)" if near else f"; the plugins are: {', '.join(known)}"

    unknown = [f"[Plugins] {name} names no plugin, so that line does nothing{hint(name)}"
               for name in sorted(settings.plugins_enabled) if name not in pm.infos]
    unknown += [f"[plugin:{name}] names no plugin, so that section does nothing{hint(name)}"
                for name in sorted(settings.plugin_sections) if name not in pm.infos]
    settings.warnings.extend(w for w in unknown if w not in settings.warnings)


def _required_arguments(function: Any) -> list[str]:
    """The arguments pluggy passes to a hook implementation: those without a default."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters if p.default is inspect.Parameter.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"]


def _file_of(function: Any, source: str) -> str:
    try:
        return inspect.getsourcefile(function) or source
    except TypeError:
        return source


def _add_entry_points(pm: PluginManager, settings) -> None:
    if os.environ.get(NO_ENTRY_POINTS_ENV):
        return
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if pm.switched_off(ep.name, f"entry point ({ep.dist.name if ep.dist else 'unknown'})", settings):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # noqa: BLE001 - report any import failure the same way
            raise PluginError(f"the installed plugin {ep.name!r} cannot be loaded: {exc}") from None
        dist = ep.dist.name if ep.dist else "unknown"
        pm.add(plugin, ep.name, f"entry point ({dist})", settings)


def _load_file(path: Path) -> ModuleType:
    module_name = f"zenithlink_plugin_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"cannot load the plugin file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - any error in a plugin file is reported the same way
        raise PluginError(f"the plugin file {path} failed to load: {type(exc).__name__}: {exc}") from None
    return module
