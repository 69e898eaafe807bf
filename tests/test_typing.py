"""Types and lint: rnnkit ships its type information (py.typed, and a stub for the C++
extension that mypy's stubtest keeps in step with the bindings), mypy passes on the package
with pyproject.toml's settings, and ruff passes on the repository. The checks skip, saying
so, where mypy or ruff is not installed (both come with ``pip install .[test]``)."""

import importlib.util
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def tool_or_skip(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install .[test])")


def run(command, cwd):
    """The command's exit status and its output, stdout then stderr."""
    done = subprocess.run([sys.executable, "-m", *command], cwd=cwd, capture_output=True, text=True, timeout=600)
    return done.returncode, done.stdout + done.stderr


def test_the_package_says_it_is_typed_and_has_the_extension_stub():
    package = resources.files("rnnkit")
    assert package.joinpath("py.typed").is_file()
    assert package.joinpath("_core.pyi").is_file()


@pytest.mark.slow  # type-checks the package the stub sits in, twice: about 40 s
def test_the_stub_matches_the_extension(tmp_path):
    tool_or_skip("mypy")
    status, output = run(["mypy.stubtest", "rnnkit._core", "--mypy-config-file", str(ROOT / "pyproject.toml")],
                         tmp_path)
    assert status == 0, output
    # stubtest passes too when mypy finds no stub at all: check that mypy reads this one.
    status, output = run(["mypy", "--cache-dir", str(tmp_path / "cache"), "-c",
                          "import rnnkit._core\nreveal_type(rnnkit._core.isa)"], tmp_path)
    assert status == 0 and re.search(r'Revealed type is "def \(\) -> (builtins\.)?str"', output), output


def test_ruff_finds_nothing():
    tool_or_skip("ruff")
    status, output = run(["ruff", "check", "--no-cache", "."], ROOT)
    assert status == 0, output


@pytest.mark.slow  # type-checks the whole package: about 20 s
def test_mypy_finds_nothing(tmp_path):
    tool_or_skip("mypy")
    status, output = run(["mypy", "--cache-dir", str(tmp_path)], ROOT)
    assert status == 0, output
