"""The web console's page in docs/ shows only screenshots the browser tests take, and every one
they take for it: a screen that changes changes its picture at the next run of those tests."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB_DOC = ROOT / "docs" / "web.md"
BROWSER_TESTS = ("test_web_browser.py", "test_web_manager_browser.py")


def shown_in_the_docs() -> set[str]:
    return set(re.findall(r"!\[[^\]]*\]\(images/([\w-]+)\.png\)", WEB_DOC.read_text(encoding="utf-8")))


def taken_by_the_browser_tests() -> set[str]:
    found: set[str] = set()
    for name in BROWSER_TESTS:
        found |= set(re.findall(r'shot\(page, "([\w-]+)"\)', (ROOT / "tests" / name).read_text(encoding="utf-8")))
    return found


def test_every_screenshot_of_the_web_docs_is_taken_by_a_browser_test():
    shown, taken = shown_in_the_docs(), taken_by_the_browser_tests()
    assert shown, "docs/web.md shows no screenshot"
    assert shown <= taken, f"shown but taken by no browser test: {sorted(shown - taken)}"


def test_every_screenshot_the_browser_tests_take_is_in_the_web_docs_and_in_the_repository():
    taken = taken_by_the_browser_tests()
    assert taken <= shown_in_the_docs(), f"taken but not shown in docs/web.md: {sorted(taken - shown_in_the_docs())}"
    missing = [name for name in taken if not (ROOT / "docs" / "images" / f"{name}.png").is_file()]
    assert not missing, f"run the browser tests with ZENITHLINK_SCREENSHOTS=docs/images: {missing}"
