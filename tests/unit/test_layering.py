"""The layering rules of DESIGN.md, enforced: protocol is sans-IO, the core and storage do no I/O of their own."""

import shutil
import subprocess
import sys
from pathlib import Path


def test_import_contracts_are_kept():
    """import-linter's contracts in pyproject.toml all hold."""
    root = Path(__file__).resolve().parents[2]
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    result = subprocess.run([exe], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
