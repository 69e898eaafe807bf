"""The C++ core is a CMake library usable without Python: build and run its example.

Eigen is found as the package build finds it (CMakeLists.txt): the system's Eigen 3.4 if
CMake finds one, otherwise the headers and CMake config the cmeel-eigen wheel installs under
``<site-packages>/cmeel.prefix``. The test skips, saying what is missing, when there is no
cmake, no C++ compiler or no Eigen; any other configure or build failure fails it with
cmake's output.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds the C++ library and its example with CMake

ROOT = Path(__file__).resolve().parents[1]
# What a configure or build failure shows of cmake's output (its end, where the errors are).
OUTPUT_SHOWN = 20_000


def tool(name):
    """The tool installed beside this interpreter (the cmake and ninja wheels of rnnkit[test])
    if there is one, else the one on PATH, else None."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def cmeel_prefixes():
    """The cmeel prefixes of this interpreter (where the cmeel-eigen wheel puts Eigen's CMake
    config), found as CMakeLists.txt finds them: ``cmeel.prefix`` beside each sys.path entry."""
    return [p / "cmeel.prefix" for p in map(Path, filter(None, sys.path)) if (p / "cmeel.prefix").is_dir()]


def eigen_configs(prefixes):
    return [config for prefix in prefixes for config in prefix.rglob("Eigen3Config.cmake")]


def output_of(run):
    text = (run.stdout or "") + (run.stderr or "")
    return text if len(text) <= OUTPUT_SHOWN else "[...]\n" + text[-OUTPUT_SHOWN:]


CMAKE = tool("cmake")


@pytest.mark.skipif(CMAKE is None, reason="cmake is not installed (pip install .[test])")
def test_cpp_example_builds_and_checks_its_gradients(tmp_path):
    build = tmp_path / "build"
    prefixes = cmeel_prefixes()
    configure = [
        CMAKE, "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
        "-DRNNKIT_BUILD_EXAMPLES=ON", "-DRNNKIT_BUILD_PYTHON=OFF",
        # The interpreter whose site-packages may hold cmeel-eigen, when the system has no Eigen;
        # the prefixes are also given directly, in case CMake's FindPython picks another one.
        f"-DPython_EXECUTABLE={sys.executable}",
    ]
    if prefixes:
        configure.append("-DCMAKE_PREFIX_PATH=" + ";".join(map(str, prefixes)))
    ninja = tool("ninja")
    if ninja:
        configure += ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"]
    env = dict(os.environ, CMAKE_BUILD_PARALLEL_LEVEL="2")

    run = subprocess.run(configure, capture_output=True, text=True, env=env, timeout=600)
    if run.returncode != 0:
        output = output_of(run)
        if 'package configuration file provided by "Eigen3"' in output and not eigen_configs(prefixes):
            searched = ", ".join(map(str, prefixes)) or "none in sys.path"
            pytest.skip("Eigen 3.4 was not found: CMake found no system Eigen3Config.cmake and this "
                        f"interpreter has no cmeel-eigen wheel (cmeel prefixes: {searched}); "
                        "pip install cmeel-eigen, or .[test]")
        if "No CMAKE_CXX_COMPILER could be found" in output:
            pytest.skip("no C++ compiler: CMake found no CMAKE_CXX_COMPILER")
        raise AssertionError(f"cmake configure failed (exit {run.returncode}):\n$ {' '.join(configure)}\n{output}")

    command = [CMAKE, "--build", str(build), "--target", "lstm_example"]
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    assert run.returncode == 0, f"cmake build failed (exit {run.returncode}):\n$ {' '.join(command)}\n{output_of(run)}"

    run = subprocess.run([str(build / "lstm_example")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "worst relative kernel-gradient error" in run.stdout
