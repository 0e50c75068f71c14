"""Built-in notifier: every event as a log line, unless the engine that raised it logged it already."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.hookspecs import hookimpl

if TYPE_CHECKING:
    from agent.events import Event

DEFAULT_ENABLED = True


@hookimpl
def zenith_notify(event: Event) -> None:
    if getattr(event, "logged", False):
        return
    from loguru import logger  # on use: a command that never logs here starts faster
    logger.bind(event=event.kind).info("[{}] {}", event.kind, event.summary)
