"""The architecture's import contracts (pyproject.toml, [tool.importlinter]) hold."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
LINT = "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())"


def lint_imports(config: Path) -> tuple[int, str]:
    """Run import-linter on the source tree with `config`: its exit code and its report."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path, "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-c", LINT, "--config", str(config), "--no-cache"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr


def folded(report: str) -> str:
    """The report on one line, so that a wrapped contract name reads whole."""
    return " ".join(report.split())


def test_every_contract_is_kept() -> None:
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    code, report = lint_imports(PYPROJECT)
    assert code == 0, report
    for contract in contracts:
        assert f"{contract['name']} KEPT" in folded(report), report
    assert f"Contracts: {len(contracts)} kept, 0 broken." in folded(report), report


def test_a_broken_contract_fails_with_the_report(tmp_path: Path) -> None:
    config = tmp_path / "pyproject.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["bot"]\n\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "The engine without its store"\ntype = "forbidden"\n'
        'source_modules = ["bot.engine"]\nforbidden_modules = ["bot.store"]\n'
    )
    code, report = lint_imports(config)
    assert code == 1, report
    assert "The engine without its store BROKEN" in folded(report), report
    assert "bot.engine is not allowed to import bot.store" in folded(report), report


def test_the_product_and_the_sandbox_import_without_segno() -> None:
    """segno is a test dependency: only redrawing the demo sticker and the photo generator
    need it (the contracts check the imports; this checks that nothing imports it at load)."""
    code = ("import sys; sys.modules['segno'] = None; "
            "import bot.__main__, bot.services, handlers.app, sandbox, sandbox.sticker")
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": path}, timeout=60)
    assert done.returncode == 0, done.stderr
