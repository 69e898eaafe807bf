#!/usr/bin/env bash
# Build rnnkit's C++ core (and its pybind11 module) with AddressSanitizer and
# UndefinedBehaviorSanitizer, then run the kernel tests against that build.
#
# Usage:   bash tools/sanitize.sh [extra pytest arguments]
#
# Works from a fresh checkout: everything it makes lives under build/sanitize/ (ignored by git),
# apart from the normal build in build/<wheel tag> and the project's .venv, which it never
# touches. Exits non-zero if the build fails, a test fails, or any sanitizer report appears
# (in any process, including the children some tests start).
#
# Environment knobs (all optional):
#   PYTHON                    interpreter to make the venv from (default: python3)
#   RNNKIT_SANITIZE_DIR       work directory (default: <repo>/build/sanitize)
#   RNNKIT_SANITIZE_VENV      venv to create/reuse (default: $RNNKIT_SANITIZE_DIR/venv)
#   RNNKIT_SANITIZE_ISAS      kernel builds to make, comma-separated (default: the best this CPU
#                             runs, avx512, avx2 or x86-64-v2; see RNNKIT_KERNEL_ISAS in CMakeLists.txt)
#   RNNKIT_SANITIZE_OPT       optimisation/debug flags (default: -O1 -g1)
#   CXX                       C++ compiler (default: g++; the runtime lookup below is GCC's)
#
# Requires GCC (libasan/libubsan as shared runtimes) on Linux. Re-running reuses the venv and
# the CMake build directory, so only changed sources are recompiled.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3}"
CXX="${CXX:-g++}"
export CXX  # CMake picks the same compiler whose runtimes are preloaded below
WORK="${RNNKIT_SANITIZE_DIR:-$ROOT/build/sanitize}"
VENV="${RNNKIT_SANITIZE_VENV:-$WORK/venv}"
has_flags() { local flag; for flag in "$@"; do grep -qw "$flag" /proc/cpuinfo 2>/dev/null || return 1; done; }
if has_flags avx512f avx512bw avx512vl avx512dq avx512cd; then DEFAULT_ISA=avx512
elif has_flags avx2 fma; then DEFAULT_ISA=avx2
else DEFAULT_ISA=x86-64-v2; fi
ISAS="${RNNKIT_SANITIZE_ISAS:-$DEFAULT_ISA}"
LOGS="$WORK/logs"          # sanitizer reports, one file per reporting process
PYTEST_LOG="$WORK/pytest.log"

# The kernel tests: the numerical kernels, their gradients, argument checking (including the
# fuzzing child process of test_bad_input.py), threading (the workers, forked children),
# the optimizers' update rules (Keras' and PyTorch's), the activations, the state gradients of
# model.trace, golden values and property tests.
KERNEL_TESTS=(
  tests/test_forward_reference.py
  tests/test_activations.py
  tests/test_traces.py
  tests/test_optimizers_more.py
  tests/test_torch_optimizer_parity.py
  tests/test_gradients.py
  tests/test_step_sequence.py
  tests/test_recurrent_dropout.py
  tests/test_bad_input.py
  tests/test_threads.py
  tests/test_optimizer_core.py
  tests/test_optimizers.py
  tests/test_golden.py
  tests/test_reproducible.py
  tests/test_properties.py
)

# Compile and link flags. -fno-sanitize-recover makes every UB finding fatal (with halt_on_error
# below) instead of a line that scrolls past. The optimisation level replaces the build type's
# (-O2 -g): -O1, ASan's recommendation, with line tables only (-g1, enough for file:line in
# reports) compiles the Eigen-heavy sources about twice as fast as -O2 -g under the sanitizers.
SAN_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
SAN_LDFLAGS="-fsanitize=address,undefined"
OPT_FLAGS="${RNNKIT_SANITIZE_OPT:--O1 -g1} -DNDEBUG"

log() { printf '\n== sanitize.sh: %s\n' "$*" >&2; }
START=$SECONDS

# --- 1. The venv ------------------------------------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating venv $VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
fi
VPY="$VENV/bin/python"

# Build requirements are installed into the venv and the build runs without isolation, so the
# CMake cache keeps pointing at the same Eigen/OpenBLAS/pybind11 and re-runs are incremental.
# Keep this list in step with [build-system] requires in pyproject.toml; cmake and ninja are
# installed too so the build does not depend on the machine's.
log "installing build and test requirements"
"$VPY" -m pip install -q \
  "scikit-build-core>=0.10" "pybind11>=2.12" "cmeel-eigen>=3.4,<3.5" "scipy-openblas32>=0.3.27" \
  "cmake>=3.18" ninja "numpy>=1.22" "pytest>=7" "hypothesis>=6"

