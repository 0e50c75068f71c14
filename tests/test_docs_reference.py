"""Docs honesty: the generated references are up to date and name everything they must."""

from __future__ import annotations

import re
from pathlib import Path

from agent.docgen.hooks import HOOKS_DOC, hook_specs, render_hooks_md
from agent.runtime.status import STATUS_FIELDS
from config.schema import SCHEMA
from config.template import TEMPLATE_PATH

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_hooks_md_is_generated_and_up_to_date():
    assert HOOKS_DOC.read_text(encoding="utf-8") == render_hooks_md(), (
        "docs/hooks.md is out of date: run python -c \"from agent.docgen.hooks import write; write()\"")


def test_every_hook_is_documented():
    text = HOOKS_DOC.read_text(encoding="utf-8")
    names = [name for name, _, _ in hook_specs()]
    assert "zenith_resolve_account" in names and "zenith_notify" in names and "zenith_configure" in names
    for name, fn, _ in hook_specs():
        assert f"## {name}\n" in text
        assert fn.__doc__ and fn.__doc__.strip(), f"hook {name} has no docstring"


def test_every_ini_key_is_in_the_reference_and_the_template():
    reference = (DOCS / "ini-reference.md").read_text(encoding="utf-8")
    template = TEMPLATE_PATH.read_text(encoding="utf-8")
    for key in SCHEMA:
        assert f"`{key.name}`" in reference, f"{key.name} is missing from docs/ini-reference.md"
        assert re.search(rf"^{re.escape(key.name)}=", template, re.M), f"{key.name} is missing from the template"


def test_notifier_settings_are_documented():
    text = (DOCS / "plugins.md").read_text(encoding="utf-8")
    for key in ("SMTPHost", "SMTPPort", "Security", "Username", "Password", "From", "To", "Events",
                "MaxPerHour", "TimeoutSeconds", "URL", "Secret", "MaxAttempts"):
        assert f"`{key}`" in text, f"{key} is not documented in docs/plugins.md"
    assert "`X-Zenithlink-Signature: sha256=<hex>`" in text


def test_status_fields_are_documented():
    text = (DOCS / "troubleshooting.md").read_text(encoding="utf-8")
    for name in STATUS_FIELDS:
        assert f"`{name}`" in text, f"status field {name} is not documented in docs/troubleshooting.md"


def test_the_plugin_guide_shows_the_shipped_example():
    guide = (DOCS / "plugins.md").read_text(encoding="utf-8")
    example = (DOCS / "examples" / "vip_accounts.py").read_text(encoding="utf-8")
    body = example.split('"""', 2)[2].strip()  # the code after the module docstring
    assert body in guide, "docs/plugins.md must show docs/examples/vip_accounts.py as it is"
