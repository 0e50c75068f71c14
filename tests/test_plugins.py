"""The plugin manager: built-ins like any plugin, folders, inline, on/off, misspelled hooks."""

from __future__ import annotations

import textwrap
from types import SimpleNamespace

import pytest

from agent.hookspecs import hookimpl
from agent.plugins import DEFAULT_PLUGINS, PluginError, get_plugin_manager
from config.loader import parse_settings

from conftest import run_cli, write_ini

FOLDER_PLUGIN = textwrap.dedent('''
    from agent.hookspecs import hookimpl

    @hookimpl
    def zenith_resolve_account(ticket, psa, settings):
        return "CRD_FROM_FOLDER"
''')


def settings_with(tmp_path, text=""):
    return parse_settings(text, base_dir=tmp_path)


def resolve(pm, ticket=None):
    ticket = ticket or SimpleNamespace(site_code="ACME-HQ")
    store = SimpleNamespace(account_for_site=lambda code: "CRD_LINKED")
    return pm.hook.zenith_resolve_account(ticket=ticket, psa=store, settings=None)


def test_builtins_registered_through_the_same_manager(tmp_path):
    pm = get_plugin_manager(settings_with(tmp_path))
    names = {n for n, i in pm.infos.items() if i.source == "built-in"}
    assert names == {m.rsplit(".", 1)[1] for m in DEFAULT_PLUGINS}
    assert pm.infos["account_resolver"].enabled
    assert "zenith_resolve_account" in pm.infos["account_resolver"].hooks
    assert resolve(pm) == "CRD_LINKED"


def test_plugin_from_folder_overrides_the_builtin(tmp_path):
    folder = tmp_path / "myplugins"
    folder.mkdir()
    (folder / "vip.py").write_text(FOLDER_PLUGIN)
    settings = settings_with(tmp_path, "[Plugins]\nPluginFolders=myplugins\n")
    pm = get_plugin_manager(settings)
    assert pm.infos["vip"].source.startswith("folder")
    assert resolve(pm) == "CRD_FROM_FOLDER"


def test_disabling_a_plugin_in_the_ini_restores_the_default(tmp_path):
    folder = tmp_path / "myplugins"
    folder.mkdir()
    (folder / "vip.py").write_text(FOLDER_PLUGIN)
    settings = settings_with(tmp_path, "[Plugins]\nPluginFolders=myplugins\nVIP=N\n")
    pm = get_plugin_manager(settings)
    assert pm.infos["vip"].enabled is False
    assert resolve(pm) == "CRD_LINKED"


def test_a_plugin_that_cannot_be_loaded_can_still_be_switched_off(tmp_path):
    folder = tmp_path / "myplugins"
    folder.mkdir()
    (folder / "broken.py").write_text("import a_module_nobody_installed\n")
    on = settings_with(tmp_path, "[Plugins]\nPluginFolders=myplugins\n")
    with pytest.raises(PluginError, match="broken.py failed to load"):
        get_plugin_manager(on)
    off = settings_with(tmp_path, "[Plugins]\nPluginFolders=myplugins\nbroken=N\n")
    pm = get_plugin_manager(off)
    assert pm.infos["broken"].enabled is False
    assert resolve(pm) == "CRD_LINKED"  # the rest works as before


def test_inline_class_plugin(tmp_path):
    class Inline:
        @hookimpl
        def zenith_resolve_account(self, ticket, psa, settings):
            return "CRD_INLINE" if ticket.site_code == "ACME-HQ" else None

    pm = get_plugin_manager(settings_with(tmp_path), extra=[("inline", Inline())])
    assert resolve(pm) == "CRD_INLINE"
    assert resolve(pm, SimpleNamespace(site_code="OTHER")) == "CRD_LINKED"


def test_builtin_can_be_switched_off(tmp_path):
    pm = get_plugin_manager(settings_with(tmp_path, "[Plugins]\naccount_resolver=N\n"))
    assert not pm.has_plugin("account_resolver")
    assert resolve(pm) is None


def test_misspelled_hook_is_refused(tmp_path):
    class Typo:
        @hookimpl
        def zenith_resolve_acount(self, ticket):
            return "x"

    with pytest.raises(PluginError) as info:
        get_plugin_manager(settings_with(tmp_path), extra=[("typo", Typo())])
    assert "zenith_resolve_acount" in info.value.message and "typo" in info.value.message


def test_broken_plugin_file_is_a_clear_error(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "broken.py").write_text("import nonexistent_module_xyz\n")
    with pytest.raises(PluginError) as info:
        get_plugin_manager(settings_with(tmp_path, "[Plugins]\nPluginFolders=p\n"))
    assert "broken.py" in info.value.message


def test_failing_notifier_does_not_stop_the_others(tmp_path):
    seen = []

    class Bad:
        @hookimpl
        def zenith_notify(self, event):
            raise RuntimeError("smtp down")

    class Good:
        @hookimpl
        def zenith_notify(self, event):
            seen.append(event.kind)

    from agent.events import Event

    pm = get_plugin_manager(settings_with(tmp_path), extra=[("bad", Bad()), ("good", Good())])
    pm.notify(Event("ticket_created", "x"))
    assert seen == ["ticket_created"]