# --- 2. The sanitized build ---------------------------------------------------------------------
# RelWithDebInfo with its flags replaced by OPT_FLAGS (CMakeLists.txt adds -O3 only to Release).
# The build directory is separate from the normal build/<wheel tag>, so the two never reuse each
# other's objects.
log "building rnnkit with ASan+UBSan (kernels: $ISAS)"
"$VPY" -m pip install -q --no-build-isolation --no-deps --force-reinstall \
  -Cbuild-dir="$WORK/cmake-build" \
  -Ccmake.build-type=RelWithDebInfo \
  -Ccmake.define.RNNKIT_KERNEL_ISAS="${ISAS//,/;}" \
  -Ccmake.define.CMAKE_CXX_FLAGS="$SAN_FLAGS" \
  -Ccmake.define.CMAKE_CXX_FLAGS_RELWITHDEBINFO="$OPT_FLAGS" \
  -Ccmake.define.CMAKE_SHARED_LINKER_FLAGS="$SAN_LDFLAGS" \
  -Ccmake.define.CMAKE_MODULE_LINKER_FLAGS="$SAN_LDFLAGS" \
  -Ccmake.define.CMAKE_EXE_LINKER_FLAGS="$SAN_LDFLAGS" \
  "$ROOT"

# The installed module must really be instrumented: it needs the ASan runtime. (Found by path:
# importing it without the runtime preloaded, as below, fails by design.)
CORE_SO="$("$VPY" -c 'import glob, importlib.util as u, os
print(*glob.glob(os.path.join(os.path.dirname(u.find_spec("rnnkit").origin), "_core*.so"))[:1])' 2>/dev/null || true)"
if [[ -z "$CORE_SO" ]] || ! readelf -d "$CORE_SO" | grep -q 'libasan'; then
  echo "sanitize.sh: the installed module ${CORE_SO:-(not found)} is not linked against libasan" >&2
  exit 1
fi
log "instrumented module: $CORE_SO ($(( SECONDS - START )) s so far)"

