"""The INI contract: every rule of contracts/ini.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import InvalidConfig, load_settings, parse_settings
from config.schema import SCHEMA
from config.template import TEMPLATE_PATH, render_reference, render_template

SECRET = "PSG-Very-Secret-1234"


def parse(text: str, tmp_path: Path, **kw):
    return parse_settings(text, base_dir=tmp_path, **kw)


def test_defaults_from_empty_file(tmp_path):
    s = parse("", tmp_path)
    assert s.instance_id == "RMAZenithINFOTECHID1"
    assert s.process_queue is False
    assert s.poll_interval_seconds == 30
    assert s.inventory_refresh_minutes == 60
    assert s.request_timeout_seconds == 30
    assert s.verify_tls is True
    assert s.dbsys_folder == tmp_path / "Dbsys"
    assert s.requests_folder == tmp_path / "Dbsys" / "ZenithRequests"
    assert s.database == tmp_path / "Dbsys" / "zenithlink.sqlite3"
    assert s.log_folder == tmp_path / "Dbsys" / "Logs"
    assert s.auto_created_account_prefix == "[Continuum AUTO CREATED]"
    assert s.level == "INFO"


def test_legacy_file_without_section_is_continuum(tmp_path):
    s = parse(f"PSG={SECRET}\nProcessContinuumUpdatesQueue=Y\n", tmp_path)
    assert s.psg == SECRET
    assert s.process_queue is True


def test_legacy_file_with_leading_comment(tmp_path):
    s = parse(f"; written by hand\n\nPSG={SECRET}\n", tmp_path)
    assert s.psg == SECRET


def test_keys_and_sections_are_case_insensitive(tmp_path):
    s = parse("[continuum]\npollintervalseconds=5\nINSTANCEID=abc\n[RANGERMSP]\ndbsysfolder=X\n", tmp_path)
    assert s.poll_interval_seconds == 5
    assert s.instance_id == "abc"
    assert s.dbsys_folder == tmp_path / "X"


@pytest.mark.parametrize("word,value", [
    ("Y", True), ("n", False), ("Yes", True), ("no", False), ("TRUE", True), ("false", False),
    ("1", True), ("0", False), ("On", True), ("off", False)])
def test_booleans_accept_every_spelling(tmp_path, word, value):
    assert parse(f"[Continuum]\nProcessContinuumUpdatesQueue={word}\n", tmp_path).process_queue is value


def test_percent_is_an_ordinary_character(tmp_path):
    s = parse("[Continuum]\nPSG=ab%(cd)s%%ef\n[RangerMSP]\nAutoCreatedAccountPrefix=100% auto\n", tmp_path)
    assert s.psg == "ab%(cd)s%%ef"
    assert s.auto_created_account_prefix == "100% auto"


def test_unknown_key_warns_with_nearest_name(tmp_path):
    s = parse("[Continuum]\nPollIntervalSecond=5\n", tmp_path)
    assert s.poll_interval_seconds == 30
    assert any("PollIntervalSecond" in w and "did you mean PollIntervalSeconds" in w for w in s.warnings)


def test_a_key_in_the_wrong_section_or_misspelt_into_another_says_where_it_belongs(tmp_path):
    s = parse("[RangerMSP]\nPSG=x\n[Continuum]\nDBSysFolder=D\nLogLevel=DEBUG\n", tmp_path)
    assert "unknown key [RangerMSP] PSG is ignored: PSG belongs in [Continuum], move it there" in s.warnings
    assert ("unknown key [Continuum] DBSysFolder is ignored: DbsysFolder belongs in [RangerMSP], move it there"
            in s.warnings)
    assert "unknown key [Continuum] LogLevel is ignored (did you mean [Logging] Level?)" in s.warnings
    with pytest.raises(InvalidConfig) as info:
        parse("[Plugins]\nPluginFolder=plugins\n", tmp_path)
    assert "did you mean PluginFolders?" in info.value.problems[0]


def test_a_bad_required_value_is_reported_once_not_also_as_missing(tmp_path):
    with pytest.raises(InvalidConfig) as info:
        parse("[Continuum]\nPSG=x\nContinuumURL=not a url\n", tmp_path, require=("PSG", "ContinuumURL"))
    assert info.value.problems == ["[Continuum] ContinuumURL = 'not a url': must be an http:// or https:// URL "
                                   "with a host name"]


def test_unknown_section_warns(tmp_path):
    s = parse("[Continum]\nPSG=x\n", tmp_path)
    assert any("Continum" in w and "Continuum" in w for w in s.warnings)


def test_five_problems_reported_at_once(tmp_path):
    text = ("[Continuum]\nPollIntervalSeconds=soon\nVerifyTLS=maybe\nContinuumURL=ftp://x\n"
            "InventoryRefreshMinutes=0\n[Logging]\nLevel=LOUD\n")
    with pytest.raises(InvalidConfig) as info:
        parse(text, tmp_path)
    problems = info.value.problems
    assert len(problems) == 5
    joined = "\n".join(problems)
    for key in ("PollIntervalSeconds", "VerifyTLS", "ContinuumURL", "InventoryRefreshMinutes", "Level"):
        assert key in joined
    assert "'soon'" in joined and "whole number" in joined
    assert "DEBUG, INFO, WARNING, ERROR" in joined


def test_bad_values_name_section_key_value_and_allowed(tmp_path):
    with pytest.raises(InvalidConfig) as info:
        parse("[Continuum]\nRequestTimeoutSeconds=-3\n", tmp_path)
    (problem,) = info.value.problems
    assert problem.startswith("[Continuum] RequestTimeoutSeconds = '-3': must be a number from 1 to 600")


def test_psg_value_is_never_echoed(tmp_path):
    with pytest.raises(InvalidConfig) as info:
        parse(f"[Continuum]\nPSG={SECRET}\nPollIntervalSeconds=x\n", tmp_path, require=("PSG", "ContinuumURL"))
    assert SECRET not in str(info.value)
    assert any("ContinuumURL is missing" in p for p in info.value.problems)
    s = parse(f"[Continuum]\nPSG={SECRET}\n", tmp_path)
    assert SECRET not in repr(s.summary())
    assert ("Continuum", "PSG", "(set)") in s.summary()


def test_required_keys_only_when_asked(tmp_path):
    parse("", tmp_path)
    with pytest.raises(InvalidConfig) as info:
        parse("", tmp_path, require=("PSG", "ContinuumURL"))
    assert len(info.value.problems) == 2


def test_plugins_switches_and_plugin_sections(tmp_path):
    s = parse("[Plugins]\nnotify_email=Y\nNotify_Log=off\nPluginFolders=a;b\n"
              "[plugin:notify_email]\nSMTPHost=mail.example.com\n", tmp_path)
    assert s.plugin_enabled("notify_email", False) is True
    assert s.plugin_enabled("notify_log", True) is False
    assert s.plugin_enabled("other", True) is True
    assert s.plugin_folders == [tmp_path / "a", tmp_path / "b"]
    assert s.plugin_settings("NOTIFY_EMAIL") == {"smtphost": "mail.example.com"}


def test_bad_plugin_switch_is_a_problem(tmp_path):
    with pytest.raises(InvalidConfig) as info:
        parse("[Plugins]\nnotify_email=perhaps\n", tmp_path)
    assert "notify_email" in info.value.problems[0]


def test_instance_id_must_be_file_name_safe(tmp_path):
    with pytest.raises(InvalidConfig):
        parse("[Continuum]\nInstanceID=../../etc\n", tmp_path)


def test_missing_file_says_how_to_create_one(tmp_path):
    with pytest.raises(InvalidConfig) as info:
        load_settings(tmp_path / "nope.ini")
    assert "zenithlink init" in info.value.problems[0]


@pytest.fixture
def western_windows(monkeypatch):
    from dbsys import host

    monkeypatch.setattr(host, "ansi_encoding", lambda: "cp1252")


def test_text_neither_utf8_nor_ansi_is_a_clear_problem(tmp_path, western_windows):
    path = tmp_path / "x.ini"
    path.write_bytes(b"[Continuum]\nPSG=\x81\x8dbad\n")  # no character in UTF-8 or in cp1252
    with pytest.raises(InvalidConfig) as info:
        load_settings(path)
    assert "neither UTF-8 nor cp1252" in info.value.problems[0] and "save it as UTF-8" in info.value.problems[0]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
def test_utf8_with_or_without_bom_and_notepads_unicode_are_read_without_warning(tmp_path, encoding):
    path = tmp_path / "CmtZenithLink.ini"
    path.write_bytes("[RangerMSP]\r\nAutoCreatedAccountPrefix=[Continuum] Müller –\r\n".encode(encoding))
    settings = load_settings(path)
    assert settings.auto_created_account_prefix == "[Continuum] Müller –"
    assert settings.warnings == []


def test_an_ansi_file_from_notepad_is_read_in_the_code_page_with_a_warning(tmp_path, western_windows):
    path = tmp_path / "CmtZenithLink.ini"
    path.write_bytes("[RangerMSP]\r\nAutoCreatedAccountPrefix=[Continuum] Müller €\r\n".encode("cp1252"))
    settings = load_settings(path)
    assert settings.auto_created_account_prefix == "[Continuum] Müller €"
    (warning,) = settings.warnings
    assert "read as cp1252" in warning and "Save it as UTF-8" in warning


@pytest.mark.parametrize("locale_says,expected", [("UTF-8", "cp1252"), ("utf8", "cp1252"), ("ANSI_X3.4-1968", "cp1252"),
                                                 ("cp1250", "cp1250"), ("cp1252", "cp1252")])
def test_the_ansi_code_page_is_the_systems_and_cp1252_where_that_is_utf8(monkeypatch, locale_says, expected):
    import locale

    from dbsys import host

    monkeypatch.setattr(locale, "getencoding", lambda: locale_says)
    assert host.ansi_encoding() == expected


def test_environment_variables_are_expanded_in_path_keys(tmp_path, monkeypatch):
    data = tmp_path / "ProgramData"
    monkeypatch.setenv("ProgramData", str(data))
    monkeypatch.setenv("ZL_PLUGINS", "plugins")
    s = parse("[RangerMSP]\nDbsysFolder=%ProgramData%/zenithlink/Dbsys\nDatabase=%ProgramData%/z.db\n"
              "[Plugins]\nPluginFolders=%ZL_PLUGINS%;x\n[Logging]\nLogFolder=100%/logs\n", tmp_path)
    assert s.dbsys_folder == data / "zenithlink" / "Dbsys"
    assert s.database == data / "z.db"
    assert s.requests_folder == data / "zenithlink" / "Dbsys" / "ZenithRequests"
    assert s.plugin_folders == [tmp_path / "plugins", tmp_path / "x"]
    assert s.log_folder == tmp_path / "100%" / "logs"  # a lone % is an ordinary character
    assert s.warnings == []


def test_an_unset_environment_variable_stays_as_written_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.delenv("ZL_NOT_SET", raising=False)
    s = parse("[RangerMSP]\nDbsysFolder=%ZL_NOT_SET%/Dbsys\n", tmp_path)
    assert s.dbsys_folder == tmp_path / "%ZL_NOT_SET%" / "Dbsys"
    (warning,) = s.warnings
    assert "[RangerMSP] DbsysFolder" in warning and "ZL_NOT_SET is not set" in warning


@pytest.mark.parametrize("windows,ending", [(True, b"\r\n"), (False, b"\n")])
def test_init_writes_the_template_with_the_platforms_line_endings(tmp_path, monkeypatch, windows, ending):
    from click.testing import CliRunner

    from agent.cli import cli
    from dbsys import host

    monkeypatch.setattr(host, "is_windows", lambda: windows)
    target = tmp_path / "CmtZenithLink.ini"
    outcome = CliRunner().invoke(cli, ["--config", str(target), "init"])
    assert outcome.exit_code == 0, outcome.output
    data = target.read_bytes()
    assert data.count(ending) == render_template().count("\n")
    if not windows:
        assert b"\r" not in data
    assert data.decode("utf-8").replace("\r\n", "\n") == render_template()
    assert load_settings(target).warnings == []


def test_broken_ini_syntax_is_reported(tmp_path):
    with pytest.raises(InvalidConfig) as info:
        parse("[Continuum\nPSG=x\n", tmp_path)
    assert "cannot be read as an INI file" in info.value.problems[0]


def test_shipped_template_lists_every_key_and_is_up_to_date():
    text = TEMPLATE_PATH.read_text()
    assert text == render_template(), "regenerate config/CmtZenithLink.ini from config/template.py"
    for key in SCHEMA:
        assert f"\n{key.name}=" in text
    settings = load_settings(TEMPLATE_PATH)
    assert settings.warnings == []


def test_ini_reference_is_up_to_date():
    reference = Path(__file__).resolve().parent.parent / "docs" / "ini-reference.md"
    assert reference.read_text(encoding="utf-8") == render_reference(), "regenerate docs/ini-reference.md"


def test_differences_compare_real_values_so_a_new_psg_counts_without_being_shown(tmp_path):
    old = parse("[Continuum]\nPSG=old-code\nPollIntervalSeconds=30\n[Plugins]\nnotify_log=Y\n", tmp_path)
    assert old.differences(old) == []
    new_psg = parse("[Continuum]\nPSG=new-code\nPollIntervalSeconds=30\n[Plugins]\nnotify_log=Y\n", tmp_path)
    assert new_psg.differences(old) == ["[Continuum] PSG"]
    assert "new-code" not in " ".join(new_psg.differences(old))
    other = parse("[Continuum]\nPSG=old-code\nPollIntervalSeconds=31\n[Plugins]\nnotify_log=N\n"
                  "[plugin:notify_log]\nlevel=debug\n", tmp_path)
    assert other.differences(old) == ["[Continuum] PollIntervalSeconds", "[Plugins] notify_log",
                                      "[plugin:notify_log]"]


def test_a_line_that_is_no_key_is_named_by_its_line_number_with_every_other(tmp_path):
    with pytest.raises(InvalidConfig) as info:
        parse("[Continuum]\nPSG=x\nPSG x\n\n[RangerMSP]\nnonsense here\n", tmp_path)
    assert info.value.problems[:2] == [
        "line 3: 'PSG x' is neither a [Section] header nor a Key=Value line (comments start with ; or #)",
        "line 6: 'nonsense here' is neither a [Section] header nor a Key=Value line (comments start with ; or #)"]


def test_a_key_set_twice_is_a_warning_that_names_both_lines(tmp_path):
    settings = parse("[Continuum]\nPSG=first\nContinuumURL=http://x\nPSG=second\n", tmp_path)
    assert settings.psg == "second"
    assert any("PSG is set twice (lines 2 and 4)" in w for w in settings.warnings)


def test_warnings_are_shown_beside_the_errors_with_keys_as_written(tmp_path):
    with pytest.raises(InvalidConfig) as info:
        parse("[Continuum]\nPSG=x\nContinuumURL=http://x\nPolIntervalSeconds=5\nPollIntervalSeconds=zz\n", tmp_path)
    problems = info.value.problems
    assert problems[0].startswith("[Continuum] PollIntervalSeconds = 'zz'")
    assert "also: unknown key [Continuum] PolIntervalSeconds is ignored (did you mean PollIntervalSeconds?)" in problems


def test_a_missing_required_key_is_one_sentence_that_keeps_proper_names(tmp_path):
    with pytest.raises(InvalidConfig) as info:
        parse_settings("[Continuum]\n", base_dir=tmp_path, require=("PSG",))
    assert info.value.problems == ["[Continuum] PSG is missing, and is required: Partner Security Code from the "
                                   "Continuum portal"]
