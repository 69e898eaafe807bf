"""Forward passes of rnnkit.ops compared against the independent NumPy float64
reference in tests/reference.py (written from the published Keras 3 / PyTorch
equations, not from rnnkit's code).

float64 results must agree to rtol = atol = 1e-12; float32 results to 1e-5 of
the float64 reference evaluated on the same (float32-rounded) inputs.

Gate arrays are only compared at steps that were actually processed (the
contract does not define what a skipped step's gates hold).
"""

import os
import sys
import zlib

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref

SEED = 20240611
TOL64 = dict(rtol=1e-12, atol=1e-12)
TOL32 = dict(rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def ops():
    import rnnkit.ops as _ops  # an ImportError here is a test error, not a skip

    return _ops


# ---------------------------------------------------------------------------
# Cell configurations
# ---------------------------------------------------------------------------
# (id, kind, options for both ops and the reference, uses peephole kernel)
CONFIGS = [
    ("srnn-tanh", "simple_rnn", dict(activation="tanh"), False),
    ("srnn-relu", "simple_rnn", dict(activation="relu"), False),
    ("srnn-sigmoid", "simple_rnn", dict(activation="sigmoid"), False),
    ("srnn-linear", "simple_rnn", dict(activation="linear"), False),
    ("srnn-hard_sigmoid", "simple_rnn", dict(activation="hard_sigmoid"), False),
    ("lstm", "lstm", dict(), False),
    ("lstm-peephole", "lstm", dict(), True),
    ("lstm-hard_sigmoid", "lstm", dict(recurrent_activation="hard_sigmoid"), False),
    ("gru-reset_after", "gru", dict(reset_after=True), False),
    ("gru-reset_before", "gru", dict(reset_after=False), False),
    ("gru-reset_after-hard_sigmoid", "gru",
     dict(reset_after=True, recurrent_activation="hard_sigmoid"), False),
]
CONFIG_IDS = [c[0] for c in CONFIGS]
# Configurations whose state stays bounded over long sequences.
BOUNDED_CONFIGS = [c for c in CONFIGS if c[2].get("activation") not in ("relu", "linear")]
# One representative per cell / variant (used where running all 11 adds nothing).
CORE_CONFIGS = [c for c in CONFIGS if c[0] in
                ("srnn-tanh", "lstm", "lstm-peephole", "gru-reset_after", "gru-reset_before")]

GATES = {"simple_rnn": ("h",), "lstm": ("i", "f", "c", "o"), "gru": ("z", "r", "h")}
N_GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}


def _rng(*key):
    return np.random.default_rng([SEED, zlib.crc32(repr(key).encode())])


def make_case(key, kind, options, peephole, N=3, T=5, F=4, H=3, bias=True, scale=0.5):
    """Random inputs / weights (normal * scale) and random initial states."""
    rng = _rng(key, N, T, F, H, bias)
    G = N_GATES[kind]
    case = {
        "x": rng.normal(size=(N, T, F)),
        "kernel": rng.normal(size=(F, G * H)) * scale,
        "recurrent_kernel": rng.normal(size=(H, G * H)) * scale,
        "h0": rng.normal(size=(N, H)) * scale,
    }
    if bias:
        if kind == "gru" and options.get("reset_after", True):
            case["bias"] = rng.normal(size=(2, G * H)) * scale
        else:
            case["bias"] = rng.normal(size=(G * H,)) * scale
    else:
        case["bias"] = None
    if kind == "lstm":
        case["c0"] = rng.normal(size=(N, H)) * scale
        if peephole:
            case["peephole_kernel"] = rng.normal(size=(3, H)) * scale
    return case


def _args(case, dtype=None):
    c = dict(case)
    if dtype is not None:
        c = {k: (None if v is None else np.asarray(v).astype(dtype)) for k, v in c.items()}
    args = (c.pop("x"), c.pop("kernel"), c.pop("recurrent_kernel"), c.pop("bias"))
    return args, c


def run_ops(ops, kind, case, options, dtype=None, **kw):
    args, states = _args(case, dtype)
    fn = getattr(ops, f"{kind}_forward")
    return fn(*args, **states, **options, **kw)