# --- 3. The sanitizer runtime -------------------------------------------------------------------
# Python itself is not instrumented, so the GCC runtimes must be loaded first, via LD_PRELOAD
# (ASan refuses to start otherwise). print-file-name echoes the bare name when it finds nothing.
LIBASAN="$("$CXX" -print-file-name=libasan.so)"
LIBUBSAN="$("$CXX" -print-file-name=libubsan.so)"
for lib in "$LIBASAN" "$LIBUBSAN"; do
  if [[ "$lib" != /* || ! -e "$lib" ]]; then
    echo "sanitize.sh: $CXX has no shared sanitizer runtime ($lib); GCC with libasan/libubsan is needed" >&2
    exit 1
  fi
done

rm -rf "$LOGS" && mkdir -p "$LOGS"
# detect_leaks=0: CPython keeps interned objects and module state until exit by design.
# halt_on_error / -fno-sanitize-recover: the first finding ends the process (non-zero exit).
# allocator_may_return_null=1: an impossible malloc returns NULL (so Eigen and the binding
#   raise bad_alloc -> MemoryError as in a normal build) instead of ASan aborting the process.
# log_path (ASan only): ASan reports also go to files, one per process, so a report from a
#   test's child process (test_bad_input.py's fuzzer, whose stderr the test captures) is seen
#   even when the test prints only part of it. GCC's UBSan runtime ignores log_path next to
#   ASan and always writes to stderr: hence pytest's --capture=sys below.
# PYTHONMALLOC=malloc: Python objects come from malloc too, where ASan can see them.
SAN_ENV=(
  "LD_PRELOAD=$LIBASAN:$LIBUBSAN${LD_PRELOAD:+:$LD_PRELOAD}"
  "ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=0:allocator_may_return_null=1:log_path=$LOGS/asan"
  "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
  "PYTHONMALLOC=malloc"
)

# Report patterns: ASan errors, and UBSan's "file:line:col: runtime error: ..." lines.
REPORT_RE='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer'

# Pre-flight: prove that findings in a library loaded into Python are caught and end up where
# the verdict below looks, so a silent misconfiguration cannot turn into a green run: a
# deliberate one-element heap overflow (ASan, to the log file) and a signed overflow (UBSan,
# to stderr), each in its own Python process that must die of it.
CANARY_DIR="$WORK/canary"
rm -rf "$CANARY_DIR" && mkdir -p "$CANARY_DIR"
cat > "$CANARY_DIR/canary.cpp" <<'EOF'
#include <climits>
#include <cstdlib>
extern "C" int rnnkit_asan_canary(int i) {
  int* p = static_cast<int*>(std::malloc(4 * sizeof(int)));
  p[i] = 1;  // i == 4 writes one element past the end
  int r = p[0];
  std::free(p);
  return r;
}
extern "C" int rnnkit_ubsan_canary(int i) { return i + INT_MAX; }  // i > 0 overflows
EOF
# shellcheck disable=SC2086  # SAN_FLAGS is a list of flags
"$CXX" -shared -fPIC $SAN_FLAGS -g1 "$CANARY_DIR/canary.cpp" -o "$CANARY_DIR/canary.so"
canary() {  # canary FUNCTION: run it in a sanitized Python (which must die), stderr to FUNCTION.err
  ! env "${SAN_ENV[@]}" ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:log_path=$CANARY_DIR/asan" \
    "$VPY" -c "import ctypes, sys; ctypes.CDLL(sys.argv[1]).$1(4)" "$CANARY_DIR/canary.so" \
    2> "$CANARY_DIR/$1.err"
}
if ! canary rnnkit_asan_canary \
   || ! cat "$CANARY_DIR"/asan.* 2>/dev/null | grep -q 'ERROR: AddressSanitizer: heap-buffer-overflow'; then
  echo "sanitize.sh: pre-flight failed: a deliberate heap overflow went unreported" >&2
  exit 1
fi
if ! canary rnnkit_ubsan_canary \
   || ! grep -q 'runtime error: signed integer overflow' "$CANARY_DIR/rnnkit_ubsan_canary.err"; then
  echo "sanitize.sh: pre-flight failed: a deliberate signed overflow went unreported" >&2
  exit 1
fi
rm -rf "$CANARY_DIR"
log "pre-flight: ASan and UBSan catch deliberate bugs in a library loaded into Python"

# --- 4. The kernel tests under the sanitizers ---------------------------------------------------
TESTS=()
for t in "${KERNEL_TESTS[@]}"; do
  if [[ -f "$t" ]]; then TESTS+=("$t"); else echo "sanitize.sh: skipping missing $t" >&2; fi
done
log "running ${#TESTS[@]} kernel test files under ASan+UBSan"
set +e
# The venv's installed (instrumented) rnnkit is imported: python/ is not on sys.path, and the
# tests/ directory is put there by pytest for its helpers (cells.py, reference.py, ...).
# --capture=sys: pytest captures print() but not file descriptor 2, so a sanitizer report from
# this process reaches the log even though the process dies before pytest could show it.
env "${SAN_ENV[@]}" "$VPY" -m pytest -q -ra -p no:cacheprovider --capture=sys --durations=5 \
  "${TESTS[@]}" "$@" 2>&1 | tee "$PYTEST_LOG"
PYTEST_RC=${PIPESTATUS[0]}
set -e

# --- 5. Verdict -----------------------------------------------------------------------------------
FOUND=0
shopt -s nullglob
REPORTS=("$LOGS"/*)
shopt -u nullglob
if (( ${#REPORTS[@]} > 0 )); then
  FOUND=1
  echo >&2
  echo "sanitize.sh: ${#REPORTS[@]} sanitizer report file(s) in $LOGS:" >&2
  for f in "${REPORTS[@]}"; do
    echo "---- $f" >&2
    head -n 80 "$f" >&2
  done
fi
if grep -Eq "$REPORT_RE" "$PYTEST_LOG"; then
  FOUND=1
  echo "sanitize.sh: sanitizer report lines in the test output:" >&2
  grep -E "$REPORT_RE" "$PYTEST_LOG" | head -n 20 >&2
fi

ELAPSED=$(( SECONDS - START ))
if (( FOUND )); then
  echo "sanitize.sh: FAILED: sanitizer findings (pytest exit $PYTEST_RC, ${ELAPSED} s)" >&2
  exit 1
fi
if (( PYTEST_RC != 0 )); then
  echo "sanitize.sh: FAILED: pytest exited $PYTEST_RC under the sanitizers (${ELAPSED} s)" >&2
  exit "$PYTEST_RC"
fi
echo "sanitize.sh: OK: no sanitizer findings (${ELAPSED} s)" >&2
