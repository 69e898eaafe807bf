"""The kernels are built for several instruction sets and chosen at import: every build this
CPU runs gives the same results (1e-6 relative in float32, 1e-12 in float64), RNNKIT_ISA
forces a lower one, and config.info() reports what runs."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import rnnkit
from rnnkit import _core, config

# Forward and backward of every cell and Dense on fixed inputs, run in a child process with
# RNNKIT_ISA set; the results come back as an .npz file.
CHILD = r"""
import sys
import numpy as np
from rnnkit import _core, ops
rng = np.random.default_rng(5)
out = {"isa": np.array(_core.isa())}
# The second size is past the packed recurrent product's panels, tiles and depth blocks.
for (N, T, F, H), dtype in [(s, d) for s in ((5, 9, 7, 12), (13, 3, 6, 70)) for d in (np.float32, np.float64)]:
    x = rng.standard_normal((N, T, F)).astype(dtype)
    mask = rng.random((N, T)) < 0.8
    for cell, gates in (("simple_rnn", 1), ("lstm", 4), ("gru", 3)):
        args = dict(kernel=(rng.standard_normal((F, gates * H)) * 0.3).astype(dtype),
                    recurrent_kernel=(rng.standard_normal((H, gates * H)) * 0.3).astype(dtype),
                    bias=rng.standard_normal((2, gates * H) if cell == "gru" else (gates * H,)).astype(dtype))
        result = getattr(ops, f"{cell}_forward")(x, **args, mask=mask)
        grads = result.backward(rng.standard_normal(result.output.shape).astype(dtype))
        key = f"{cell}-{H}-{np.dtype(dtype).name}"
        out[key + "-output"] = result.output
        for name, grad in grads.items():
            out[f"{key}-d{name}"] = grad
    for activation in ("linear", "tanh", "softmax"):
        kernel, bias = rng.standard_normal((F, H)).astype(dtype), rng.standard_normal(H).astype(dtype)
        dense = ops.dense_forward(x, kernel, bias, activation=activation)
        key = f"dense-{activation}-{H}-{np.dtype(dtype).name}"
        out[key + "-output"] = dense.output
        for name, grad in dense.backward(rng.standard_normal(dense.output.shape).astype(dtype)).items():
            out[f"{key}-d{name}"] = grad
np.savez(sys.argv[1], **out)
"""


def run_with_isa(isa, path):
    env = dict(os.environ, RNNKIT_ISA=isa) if isa else {k: v for k, v in os.environ.items() if k != "RNNKIT_ISA"}
    return subprocess.run([sys.executable, "-c", CHILD, str(path)], env=env, capture_output=True, text=True)


def test_info_reports_the_kernels_in_use():
    info = config.info()
    assert set(info) == {"isa", "runnable_isas", "built_isas", "blas", "threads", "cpu", "machine"}
    assert info["isa"] in info["runnable_isas"] and set(info["runnable_isas"]) <= set(info["built_isas"])
    if "RNNKIT_ISA" not in os.environ:
        assert info["isa"] == info["runnable_isas"][0]  # the best this CPU runs
    assert info["threads"] == rnnkit.config.get_num_threads() >= 1
    assert info["blas"]
    json.dumps(info)  # plain data, for a report


def test_every_instruction_set_this_cpu_runs_gives_the_same_results(tmp_path):
    runnable = _core.runnable_isas()
    results = {}
    for isa in runnable:
        done = run_with_isa(isa, tmp_path / f"{isa}.npz")
        assert done.returncode == 0, done.stderr[-3000:]
        results[isa] = dict(np.load(tmp_path / f"{isa}.npz"))
        assert str(results[isa].pop("isa")) == isa
    best = results[runnable[0]]
    for isa in runnable[1:]:
        assert results[isa].keys() == best.keys()
        for key, expected in best.items():
            float32 = "float32" in key
            scale = np.abs(expected).max()
            np.testing.assert_allclose(results[isa][key], expected, rtol=1e-6 if float32 else 1e-12,
                                       atol=(1e-6 if float32 else 1e-12) * scale, err_msg=f"{isa}: {key}")
    if len(runnable) < 2:
        pytest.skip(f"this CPU runs only {runnable}: nothing to compare")


@pytest.mark.parametrize("isa, message", [("pentium", "is not one of the instruction sets this build has"),
                                          ("avx512", "this CPU cannot run it")])
def test_an_instruction_set_that_cannot_run_is_refused_at_import(isa, message, tmp_path):
    if isa in _core.runnable_isas() or (isa == "avx512" and isa not in _core.built_isas()):
        pytest.skip(f"{isa} runs here")
    done = run_with_isa(isa, tmp_path / "x.npz")
    assert done.returncode != 0
    assert "ImportError" in done.stderr and f"RNNKIT_ISA='{isa}'" in done.stderr and message in done.stderr
