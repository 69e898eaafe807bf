"""The kernel tests under AddressSanitizer and UndefinedBehaviorSanitizer (tools/sanitize.sh).

The script builds its own instrumented copy of rnnkit in build/sanitize/ (four to six minutes on two
cores from scratch, about one when re-run with no C++ change) and runs the kernel tests against it,
so it is opt-in: set RNNKIT_SANITIZE=1 to run it here, or run the script directly.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds the library with sanitizers

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "sanitize.sh"

# A cold run (venv, build, tests) takes four to six minutes on two cores; an hour is generous.
TIMEOUT = 3600

REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


@pytest.mark.skipif(os.environ.get("RNNKIT_SANITIZE") != "1",
                    reason="sanitizer run is opt-in: RNNKIT_SANITIZE=1 python -m pytest tests/test_sanitizers.py "
                           "(or bash tools/sanitize.sh)")
@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("g++") is None,
                    reason="tools/sanitize.sh needs Linux and GCC (g++) for libasan/libubsan")
def test_kernel_tests_pass_under_asan_and_ubsan():
    env = dict(os.environ)
    # The venv is made from this interpreter, so the sanitized build matches its Python version.
    env.setdefault("PYTHON", sys.executable)
    # Nothing of a sanitized parent process leaks into the script (it sets its own).
    for name in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS"):
        env.pop(name, None)
    run = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=TIMEOUT)
    output = run.stdout + run.stderr
    tail = output[-20000:]
    for report in REPORTS:
        assert report not in output, f"sanitizer report ({report!r}) in tools/sanitize.sh's output:\n{tail}"
    assert run.returncode == 0, f"tools/sanitize.sh exited {run.returncode}:\n{tail}"
    assert "sanitize.sh: OK" in run.stderr, tail
