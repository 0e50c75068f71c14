"""The options many commands share, declared once: ``--json`` and ``--user``."""

from __future__ import annotations

import click

#: Print one JSON document on stdout instead of a table.
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")

#: The employee a command acts for (its audit entries and History Notes name them).
user_option = click.option("--user", "user", envvar="ZENITHLINK_USER", default=None,
                           help="Employee login on whose behalf to act (default: $ZENITHLINK_USER).")

#: The employee a command acts for, who must hold the Continuum Integration privilege.
privileged_user_option = click.option(
    "--user", "user", envvar="ZENITHLINK_USER", default=None,
    help="Employee login with the Continuum Integration privilege (default: $ZENITHLINK_USER).")
