"""The code base passes ruff with the rules configured in pyproject.toml (scikit-learn's)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_clean():
    ruff = shutil.which("ruff")
    if ruff is None:  # the test extra installs it; fail loudly if it is missing
        pytest.fail("ruff is not installed (it is in the test extra)")
    out = subprocess.run(
        [ruff, "check", "--no-cache", "--output-format", "concise", str(ROOT)],
        capture_output=True, text=True, check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
