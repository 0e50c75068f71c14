"""Built-in notifier: every event as a log line."""

from __future__ import annotations

from loguru import logger

from agent.hookspecs import hookimpl

DEFAULT_ENABLED = True


@hookimpl
def zenith_notify(event):
    logger.bind(event=event.kind).info("[{}] {}", event.kind, event.summary)