def test_plugins_are_handed_their_settings_and_the_app(tmp_path):
    from agent.app import App

    seen = []

    class Configurable:
        @hookimpl
        def zenith_configure(self, settings, app):
            seen.append((settings.plugin_settings("configurable"), app))

    settings = settings_with(tmp_path, "[plugin:configurable]\nColour=Blue\n")
    app = App(tmp_path / "x.ini", settings=settings, extra_plugins=[("configurable", Configurable())])
    app.pm  # noqa: B018 - building the plugin manager configures the plugins
    assert seen == [({"colour": "Blue"}, app)]


def test_installed_plugin_adds_a_command_and_is_listed(tmp_path):
    """A plugin installed as a package (entry point group ``zenithlink``), as pip would lay it out."""
    import json

    from conftest import ROOT, run_cli, write_ini

    site = tmp_path / "site"
    (site / "hello_zl-1.0.dist-info").mkdir(parents=True)
    (site / "hello_zl-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: hello-zl\nVersion: 1.0\n")
    (site / "hello_zl-1.0.dist-info" / "entry_points.txt").write_text("[zenithlink]\nhello = hello_zl\n")
    (site / "hello_zl.py").write_text(textwrap.dedent('''
        import click
        from agent.hookspecs import hookimpl

        @click.command("hello")
        def hello():
            """Say hello from an installed plugin."""
            click.echo("hello from a plugin")

        @hookimpl
        def zenith_register_commands(cli):
            cli.add_command(hello)
    '''))
    env = {"PYTHONPATH": f"{ROOT}:{site}", "ZENITHLINK_NO_ENTRY_POINTS": ""}  # this test asks for entry points
    ini = write_ini(tmp_path)
    res = run_cli(["hello"], env=env)
    assert res.code == 0 and "hello from a plugin" in res.out, res.err
    listed = {p["name"]: p for p in json.loads(run_cli(["plugins", "--json"], config=ini, env=env).out)}
    assert listed["hello"]["source"] == "entry point (hello-zl)"
    assert listed["hello"]["hooks"] == ["zenith_register_commands"]


def test_a_misspelt_plugin_name_is_a_warning_naming_the_nearest_plugin(tmp_path):
    from conftest import run_cli, write_ini

    ini = write_ini(tmp_path, "[Plugins]\nnotify_emial=Y\n")
    shown = run_cli(["check-config", "--offline", "--json"], config=ini)
    assert shown.code == 0, shown.err
    import json

    [warning] = [w for w in json.loads(shown.out)["warnings"] if "[Plugins]" in w]
    assert warning == "[Plugins] notify_emial names no plugin, so that line does nothing (did you mean notify_email?)"


def test_a_section_of_a_misspelt_plugin_is_a_warning_naming_the_nearest_plugin(tmp_path):
    settings = settings_with(tmp_path, "[plugin:notify_emial]\nSMTPHost=mail\n")
    get_plugin_manager(settings, configure=False)
    assert ("[plugin:notify_emial] names no plugin, so that section does nothing (did you mean notify_email?)"
            in settings.warnings)


def test_an_event_its_source_logged_is_not_logged_again_by_the_log_notifier():
    from loguru import logger

    from agent import events
    from plugins import notify_log

    seen: list[str] = []
    sink = logger.add(seen.append, level="INFO", format="{message}")
    try:
        notify_log.zenith_notify(events.Event(events.INVENTORY_REFRESHED, "Inventory refreshed: 3 sites", logged=True))
        notify_log.zenith_notify(events.Event(events.TICKET_CREATED, "Continuum ticket 7 became PSA ticket TKT1"))
    finally:
        logger.remove(sink)
    assert seen == ["[ticket_created] Continuum ticket 7 became PSA ticket TKT1\n"]


def test_a_hook_argument_the_hook_does_not_offer_is_a_configuration_error_for_every_command(tmp_path):
    folder = tmp_path / "myplugins"
    folder.mkdir()
    (folder / "resolver.py").write_text(FOLDER_PLUGIN.replace("(ticket, psa, settings)", "(ticket, store, settings)"))
    ini = write_ini(tmp_path, "[Plugins]\nPluginFolders=myplugins\n")
    with pytest.raises(PluginError) as info:
        get_plugin_manager(settings_with(tmp_path, "[Plugins]\nPluginFolders=myplugins\n"))
    said = info.value.message
    assert str(folder / "resolver.py") in said and "zenith_resolve_account" in said
    assert "the argument store, which that hook does not offer" in said
    assert "offers ticket, psa, settings (docs/hooks.md" in said and "[Plugins] resolver=N" in said
    for args in (["check-config", "--offline"], ["run"], ["run", "--once"], ["tickets", "list"], ["plugins"]):
        res = run_cli(args, config=ini)
        assert res.code == 2, (args, res.err)
        assert said in res.err and "This is a bug" not in res.err, args
    off = write_ini(tmp_path, "[Plugins]\nPluginFolders=myplugins\nresolver=N\n")
    assert run_cli(["tickets", "list"], config=off).code == 0