def run_ref(kind, case, options, dtype=None, **kw):
    """Reference on the same inputs (rounded to dtype first if given), in float64."""
    args, states = _args(case, dtype)
    args = tuple(None if a is None else np.asarray(a, dtype=np.float64) for a in args)
    states = {k: np.asarray(v, dtype=np.float64) for k, v in states.items()}
    fn = getattr(ref, f"{kind}_forward")
    return fn(*args, **states, **options, **kw)


def assert_matches(r, e, kind, return_sequences, tol, dtype=np.float64):
    """Compare an rnnkit result r with a reference result e."""
    N, T, H = e.sequence.shape
    out = np.asarray(r.output)
    assert out.dtype == dtype, out.dtype
    if return_sequences:
        assert out.shape == (N, T, H)
    else:
        assert out.shape == (N, H)
    np.testing.assert_allclose(out, e.output, **tol, err_msg="output")
    np.testing.assert_allclose(r.h, e.h, **tol, err_msg="final h")
    assert np.asarray(r.h).dtype == dtype
    if kind == "lstm":
        np.testing.assert_allclose(r.c, e.c, **tol, err_msg="final c")
        assert np.asarray(r.c).dtype == dtype
    else:
        assert r.c is None
    # Gates (and cell_states) at the processed steps, in processing order.
    valid = e.valid
    assert set(r.gates) == set(GATES[kind]), sorted(r.gates)
    for name in GATES[kind]:
        g = np.asarray(r.gates[name])
        assert g.shape == (N, T, H), (name, g.shape)
        np.testing.assert_allclose(g[valid], e.gates[name][valid], **tol,
                                   err_msg=f"gate {name}")
    if kind == "lstm":
        cs = np.asarray(r.cell_states)
        assert cs.shape == (N, T, H)
        np.testing.assert_allclose(cs[valid], e.cell_states[valid], **tol,
                                   err_msg="cell_states")


# Mask modes for N = 3, T = 5.
LENGTHS = np.array([5, 0, 2])            # includes 0 and T
HOLES = np.array([[1, 0, 1, 1, 0],
                  [0, 1, 0, 1, 1],
                  [1, 1, 0, 0, 1]], dtype=bool)


def mask_kwargs(mode):
    if mode == "none":
        return {}
    if mode == "lengths":
        return {"lengths": LENGTHS.copy()}
    if mode == "mask":
        return {"mask": HOLES.copy()}
    raise ValueError(mode)


