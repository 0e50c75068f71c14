"""The one error the sandbox raises when a request cannot be honoured.

It carries the HTTP status and the contract's error code, so the API layer renders it as
``<Error code=..>`` and the admin layer as JSON without a table of exception types.
"""

from __future__ import annotations

from agent.errors import ZenithError


class SandboxError(ZenithError):
    """A request the sandbox refuses: ``status`` is the HTTP status, ``code`` the contract code."""

    code = "Invalid"

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, code=code)
        self.status = status


def invalid(message: str) -> SandboxError:
    return SandboxError(422, "Invalid", message)


def not_found(message: str) -> SandboxError:
    return SandboxError(404, "NotFound", message)


def conflict(message: str) -> SandboxError:
    return SandboxError(409, "Conflict", message)
