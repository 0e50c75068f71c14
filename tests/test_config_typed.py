"""Settings are typed from the schema: every key of SCHEMA is an attribute declared with its type,
so that a misspelt setting fails type checking instead of raising at run time."""

from __future__ import annotations

import types
import typing
from pathlib import Path

import pytest

from config.loader import Settings, SettingValues, parse_settings
from config.schema import SCHEMA

# What the loader makes of each kind of key; a path is None when it is not set and nothing is
# derived from the Dbsys folder for it.
_TYPES_OF_KIND: dict[str, tuple[object, ...]] = {
    "str": (str,), "secret": (str,), "url": (str,), "choice": (str,), "listen": (str,),
    "bool": (bool,), "int": (int,), "float": (float,), "path": (Path, Path | None), "paths": (list[Path],),
}

_EVERY_PATH_SET = """
[RangerMSP]
DbsysFolder = D
RequestsFolder = R
RangerMSPFolder = C:/RangerMSP
Database = s.sqlite3
[Plugins]
PluginFolders = p1;p2
[Web]
CertFile = c.pem
KeyFile = k.pem
[Logging]
LogFolder = L
"""


def _declared() -> dict[str, object]:
    return typing.get_type_hints(SettingValues)


def test_every_key_of_the_schema_is_a_declared_attribute_and_nothing_else() -> None:
    assert set(_declared()) == {key.attr for key in SCHEMA}


@pytest.mark.parametrize("key", SCHEMA, ids=lambda key: key.attr)
def test_each_declared_type_fits_its_kind(key) -> None:
    assert _declared()[key.attr] in _TYPES_OF_KIND[key.kind]


def _is_instance(value: object, declared: object) -> bool:
    if declared is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if typing.get_origin(declared) is list:
        (item,) = typing.get_args(declared)
        return isinstance(value, list) and all(isinstance(v, item) for v in value)
    assert isinstance(declared, (type, types.UnionType))
    return isinstance(value, declared)


@pytest.mark.parametrize("text", ["", _EVERY_PATH_SET], ids=["defaults", "every-path-set"])
def test_the_loaded_values_have_the_declared_types(text: str, tmp_path: Path) -> None:
    settings = parse_settings(text, base_dir=tmp_path)
    wrong = {attr: (getattr(settings, attr), declared) for attr, declared in _declared().items()
             if not _is_instance(getattr(settings, attr), declared)}
    assert wrong == {}


def test_an_attribute_is_the_validated_value(tmp_path: Path) -> None:
    settings = parse_settings("[Continuum]\nPollIntervalSeconds = 7\n", base_dir=tmp_path)
    assert settings.poll_interval_seconds == settings.values["poll_interval_seconds"] == 7


def test_a_misspelt_setting_is_an_attribute_error(tmp_path: Path) -> None:
    settings = parse_settings("", base_dir=tmp_path)
    with pytest.raises(AttributeError):
        settings.poll_intervl_seconds  # type: ignore[attr-defined]  # noqa: B018


def test_a_misspelt_setting_fails_type_checking(tmp_path: Path) -> None:
    from mypy import api

    module = tmp_path / "uses_settings.py"
    module.write_text("from config.loader import Settings\n"
                      "def interval(settings: Settings) -> int:\n"
                      "    return settings.poll_intervl_seconds\n", encoding="utf-8")
    out, _, status = api.run(["--no-incremental", "--follow-imports=silent", str(module)])
    assert status == 1
    assert '"Settings" has no attribute "poll_intervl_seconds"' in out


def test_settings_is_still_built_from_values(tmp_path: Path) -> None:
    loaded = parse_settings("", base_dir=tmp_path)
    again = Settings(path=None, values=dict(loaded.values))
    assert again.differences(loaded) == []
    assert again.instance_id == loaded.instance_id