# ---------------------------------------------------------------------------
# float64: every cell / variant x mask mode x direction x return_sequences
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("return_sequences", [True, False], ids=["seq", "last"])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["fwd", "bwd"])
@pytest.mark.parametrize("mask_mode", ["none", "lengths", "mask"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=CONFIG_IDS)
def test_forward_float64(ops, cfg, mask_mode, go_backwards, return_sequences):
    key, kind, options, peephole = cfg
    case = make_case(key, kind, options, peephole)
    before = {k: None if v is None else v.copy() for k, v in case.items()}
    kw = dict(go_backwards=go_backwards, return_sequences=return_sequences,
              **mask_kwargs(mask_mode))
    r = run_ops(ops, kind, case, options, **kw)
    e = run_ref(kind, case, options, **kw)
    assert_matches(r, e, kind, return_sequences, TOL64)
    for k, v in before.items():  # inputs must not be modified
        if v is not None:
            np.testing.assert_array_equal(case[k], v, err_msg=f"input {k} was modified")


@pytest.mark.parametrize("cfg", CONFIGS, ids=CONFIG_IDS)
def test_forward_without_bias(ops, cfg):
    key, kind, options, peephole = cfg
    case = make_case(key, kind, options, peephole, bias=False)
    for go_backwards in (False, True):
        kw = dict(mask=HOLES.copy(), go_backwards=go_backwards)
        assert_matches(run_ops(ops, kind, case, options, **kw),
                       run_ref(kind, case, options, **kw), kind, True, TOL64)


@pytest.mark.parametrize("cfg", CONFIGS, ids=CONFIG_IDS)
def test_default_initial_state_is_zero(ops, cfg):
    key, kind, options, peephole = cfg
    case = make_case(key, kind, options, peephole)
    case.pop("h0")
    case.pop("c0", None)
    r = run_ops(ops, kind, case, options, lengths=LENGTHS.copy())
    e = run_ref(kind, case, options, lengths=LENGTHS.copy())
    assert_matches(r, e, kind, True, TOL64)
    # a zero-length sample keeps the zero initial state
    np.testing.assert_array_equal(r.h[1], 0.0)
    np.testing.assert_array_equal(np.asarray(r.output)[1], 0.0)


@pytest.mark.parametrize("go_backwards", [False, True], ids=["fwd", "bwd"])
@pytest.mark.parametrize("cfg", CORE_CONFIGS, ids=[c[0] for c in CORE_CONFIGS])
def test_lengths_equal_prefix_mask(ops, cfg, go_backwards):
    key, kind, options, peephole = cfg
    case = make_case(key, kind, options, peephole)
    a = run_ops(ops, kind, case, options, lengths=LENGTHS.copy(), go_backwards=go_backwards)
    b = run_ops(ops, kind, case, options, mask=ref.lengths_to_mask(LENGTHS, 5),
                go_backwards=go_backwards)
    # Not required to be bitwise identical (the two paths may batch the active
    # samples differently, changing the floating-point summation order).
    np.testing.assert_allclose(a.output, b.output, **TOL64)
    np.testing.assert_allclose(a.h, b.h, **TOL64)


@pytest.mark.parametrize("cfg", CORE_CONFIGS, ids=[c[0] for c in CORE_CONFIGS])
def test_go_backwards_equals_reversed_input(ops, cfg):
    """go_backwards == running forwards on x and mask reversed along time."""
    key, kind, options, peephole = cfg
    case = make_case(key, kind, options, peephole)
    a = run_ops(ops, kind, case, options, mask=HOLES.copy(), go_backwards=True)
    rev = dict(case, x=np.ascontiguousarray(case["x"][:, ::-1]))
    b = run_ops(ops, kind, rev, options, mask=np.ascontiguousarray(HOLES[:, ::-1]))
    np.testing.assert_allclose(a.output, b.output, **TOL64)
    np.testing.assert_allclose(a.h, b.h, **TOL64)


@pytest.mark.parametrize("go_backwards", [False, True], ids=["fwd", "bwd"])
@pytest.mark.parametrize("cfg", CORE_CONFIGS, ids=[c[0] for c in CORE_CONFIGS])
def test_masked_steps_carry_state(ops, cfg, go_backwards):
    """At a skipped step the output equals the carried h; for LSTM the per-step
    cell state is the carried c (assumption: cell_states[:, s] is the state
    after step s, whether or not it was processed)."""
    key, kind, options, peephole = cfg
    case = make_case(key, kind, options, peephole)
    r = run_ops(ops, kind, case, options, mask=HOLES.copy(), go_backwards=go_backwards)
    e = run_ref(kind, case, options, mask=HOLES.copy(), go_backwards=go_backwards)
    out = np.asarray(r.output)
    valid = e.valid
    for n in range(3):
        h_prev = case["h0"][n]
        for s in range(5):
            if not valid[n, s]:
                np.testing.assert_allclose(out[n, s], h_prev, **TOL64)
            h_prev = out[n, s]
    if kind == "lstm":
        np.testing.assert_allclose(r.cell_states, e.cell_states, **TOL64)


# ---------------------------------------------------------------------------
# Edge sizes
# ---------------------------------------------------------------------------
EDGE_SHAPES = {
    "batch1": dict(N=1, T=5, F=4, H=3),
    "time1": dict(N=3, T=1, F=4, H=3),
    "long": dict(N=2, T=300, F=3, H=2),
    # Wider than the packed recurrent product's panels and register tiles, with remainders
    # in both (13 rows; 4 * 70 gate columns).
    "wide": dict(N=13, T=4, F=5, H=70),
}


def _edge_lengths(shape):
    N, T = shape["N"], shape["T"]
    if N == 1:
        return np.array([3])
    if T == 1:
        return np.array([1, 0, 1])
    if N > 2:
        return np.arange(N) % (T + 1)
    return np.array([T, 137])


@pytest.mark.parametrize("go_backwards", [False, True], ids=["fwd", "bwd"])
@pytest.mark.parametrize("use_lengths", [False, True], ids=["nomask", "lengths"])
@pytest.mark.parametrize("edge", sorted(EDGE_SHAPES))
@pytest.mark.parametrize("cfg", BOUNDED_CONFIGS, ids=[c[0] for c in BOUNDED_CONFIGS])
def test_edge_sizes(ops, cfg, edge, use_lengths, go_backwards):
    key, kind, options, peephole = cfg
    shape = EDGE_SHAPES[edge]
    case = make_case(key, kind, options, peephole, **shape)
    kw = dict(go_backwards=go_backwards)
    if use_lengths:
        kw["lengths"] = _edge_lengths(shape)
    for return_sequences in (True, False):
        r = run_ops(ops, kind, case, options, return_sequences=return_sequences, **kw)
        e = run_ref(kind, case, options, return_sequences=return_sequences, **kw)
        assert_matches(r, e, kind, return_sequences, TOL64)


@pytest.mark.parametrize("cfg", [c for c in CONFIGS if c not in BOUNDED_CONFIGS],
                         ids=[c[0] for c in CONFIGS if c not in BOUNDED_CONFIGS])
def test_edge_sizes_unbounded_activations(ops, cfg):
    """relu / linear SimpleRNN: batch 1, time 1, and T=300 with a small
    recurrent kernel so the state stays bounded."""
    key, kind, options, peephole = cfg
    for _, shape in sorted(EDGE_SHAPES.items()):
        case = make_case(key, kind, options, peephole, **shape)
        case["recurrent_kernel"] = case["recurrent_kernel"] * 0.3
        for go_backwards in (False, True):
            r = run_ops(ops, kind, case, options, go_backwards=go_backwards)
            e = run_ref(kind, case, options, go_backwards=go_backwards)
            assert_matches(r, e, kind, True, TOL64)


# ---------------------------------------------------------------------------
# float32
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("go_backwards", [False, True], ids=["fwd", "bwd"])
@pytest.mark.parametrize("mask_mode", ["none", "lengths", "mask"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=CONFIG_IDS)
def test_forward_float32(ops, cfg, mask_mode, go_backwards):
    key, kind, options, peephole = cfg
    case = make_case(key, kind, options, peephole)
    for return_sequences in (True, False):
        kw = dict(go_backwards=go_backwards, return_sequences=return_sequences,
                  **mask_kwargs(mask_mode))
        r = run_ops(ops, kind, case, options, dtype=np.float32, **kw)
        e = run_ref(kind, case, options, dtype=np.float32, **kw)
        assert_matches(r, e, kind, return_sequences, TOL32, dtype=np.float32)


@pytest.mark.parametrize("cfg", BOUNDED_CONFIGS, ids=[c[0] for c in BOUNDED_CONFIGS])
def test_forward_float32_long(ops, cfg):
    key, kind, options, peephole = cfg
    case = make_case(key, kind, options, peephole, **EDGE_SHAPES["long"])
    r = run_ops(ops, kind, case, options, dtype=np.float32)
    e = run_ref(kind, case, options, dtype=np.float32)
    assert_matches(r, e, kind, True, TOL32, dtype=np.float32)


# ---------------------------------------------------------------------------
# Dense
# ---------------------------------------------------------------------------
DENSE_ACTS = ["linear", "relu", "sigmoid", "tanh", "softmax"]


@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("act", DENSE_ACTS)
def test_dense_forward(ops, act, ndim, use_bias):
    rng = _rng("dense", act, ndim, use_bias)
    shape = (3, 4) if ndim == 2 else (3, 5, 4)
    x = rng.normal(size=shape)
    W = rng.normal(size=(4, 6))
    b = rng.normal(size=(6,)) if use_bias else None
    d = ops.dense_forward(x, W, b, activation=act)
    expected = ref.dense_forward(x, W, b, activation=act)
    out = np.asarray(d.output)
    assert out.shape == shape[:-1] + (6,)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, expected, **TOL64)
    # float32
    cast = [None if a is None else a.astype(np.float32) for a in (x, W, b)]
    d32 = ops.dense_forward(*cast, activation=act)
    out32 = np.asarray(d32.output)
    assert out32.dtype == np.float32
    expected32 = ref.dense_forward(*cast, activation=act)
    np.testing.assert_allclose(out32, expected32, **TOL32)


def test_dense_softmax_large_logits(ops):
    """softmax over the last axis must not overflow for large logits."""
    x = np.array([[1.0, 0.0], [-1.0, 2.0]]) * 400.0
    W = np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 1.0]])
    d = ops.dense_forward(x, W, activation="softmax")
    out = np.asarray(d.output)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, ref.dense_forward(x, W, activation="softmax"), **TOL64)
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, **TOL64)


