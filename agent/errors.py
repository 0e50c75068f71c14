"""The project's exception tree and the one place that renders any error for a person.

Every error the agent raises on purpose derives from :class:`ZenithError`. Its message is a
sentence that says what went wrong *and what to do*. ``code`` is a short stable word used in
result files and error-report names.
"""

from __future__ import annotations


class ZenithError(Exception):
    """Base of every error the agent raises on purpose."""

    code = "Error"
    exit_code = 1

    def __init__(self, message: str, *, code: str | None = None, web_message: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self._web_message = web_message

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__

    @property
    def web_message(self) -> str:
        """The message as the web console words it: what to do there, not which command to run."""
        return getattr(self, "_web_message", None) or self.message


class ConfigError(ZenithError):
    """The INI is invalid; ``problems`` lists every problem found."""

    code = "BadConfig"
    exit_code = 2

    def __init__(self, problems: list[str], path: str = "") -> None:
        self.problems = list(problems)
        where = f" in {path}" if path else ""
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s){where}:\n{lines}")


class UsageError(ZenithError):
    """Bad input from a person or a script (unknown record, malformed value)."""

    code = "Invalid"
    exit_code = 2


class NotFoundError(ZenithError):
    """A record named by the caller does not exist."""

    code = "NotFound"


class PreconditionError(ZenithError):
    """The action cannot be done in the current state (e.g. no linked site)."""

    code = "Precondition"


class PrivilegeError(ZenithError):
    """The employee lacks the Continuum Integration privilege (R21)."""

    code = "NoPrivilege"
    exit_code = 3


class UnknownEmployee(NotFoundError):
    """No employee has that login: the one sentence for it, whichever command or drop names the login."""

    code = "UnknownEmployee"

    def __init__(self, login: str) -> None:
        super().__init__(f"there is no employee with login {login!r}; 'zenithlink employees list' shows them "
                         f"and 'zenithlink employees add {login}' adds one.")
        self.login = login


class MissingUser(UsageError):
    """An action for a person was asked for without saying which person: bad usage (exit 2), not a
    refusal for lack of privilege, since nobody's privilege was even looked at."""

    code = "NoUser"

    def __init__(self, action: str) -> None:
        super().__init__(f"to {action} the agent needs to know who acts: pass --user LOGIN (or set "
                         "ZENITHLINK_USER; a request drop names it with user=).")


class AlreadyLinked(PreconditionError):
    """A site, device or asset is linked already where the action needs it free."""

    code = "AlreadyLinked"

    def __init__(self, what: str, target: str, hint: str, web_hint: str | None = None) -> None:
        super().__init__(f"{what} is linked to {target} already; {hint}.",
                         web_message=f"{what} is linked to {target} already; {web_hint}." if web_hint else None)


class NotLinked(PreconditionError):
    """A site, device, account or ticket has no link where the action needs one."""

    code = "NotLinked"

    def __init__(self, what: str, to: str, hint: str, web_hint: str | None = None) -> None:
        super().__init__(f"{what} is not linked to {to}; {hint}.",
                         web_message=f"{what} is not linked to {to}; {web_hint}." if web_hint else None)


class AlreadyRunning(ZenithError):
    """Another agent holds the lock of this Dbsys folder."""

    code = "AlreadyRunning"


class CheckFailed(ZenithError):
    """A check that a script relies on did not pass (exit 1): the command ran, but what it checks
    is not so (Continuum not reached, no agent running, a job of a cycle failed); ``code`` names it."""

    code = "CheckFailed"


class StoreError(ZenithError):
    """The state store (or the embedded PSA in its file) could not be read or written."""

    code = "StoreError"


class ConstraintError(ZenithError):
    """The store refused one write that breaks a rule of its schema (a duplicate, say): that
    write's fault, not the disk's."""

    code = "StoreConstraint"


