"""An error no command expected: one redacted line for the person, the traceback in the log (``-vv``).

Apart from the entry point so that a command that ends well never imports loguru for it.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click
from loguru import logger

from agent import logs
from agent.errors import describe


def fail_unexpectedly(exc: BaseException) -> NoReturn:
    logger.opt(exception=exc).debug("unexpected error")
    click.echo(logs.redact(f"Error: {describe(exc)}"), err=True)
    sys.exit(1)
