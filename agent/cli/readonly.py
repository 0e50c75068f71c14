"""Commands that only look: on a fresh install they find nothing, and create nothing either.

A command marked :func:`read_only` runs with :attr:`agent.app.App.read_only` set, so a store that
does not exist yet is read as an empty one instead of being created (with its Dbsys folder).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def read_only(command: F) -> F:
    """Mark a command body that takes the ``App`` first (under ``click.pass_obj``) as read-only."""

    @functools.wraps(command)
    def body(app: Any, *args: Any, **kwargs: Any) -> Any:
        app.read_only = True
        return command(app, *args, **kwargs)

    return body  # type: ignore[return-value]
