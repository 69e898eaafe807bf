"""The C++ core is a CMake library usable without Python: build and run its example."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed (pip install .[test])")
def test_cpp_example_builds_and_checks_its_gradients(tmp_path):
    build = tmp_path / "build"
    configure = [
        "cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
        "-DRNNKIT_BUILD_EXAMPLES=ON", "-DRNNKIT_BUILD_PYTHON=OFF",
        # The interpreter whose site-packages may hold cmeel-eigen, when the system has no Eigen.
        f"-DPython_EXECUTABLE={sys.executable}",
    ]
    if shutil.which("ninja"):
        configure += ["-G", "Ninja"]
    env = dict(os.environ, CMAKE_BUILD_PARALLEL_LEVEL="2")
    subprocess.run(configure, check=True, capture_output=True, env=env)
    subprocess.run(["cmake", "--build", str(build), "--target", "lstm_example"], check=True,
                   capture_output=True, env=env)
    run = subprocess.run([str(build / "lstm_example")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "worst relative kernel-gradient error" in run.stdout
