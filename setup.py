"""Ships the documentation (docs/*.md) inside the package as ``agent/_docs``, where an installed
agent finds it (``zenithlink docs``); everything else about the build is in setup.cfg."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildWithManual(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "agent" / "_docs"
        shutil.rmtree(target, ignore_errors=True)  # a page removed from docs/ must not linger in a later build
        target.mkdir(parents=True)
        for page in sorted((HERE / "docs").glob("*.md")):
            shutil.copyfile(page, target / page.name)


setup(cmdclass={"build_py": BuildWithManual})
