"""The non-editable install: built from a copy of the source, installed into its own folder,
the bot runs from another directory and finds its data (procedure, texts, migrations) there.

A test rather than a CI step, so that `./pinpoint test` (what CI runs) and a developer's run
check the same thing. The dependencies come from the running environment (`--no-deps`): the
test checks the project's own files, not the resolver.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _not_sources(folder: str, names: list[str]) -> set[str]:
    """What a copy of the checkout leaves out: caches, builds, databases, virtual envs."""
    return {n for n in names
            if n.startswith(".") or n in ("build", "dist", "__pycache__")
            or n.endswith((".egg-info", ".db", ".db-wal", ".db-shm"))
            or (Path(folder, n) / "pyvenv.cfg").exists()}


def test_installed_copy_runs_the_sandbox_check_from_elsewhere(tmp_path: Path) -> None:
    source, site, elsewhere = tmp_path / "source", tmp_path / "site", tmp_path / "elsewhere"
    shutil.copytree(ROOT, source, ignore=_not_sources)  # a clean build, no stale build/
    elsewhere.mkdir()
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                              "--no-index", "--no-build-isolation", "--target", str(site),
                              str(source)], capture_output=True, text=True, timeout=180)
    assert install.returncode == 0, install.stderr  # setuptools: from requirements/test.txt
    shutil.rmtree(source)  # nothing may still read from it
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(site)}

    where = subprocess.run(
        [sys.executable, "-c", "import bot, data, bot.config as c; "
                               "print(bot.__file__, data.__file__, c.DATA_DIR, sep='\\n')"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60, check=True)
    assert all(Path(line).is_relative_to(site) for line in where.stdout.split()), where.stdout
    assert (site / "bot" / "store" / "revisions" / "versions" / "001_initial.py").is_file()

    result = subprocess.run(
        [sys.executable, "-m", "bot", "sandbox", "--check", "--no-browser", "--port", "0"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sandbox check: ok" in result.stdout.splitlines()
