"""The four top-level packages must be zenithlink's own: a clash with another project's package of
the same name (``config`` is a common one) is refused with a sentence, not run."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT


def test_another_projects_config_package_is_refused_with_what_to_do(tmp_path):
    foreign = tmp_path / "site" / "config"
    foreign.mkdir(parents=True)
    (foreign / "__init__.py").write_text("raise RuntimeError('someone else config ran')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "site"), str(ROOT)]))
    proc = subprocess.run([sys.executable, "-c", "import sys; sys.path.remove('') if '' in sys.path else None; "
                           "from agent.cli import main; main()", "--help"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    assert "the package 'config' it needs is not its own" in proc.stderr and "virtual environment" in proc.stderr
    assert "someone else config ran" not in proc.stderr  # refused before that code could run


def test_its_own_packages_pass():
    proc = subprocess.run([sys.executable, "-c", "from agent.cli import main; main()", "--help"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0 and "zenithlink" in proc.stdout