# ---------------------------------------------------------------------------
# Single-step helpers
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cfg", CONFIGS, ids=CONFIG_IDS)
def test_step_helper_equals_first_step(ops, cfg, dtype):
    key, kind, options, peephole = cfg
    case = make_case(key, kind, options, peephole)
    tol = TOL64 if dtype == np.float64 else TOL32
    c = {k: (None if v is None else v.astype(dtype)) for k, v in case.items()}
    x_t = np.ascontiguousarray(c["x"][:, 0, :])
    weights = (c["kernel"], c["recurrent_kernel"], c["bias"])
    extra = dict(options)
    if kind == "lstm":
        if peephole:
            extra["peephole_kernel"] = c["peephole_kernel"]
        s = ops.lstm_step(x_t, c["h0"], c["c0"], *weights, **extra)
    else:
        s = getattr(ops, f"{kind}_step")(x_t, c["h0"], *weights, **extra)

    # The reference's first step of the full forward pass (on the same rounded inputs).
    e = run_ref(kind, case, options, dtype=dtype)
    H = case["h0"].shape[1]
    for name, val in (("output", s.output), ("h", s.h)):
        val = np.asarray(val)
        assert val.shape == (3, H) and val.dtype == dtype, (name, val.shape, val.dtype)
        np.testing.assert_allclose(val, e.sequence[:, 0], **tol, err_msg=name)
    if kind == "lstm":
        np.testing.assert_allclose(s.c, e.cell_states[:, 0], **tol, err_msg="c")
    else:
        assert s.c is None
    assert set(s.gates) == set(GATES[kind])
    for name in GATES[kind]:
        np.testing.assert_allclose(s.gates[name], e.gates[name][:, 0], **tol,
                                   err_msg=f"gate {name}")


