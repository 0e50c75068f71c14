"""The commands installed plugins add (``zenith_register_commands``), loaded only when every command is asked for."""

from __future__ import annotations

import click
from loguru import logger

from agent.errors import ZenithError


def add_plugin_commands(cli: click.Group) -> None:
    """Let every installed plugin add its commands to ``cli``; a broken plugin set costs only its commands."""
    try:
        from agent.plugins import installed_plugin_manager

        installed_plugin_manager().hook.zenith_register_commands(cli=cli)
    except ZenithError as exc:
        logger.warning("plugin commands are unavailable: {}", exc.message)
