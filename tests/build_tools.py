"""What the tests that run CMake share: finding the tools, Eigen and pybind11 as the package
build finds them, configuring, and showing a failure's output.

Eigen is found as CMakeLists.txt finds it: the system's Eigen 3.4 if CMake finds one, otherwise
the headers and CMake config the cmeel-eigen wheel installs under ``<site-packages>/cmeel.prefix``.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What a failure shows of a tool's output (its end, where the errors are).
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


def output_of(run):
    text = (run.stdout or "") + (run.stderr or "")
    return text if len(text) <= OUTPUT_SHOWN else "[...]\n" + text[-OUTPUT_SHOWN:]


CMAKE = tool("cmake")


def configure(source, build, *definitions, prefixes=()):
    """Runs ``cmake -S source -B build -D...`` (with Ninja when installed) and returns the
    completed process. Skips the test, saying what is missing, when CMake finds no Eigen or no
    C++ compiler; any other failure fails it with CMake's output."""
    if CMAKE is None:
        pytest.skip("cmake is not installed (pip install .[test])")
    eigen = cmeel_prefixes()
    command = [CMAKE, "-S", str(source), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
               # The interpreter whose site-packages may hold cmeel-eigen, when the system has no
               # Eigen; the prefixes are also given directly, in case FindPython picks another one.
               f"-DPython_EXECUTABLE={sys.executable}", *definitions]
    if eigen or prefixes:
        command.append("-DCMAKE_PREFIX_PATH=" + ";".join(map(str, [*eigen, *prefixes])))
    ninja = tool("ninja")
    if ninja:
        command += ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"]
    run = subprocess.run(command, capture_output=True, text=True, env=build_environment(), timeout=600)
    if run.returncode != 0:
        output = output_of(run)
        if 'package configuration file provided by "Eigen3"' in output and not any(
                prefix.rglob("Eigen3Config.cmake") for prefix in eigen):
            searched = ", ".join(map(str, eigen)) or "none in sys.path"
            pytest.skip("Eigen 3.4 was not found: CMake found no system Eigen3Config.cmake and this "
                        f"interpreter has no cmeel-eigen wheel (cmeel prefixes: {searched}); "
                        "pip install cmeel-eigen, or .[test]")
        if "No CMAKE_CXX_COMPILER could be found" in output:
            pytest.skip("no C++ compiler: CMake found no CMAKE_CXX_COMPILER")
        raise AssertionError(f"cmake configure failed (exit {run.returncode}):\n$ {' '.join(command)}\n{output}")
    return run


def build_environment():
    return dict(os.environ, CMAKE_BUILD_PARALLEL_LEVEL="2")


def build_target(build, target):
    """``cmake --build build --target target``; fails the test with the build's output."""
    command = [CMAKE, "--build", str(build), "--target", target]
    run = subprocess.run(command, capture_output=True, text=True, env=build_environment(), timeout=1800)
    assert run.returncode == 0, f"cmake build failed (exit {run.returncode}):\n$ {' '.join(command)}\n{output_of(run)}"
