"""The C++ core is a CMake library usable without Python: build and run its example.

The test skips, saying what is missing, when there is no cmake, no C++ compiler or no Eigen
(tests/build_tools.py); any other configure or build failure fails it with cmake's output.
"""

import subprocess

import pytest

from build_tools import ROOT, build_target, configure

pytestmark = pytest.mark.slow  # builds the C++ library and its example with CMake


def test_cpp_example_builds_and_checks_its_gradients(tmp_path):
    build = tmp_path / "build"
    configure(ROOT, build, "-DRNNKIT_BUILD_EXAMPLES=ON", "-DRNNKIT_BUILD_PYTHON=OFF")
    build_target(build, "lstm_example")

    run = subprocess.run([str(build / "lstm_example")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "worst relative kernel-gradient error" in run.stdout
