"""The version is set in pyproject.toml alone: the package reports it, and the changelog's
newest entry names it."""

import re
from pathlib import Path

import rnnkit

ROOT = Path(__file__).resolve().parents[1]


def test_one_version_everywhere():
    declared = re.search(r'^version = "([^"]+)"$', (ROOT / "pyproject.toml").read_text(), flags=re.M).group(1)
    assert rnnkit.__version__ == declared
    newest = re.search(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(), flags=re.M).group(1)
    assert newest == declared
    assert f'"{declared}"' not in (ROOT / "python" / "rnnkit" / "__init__.py").read_text()  # not a second copy
