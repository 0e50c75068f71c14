"""``App``: what one invocation of the agent works with, opened lazily and closed once."""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path

from agent import logs
from agent.backends.embedded import Store
from agent.errors import ConfigError
from agent.plugins import PluginManager, get_plugin_manager
from config.loader import InvalidConfig, Settings, default_config_path, load_settings


def load(path: Path, require: Iterable[str] = ()) -> Settings:
    """Load the INI, turning validation problems into :class:`ConfigError` (exit code 2)."""
    try:
        settings = load_settings(path, require=require)
    except InvalidConfig as exc:
        raise ConfigError(exc.problems, str(path)) from None
    logs.add_secret(settings.psg)
    return settings


class App:
    """Settings, plugin manager, store and Continuum client of one command or service."""

    def __init__(self, config_path: Path | None = None, *, user: str | None = None,
                 settings: Settings | None = None, extra_plugins: list | None = None) -> None:
        self.config_path = Path(config_path) if config_path else default_config_path()
        self.user = user or os.environ.get("ZENITHLINK_USER") or None
        self._settings = settings
        self._extra_plugins = extra_plugins or []
        self._retired: list = []
        if settings is not None:
            logs.add_secret(settings.psg)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load(self.config_path)
        return self._settings

    def require_continuum(self) -> Settings:
        """The settings, with PSG and ContinuumURL required."""
        if not self.settings.has_continuum:
            self._settings = load(self.config_path, require=("PSG", "ContinuumURL"))
        return self.settings

    def replace_settings(self, settings: Settings) -> None:
        """Take a reloaded configuration; plugins are rebuilt for it on next use."""
        logs.add_secret(settings.psg)
        previous, self._settings = self._settings, settings
        self.__dict__.pop("pm", None)
        if previous is not None and _connection(previous) != _connection(settings) and "client" in self.__dict__:
            # Another thread may be in the middle of a request: retire the client, close it at exit.
            self._retired.append(self.__dict__.pop("client"))

    @cached_property
    def pm(self) -> PluginManager:
        return get_plugin_manager(self.settings, extra=self._extra_plugins, app=self)

    @cached_property
    def store(self) -> Store:
        return Store(self.settings.database)

    @cached_property
    def client(self):
        from agent.backends.continuum.client import ContinuumClient

        return ContinuumClient.from_settings(self.require_continuum())

    def notify(self, event) -> None:
        self.pm.notify(event)

    def close(self) -> None:
        for client in self._retired + [self.__dict__.pop("client", None)]:
            if client is not None:
                client.close_connection()
        self._retired = []
        store = self.__dict__.pop("store", None)
        if store is not None:
            store.close()


def _connection(settings: Settings) -> tuple:
    return (settings.continuum_url, settings.psg, settings.request_timeout_seconds, settings.verify_tls)
