"""The options many commands share, declared once: ``--json``, ``--user`` and ``--rmm``."""

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

#: Which RMM a command works on when the agent links several (``[RMM:<name>]`` sections).
rmm_option = click.option("--rmm", "rmm", default=None, metavar="INSTANCEID",
                          help="The extra RMM of this InstanceID (an [RMM:<name>] section of the INI); "
                               "default: the primary RMM of [Continuum].")


def of_rmm(app, instance_id: str | None):
    """``app``, or (``--rmm``) the extra RMM of that InstanceID as its engines see the app."""
    if not instance_id:
        return app
    for instance in app.instances:
        if instance.instance_id.lower() == instance_id.strip().lower():
            return instance
    from agent.errors import UsageError

    known = ", ".join(i.instance_id for i in app.instances) or "none: the INI has no [RMM:<name>] section"
    raise UsageError(f"there is no RMM with InstanceID {instance_id!r}; the INI's extra RMMs are: {known}")
