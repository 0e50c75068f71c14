"""The ``zenithlink`` command line (see the CLI contract in docs/cli.md).

Exit codes: 0 done; 1 the action failed; 2 bad usage or bad configuration; 3 refused for lack
of privilege. Every error reaches the person through :func:`agent.errors.describe`.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import click

from agent import __version__, logs
from agent.errors import ConfigError, ZenithError

RECORDS, OPS = "agent.cli.records_cmd", "agent.cli.ops_cmd"
#: Each command and the modules that define or extend it (each module exposes ``commands``, the
#: click commands it defines). Running a command imports only its modules, so ``status`` or
#: ``--version`` do not pay for the sandbox, the web console or the RangerMSP binding; the help and
#: a name not listed here (a plugin's command) load them all.
COMMANDS: dict[str, tuple[str, ...]] = {
    "check-config": ("agent.cli.config_cmd",), "init": ("agent.cli.config_cmd",),
    "accounts": (RECORDS,), "assets": (RECORDS,), "backup": (RECORDS,),
    "employees": (RECORDS, "agent.cli.people_cmd", "agent.cli.web_cmd"), "groups": (RECORDS, "agent.cli.people_cmd"),
    "tickets": (RECORDS, "agent.cli.actions_cmd"),
    "inventory": ("agent.cli.inventory_cmd",), "links": ("agent.cli.links_cmd",),
    "plugins": ("agent.cli.plugins_cmd",), "run": ("agent.cli.run_cmd",), "sandbox": ("agent.cli.sandbox_cmd",),
    "status": (OPS,), "errors": (OPS,), "requests": (OPS,), "service": ("agent.cli.service_cmd",), "audit": (OPS,),
    "psa": ("agent.cli.psa_cmd",), "demo": ("agent.cli.demo_cmd",), "web": ("agent.cli.web_cmd",),
    "docs": ("agent.cli.docs_cmd",), "reconcile": ("agent.cli.reconcile_cmd",),
}
COMMAND_MODULES: tuple[str, ...] = tuple(dict.fromkeys(m for modules in COMMANDS.values() for m in modules))


class RootGroup(click.Group):
    """Adds commands from the command modules, each when it is asked for, and from installed
    plugins (entry points) when every command is."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._loaded = False
        self._ready: set[str] = set()  # commands whose every module is imported

    def _add_from(self, modules: tuple[str, ...]) -> None:
        for name in modules:
            for command in importlib.import_module(name).commands:
                self.add_command(command)

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        self._add_from(COMMAND_MODULES)
        from agent.cli.plugin_commands import add_plugin_commands

        add_plugin_commands(self)

    def list_commands(self, ctx):
        self._load()
        return super().list_commands(ctx)

    def get_command(self, ctx, cmd_name):
        # Not "not in self.commands": a module adds all it defines, before its extenders are imported.
        if cmd_name in COMMANDS and cmd_name not in self._ready:
            self._add_from(COMMANDS[cmd_name])
            self._ready.add(cmd_name)
        if cmd_name not in self.commands:
            self._load()
        return super().get_command(ctx, cmd_name)


@click.group(cls=RootGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zenithlink")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The INI file (default: $ZENITHLINK_CONFIG, else ./CmtZenithLink.ini).")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-v INFO, -vv DEBUG).")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: int) -> None:
    """zenithlink: links a RangerMSP PSA with the Continuum RMM."""
    # Imported here, not at the top: ``--version`` and ``--help`` end before this and need none of it.
    from agent.app import App

    logs.configure(level=("WARNING", "INFO", "DEBUG")[min(verbose, 2)])
    ctx.obj = App(config_path)
    ctx.call_on_close(ctx.obj.close)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: runs the CLI and maps every error to its exit code."""
    logs.prepare_standard_streams()
    logs.configure("WARNING")  # before anything can log: no unredacted default sink, ever
    try:
        result = cli.main(args=argv, prog_name="zenithlink", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if exc.exit_code in (1, 2) else exc.exit_code)
    except ConfigError as exc:
        click.echo(logs.redact(f"Configuration problem: {exc.message}"), err=True)
        sys.exit(exc.exit_code)
    except ZenithError as exc:
        click.echo(logs.redact(f"Error: {exc.message}"), err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as exc:
        from agent.cli.output import reader_went_away

        if not reader_went_away(exc):
            from agent.cli.unexpected import fail_unexpectedly

            fail_unexpectedly(exc)
        # The reader went away (``zenithlink links sites | head``): like other tools, stop quietly.
        _silence_stdout()
        sys.exit(0)
    except SystemExit as exc:
        # click turns a broken pipe into exit 1 and wraps stdout so that nothing more is said.
        if exc.code == 1 and type(sys.stdout).__name__.endswith("PacifyFlushWrapper"):
            _silence_stdout()
            sys.exit(0)
        raise
    except Exception as exc:  # noqa: BLE001 - the one place every error becomes a message
        from agent.cli.unexpected import fail_unexpectedly

        fail_unexpectedly(exc)
    else:
        sys.exit(result if isinstance(result, int) else 0)
