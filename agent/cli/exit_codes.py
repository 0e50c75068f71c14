"""The exit codes of every command, declared once: the table in docs/cli.md is rendered from here.

The CLI contract fixes four codes for all commands: 0 done; 1 the action failed (the message on
stderr says why); 2 bad usage or bad configuration; 3 refused for lack of privilege. Code 3 is
only possible for commands that act for a person (they take ``--user``). Where a command gives
a code a meaning of its own (a check a script relies on), :data:`SPECIFIC` says what it means;
``agent.cli.main`` and the exception classes' ``exit_code`` are what produce the codes.
"""

from __future__ import annotations

import click

DONE, FAILED, BAD_USAGE, NO_PRIVILEGE = 0, 1, 2, 3
INTERRUPTED = 130

GENERAL: dict[int, str] = {
    DONE: "done",
    FAILED: "failed (stderr says why)",
    BAD_USAGE: "bad usage or configuration",
    NO_PRIVILEGE: "no privilege",
}

#: Meanings of their own, by command path; a code not named keeps its general meaning.
SPECIFIC: dict[str, dict[int, str]] = {
    "check-config": {
        DONE: "the file is valid as `run` judges it, and the RMM (Continuum, N-sight, NinjaOne) answered (not tried "
              "with `--offline`)",
        FAILED: "the file is valid, but the connection check failed (refused PSG, no answer); "
                "`--offline` skips it",
        BAD_USAGE: "the file has problems, listed on stderr: `run` would refuse it (a missing PSG or "
                   "ContinuumURL included)",
    },
    "run": {
        DONE: "stopped cleanly (SIGTERM, Ctrl-C); `--once`: every job of the cycle done",
        FAILED: "`--once`: a job of the cycle failed (which, and what to do, on stderr); another agent runs "
                "for the Dbsys folder",
        BAD_USAGE: "the INI is refused at start-up (as `check-config` judges it)",
    },
    "backup": {
        FAILED: "PATH exists already (pass `--force` to overwrite it), or the store could not be read",
    },
    "demo": {
        FAILED: "an agent or another demo still runs in the folder",
        BAD_USAGE: "the folder is not new, empty or one the demo made: it is left untouched",
    },
    "psa probe": {
        DONE: "every check passed on this installation",
        FAILED: "a check failed or could not be made (`--read-only`, maintenance): each detail says what to fix",
        BAD_USAGE: "the backend refused to start before any check (a key field too small, `DateFormat=` not the "
                   "installation's, …), said on stderr; or the backend has no DB API to probe",
    },
    "status": {
        DONE: "the status was printed, whether the agent runs or not",
        FAILED: "`--check`: no agent is running for the Dbsys folder (for monitoring)",
    },
}


def can_be_refused(command: click.Command) -> bool:
    """Whether ``command`` acts for a person, and so may exit 3 (the contract: those take ``--user``)."""
    return any(isinstance(p, click.Option) and "--user" in p.opts for p in command.params)


def meanings(path: str, command: click.Command) -> dict[int, str]:
    """What each exit code of the command at ``path`` (e.g. ``"links link-site"``) means."""
    codes = {code: text for code, text in GENERAL.items() if code != NO_PRIVILEGE or can_be_refused(command)}
    codes.update(SPECIFIC.get(path, {}))
    return codes