# ---------------------------------------------------------------------------
# Saturating pre-activations and non-contiguous inputs
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("go_backwards", [False, True], ids=["fwd", "bwd"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=CONFIG_IDS)
def test_forward_float64_large_weights(ops, cfg, go_backwards):
    """Weights scaled by 2 push pre-activations into the saturated / clipped
    regions (hard_sigmoid's clip at +-3, relu's zero branch, tanh tails)."""
    key, kind, options, peephole = cfg
    case = make_case(key, kind, options, peephole, scale=2.0)
    kw = dict(mask=HOLES.copy(), go_backwards=go_backwards)
    assert_matches(run_ops(ops, kind, case, options, **kw),
                   run_ref(kind, case, options, **kw), kind, True, TOL64)


@pytest.mark.parametrize("cfg", CORE_CONFIGS, ids=[c[0] for c in CORE_CONFIGS])
def test_non_contiguous_inputs(ops, cfg):
    """Strided views and Fortran-ordered weights give the same result."""
    key, kind, options, peephole = cfg
    case = make_case(key, kind, options, peephole)
    strided = {k: None if v is None else np.asfortranarray(v) for k, v in case.items()}
    big = np.zeros((3, 10, 8))
    big[:, ::2, ::2] = case["x"]
    strided["x"] = big[:, ::2, ::2]
    assert not strided["x"].flags.c_contiguous
    kw = dict(lengths=LENGTHS.copy(), go_backwards=True)
    assert_matches(run_ops(ops, kind, strided, options, **kw),
                   run_ref(kind, case, options, **kw), kind, True, TOL64)


def test_float64_tanh_to_a_few_ulp(ops):
    """With W = I, U = 0 and no bias, SimpleRNN's output is tanh of its input: the core's float64
    tanh (its own, on a vectorized exp, with a Taylor polynomial below |x| = 1/8) agrees with
    NumPy's to 4 ulp from 1e-300 to 800, both signs, at the packet lanes and the scalar tail."""
    magnitudes = [0.0, 1e-300, 1e-8, 1e-3, 0.0625, 0.1249999, 0.125, 0.1250001, 0.3, 0.5, 1.0, 2.0, 5.0,
                  17.0, 19.1, 20.0, 40.0, 800.0]
    values = np.array([s * m for m in magnitudes for s in (1.0, -1.0)] + [0.7])  # 37 values: odd tail
    x = values.reshape(1, 1, -1)
    eye = np.eye(x.shape[-1])
    out = ops.simple_rnn_forward(x, eye, np.zeros_like(eye), None, activation="tanh").output
    np.testing.assert_allclose(out.reshape(-1), np.tanh(values), rtol=4 * np.finfo(float).eps, atol=0)