def sentence(text: str) -> str:
    """``text`` as a sentence: one full stop at the end, none doubled where messages were joined."""
    import re

    text = re.sub(r"(?<!\.)\.\.(?!\.)", ".", text.strip())
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def describe(exc: BaseException) -> str:
    """One actionable sentence for any exception, safe to log and to write to files."""
    return sentence(_describe(exc))


def describe_once(exc: BaseException) -> str:
    """:func:`describe` for a command that tries once and exits (``run --once``, ``inventory
    refresh``): the service's promise that the agent tries again is not true there, so it becomes
    advice to try again later."""
    return without_retry_promise(describe(exc))


def without_retry_promise(text: str) -> str:
    """``text`` with "the agent will try again (later, by itself, …)" told as "try again later"."""
    import re

    def advice(match: re.Match[str]) -> str:
        return f"{'T' if match.group(1) == 'T' else 't'}ry again later"

    return re.sub(r"\b([Tt])he agent (?:will try|tries) again(?: later)?(?: by itself)?(?: at its next round)?",
                  advice, text)


def _describe(exc: BaseException) -> str:
    from dbsys.fsops import FileInUse
    from dbsys.safexml import UnsafeXML

    if isinstance(exc, ZenithError):
        return exc.message
    if isinstance(exc, FileInUse):
        return exc.message
    if isinstance(exc, UnsafeXML):
        return f"Malformed or refused XML: {exc}. Fix the sender so it writes plain UTF-8 XML without a DOCTYPE."
    if isinstance(exc, OSError):
        return _os_sentence(exc)
    return f"Unexpected error ({type(exc).__name__}): {exc}. This is a bug; please report it with the log file."


#: Windows' answer to binding a port another socket holds exclusively, or one Windows reserved.
WSAEACCES = 10013


def _os_sentence(exc: OSError) -> str:
    """What an operating-system error means for the person reading it, by its kind."""
    import errno

    where = _shown_path(exc.filename) if exc.filename else ""
    detail = exc.strerror or str(exc)
    if getattr(exc, "winerror", None) == WSAEACCES:
        return ("The port is in use by another program, or reserved by Windows ('netsh interface ipv4 show "
                "excludedportrange protocol=tcp' lists the reserved ones). Choose another port, or stop that program.")
    if isinstance(exc, PermissionError):
        return (f"Permission denied: {where or exc}. Give the account that runs zenithlink write access to "
                f"{'that path' if where else 'the file'} (or choose another path).")
    if isinstance(exc, FileNotFoundError):
        return f"File or folder not found: {where or exc}. Check the path (for the agent's own paths: the INI)."
    if isinstance(exc, NotADirectoryError) or (isinstance(exc, FileExistsError) and where):
        return f"{where} is a file where a folder is expected: choose a folder (for DbsysFolder: in the INI)."
    if exc.errno == errno.EADDRINUSE:
        return ("The address is in use: another program (perhaps another zenithlink or sandbox) listens on that "
                "port. Choose another port, or stop that program.")
    if exc.errno == errno.EADDRNOTAVAIL:
        return "That address is not one of this machine's: choose an address it has (127.0.0.1 for this one)."
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return (f"The disk is full{' (writing ' + where + ')' if where else ''}: free space on that drive. Nothing "
                "written so far is lost; the agent goes on once there is room.")
    if exc.errno == errno.EROFS:
        return f"{where or 'That path'} is on a read-only file system: choose a writable place."
    return f"Operating-system error: {detail}{' (' + where + ')' if where else ''}."


def _shown_path(filename: object) -> str:
    """A path as a person would look for it: the file being written, not its temporary name."""
    from pathlib import Path

    from dbsys.atomic import is_temp_name

    path = Path(str(filename))
    if is_temp_name(path.name):  # ".NAME.<hex>.tmp" -> NAME
        return str(path.with_name(path.name[1:].rsplit(".", 2)[0]))
    return str(path)


def code_of(exc: BaseException) -> str:
    """The short stable code of an exception, for result files and report names."""
    return getattr(exc, "code", None) or type(exc).__name__
