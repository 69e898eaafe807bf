"""Golden-number tests for rnnkit's forward passes.

Tiny cases with constant weights (every kernel entry 0.1, every recurrent
kernel entry 0.2) and a bias that differs per gate block and per unit, so that
reading the gate blocks in the wrong order changes the answer.  Because the
weights are constant, every column of x_t W equals 0.1 * sum(x_t) and every
column of h U equals 0.2 * sum(h); the expected values are then a few lines of
scalar arithmetic (math.exp / math.tanh) written out below -- deliberately NOT
the NumPy reference in reference.py.  The numbers that arithmetic produced are
also frozen as literals, and both the arithmetic and the reference are checked
against the literals.

Each hand computation is also re-run with the bias blocks permuted (i.e. what
an implementation reading the gates in another order would compute) to prove
the case actually discriminates gate order.
"""

import itertools
import math
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref

TOL = dict(rtol=1e-12, atol=1e-12)


@pytest.fixture(scope="module")
def ops():
    import rnnkit.ops as _ops  # an ImportError here is a test error, not a skip

    return _ops


# ---------------------------------------------------------------------------
# Scalar building blocks
# ---------------------------------------------------------------------------
def sig(v):
    return 1.0 / (1.0 + math.exp(-v))


def hsig(v):  # Keras 3 hard_sigmoid
    return min(1.0, max(0.0, v / 6.0 + 0.5))


KERNEL_VALUE = 0.1
RECURRENT_VALUE = 0.2


def const_weights(F, H, G):
    return (np.full((F, G * H), KERNEL_VALUE), np.full((H, G * H), RECURRENT_VALUE))


# Two time steps, one sample, F = 2, H = 2.
XS = [[1.0, -0.5], [0.5, 2.0]]          # sum(x_0) = 0.5, sum(x_1) = 2.5


def x_array():
    return np.array([XS], dtype=np.float64)          # (1, 2, 2)


# ---------------------------------------------------------------------------
# LSTM (gate order i, f, c, o)
# ---------------------------------------------------------------------------
LSTM_B = [[0.5, 0.3],     # i block
          [-0.4, 1.0],    # f block
          [0.2, -0.6],    # c block
          [0.7, -0.2]]    # o block
LSTM_H0 = [0.1, -0.3]
LSTM_C0 = [0.5, -0.25]
LSTM_P = [[0.3, -0.1],    # input-gate peephole   (uses c_{t-1})
          [-0.2, 0.4],    # forget-gate peephole  (uses c_{t-1})
          [0.5, 0.25]]    # output-gate peephole  (uses the NEW c_t)


def lstm_hand(b, P=None, ra=sig, o_uses_new_c=True):
    """Scalar LSTM over XS from (LSTM_H0, LSTM_C0) with constant weights."""
    h, c = list(LSTM_H0), list(LSTM_C0)
    outs, cells, gates = [], [], []
    for x in XS:
        sx = KERNEL_VALUE * sum(x)          # each column of x_t W
        sh = RECURRENT_VALUE * sum(h)       # each column of h_{t-1} U
        step = {"i": [], "f": [], "c": [], "o": []}
        new_h, new_c = [], []
        for j in range(2):
            pi = P[0][j] * c[j] if P else 0.0
            pf = P[1][j] * c[j] if P else 0.0
            i = ra(sx + sh + b[0][j] + pi)
            f = ra(sx + sh + b[1][j] + pf)
            g = math.tanh(sx + sh + b[2][j])
            cj = f * c[j] + i * g
            po = (P[2][j] * (cj if o_uses_new_c else c[j])) if P else 0.0
            o = ra(sx + sh + b[3][j] + po)
            new_h.append(o * math.tanh(cj))
            new_c.append(cj)
            for k, v in zip("ifco", (i, f, g, o)):
                step[k].append(v)
        h, c = new_h, new_c
        outs.append(h)
        cells.append(c)
        gates.append(step)
    return outs, cells, gates


# Frozen output of lstm_hand: (output sequence, final c).
LSTM_GOLDEN = {
    "plain": (
        [[0.2142428269394973, -0.20521805227766893],
         [0.2990674493844346, -0.2727820097813379]],
        [0.4410573871524083, -0.5926409662681393],
    ),
    "peephole": (
        [[0.22239803846371498, -0.1910351705309085],
         [0.3199890321521506, -0.24845434797759608]],
        [0.44574938660512287, -0.5759056499746688],
    ),
    "hard_sigmoid": (
        [[0.20170341282505416, -0.20119715694280382],
         [0.26385204800499856, -0.24456051977225843]],
        [0.42457504460028134, -0.5243972569449398],
    ),
}
LSTM_VARIANTS = {
    "plain": dict(hand=dict(), api=dict()),
    "peephole": dict(hand=dict(P=LSTM_P), api=dict(peephole_kernel=np.array(LSTM_P))),
    "hard_sigmoid": dict(hand=dict(ra=hsig), api=dict(recurrent_activation="hard_sigmoid")),
}


def _lstm_api_args():
    W, U = const_weights(2, 2, 4)
    b = np.array(LSTM_B).reshape(-1)          # [i0 i1 f0 f1 c0 c1 o0 o1]
    return W, U, b


@pytest.mark.parametrize("variant", sorted(LSTM_VARIANTS))
def test_lstm_hand_arithmetic_matches_frozen(variant):
    outs, cells, _ = lstm_hand(LSTM_B, **LSTM_VARIANTS[variant]["hand"])
    gold_out, gold_c = LSTM_GOLDEN[variant]
    np.testing.assert_allclose(outs, gold_out, rtol=0, atol=1e-15)
    np.testing.assert_allclose(cells[-1], gold_c, rtol=0, atol=1e-15)


@pytest.mark.parametrize("variant", sorted(LSTM_VARIANTS))
def test_lstm_golden_discriminates_gate_order(variant):
    kw = LSTM_VARIANTS[variant]["hand"]
    good, _, _ = lstm_hand(LSTM_B, **kw)
    for perm in itertools.permutations(range(4)):
        if perm == (0, 1, 2, 3):
            continue
        bad, _, _ = lstm_hand([LSTM_B[p] for p in perm], **kw)
        assert np.max(np.abs(np.subtract(bad, good))) > 1e-3, perm
    if variant == "peephole":
        # the output peephole on c_{t-1} instead of c_t must give a different answer
        bad, _, _ = lstm_hand(LSTM_B, o_uses_new_c=False, **kw)
        assert np.max(np.abs(np.subtract(bad, good))) > 1e-3
        # the peephole rows are distinguishable too
        for perm in itertools.permutations(range(3)):
            if perm != (0, 1, 2):
                bad, _, _ = lstm_hand(LSTM_B, P=[LSTM_P[p] for p in perm])
                assert np.max(np.abs(np.subtract(bad, good))) > 1e-3, perm


@pytest.mark.parametrize("variant", sorted(LSTM_VARIANTS))
def test_lstm_reference_matches_golden(variant):
    W, U, b = _lstm_api_args()
    r = ref.lstm_forward(x_array(), W, U, b, h0=np.array([LSTM_H0]),
                         c0=np.array([LSTM_C0]), **LSTM_VARIANTS[variant]["api"])
    gold_out, gold_c = LSTM_GOLDEN[variant]
    np.testing.assert_allclose(r.output[0], gold_out, **TOL)
    np.testing.assert_allclose(r.c[0], gold_c, **TOL)


@pytest.mark.parametrize("variant", sorted(LSTM_VARIANTS))
def test_lstm_golden(ops, variant):
    W, U, b = _lstm_api_args()
    r = ops.lstm_forward(x_array(), W, U, b, h0=np.array([LSTM_H0]),
                         c0=np.array([LSTM_C0]), **LSTM_VARIANTS[variant]["api"])
    gold_out, gold_c = LSTM_GOLDEN[variant]
    _, cells, gates = lstm_hand(LSTM_B, **LSTM_VARIANTS[variant]["hand"])
    np.testing.assert_allclose(r.output[0], gold_out, **TOL)
    np.testing.assert_allclose(r.h[0], gold_out[-1], **TOL)
    np.testing.assert_allclose(r.c[0], gold_c, **TOL)
    np.testing.assert_allclose(r.cell_states[0], cells, **TOL)
    for k in "ifco":
        np.testing.assert_allclose(r.gates[k][0], [g[k] for g in gates], **TOL,
                                   err_msg=f"gate {k}")


# ---------------------------------------------------------------------------
# GRU (gate order z, r, h), both reset_after variants
# ---------------------------------------------------------------------------
GRU_B_IN = [[0.3, -0.2],      # z block
            [0.5, 0.1],       # r block
            [-0.4, 0.6]]      # h block
GRU_B_REC = [[0.1, 0.2],
             [-0.3, 0.4],
             [0.25, -0.15]]
GRU_H0 = [0.4, -0.7]


def gru_hand(b_in, b_rec, reset_after, ra=sig):
    """Scalar GRU over XS from GRU_H0 with constant weights.

    reset_after=False uses b_in as the single (3H,) bias and ignores b_rec.
    """
    h = list(GRU_H0)
    outs, gates = [], []
    for x in XS:
        sx = KERNEL_VALUE * sum(x)          # each column of x_t W
        sh = RECURRENT_VALUE * sum(h)       # each column of h_{t-1} U
        if reset_after:
            z = [ra(sx + b_in[0][j] + sh + b_rec[0][j]) for j in range(2)]
            r = [ra(sx + b_in[1][j] + sh + b_rec[1][j]) for j in range(2)]
            hh = [math.tanh(sx + b_in[2][j] + r[j] * (sh + b_rec[2][j])) for j in range(2)]
        else:
            z = [ra(sx + b_in[0][j] + sh) for j in range(2)]
            r = [ra(sx + b_in[1][j] + sh) for j in range(2)]
            # (r * h_{t-1}) U_h: every column is 0.2 * sum_k r_k h_k
            rh = RECURRENT_VALUE * sum(r[k] * h[k] for k in range(2))
            hh = [math.tanh(sx + b_in[2][j] + rh) for j in range(2)]
        h = [z[j] * h[j] + (1.0 - z[j]) * hh[j] for j in range(2)]
        outs.append(h)
        gates.append({"z": z, "r": r, "h": hh})
    return outs, gates


# Frozen output sequences of gru_hand.
GRU_GOLDEN = {
    "reset_after": [[0.14115387950449995, -0.10829201207404252],
                    [0.09536414962797266, 0.21662065756927631]],
    "reset_before": [[0.07596526208383411, -0.006516512392355456],
                     [-0.0021687299069353405, 0.3335485349500316]],
    "reset_after_hard_sigmoid": [[0.1198762068186863, -0.10615915427389438],
                                 [0.07119678451547609, 0.23541454361668102]],
}
GRU_VARIANTS = {
    "reset_after": dict(hand=dict(reset_after=True), api=dict(reset_after=True)),
    "reset_before": dict(hand=dict(reset_after=False), api=dict(reset_after=False)),
    "reset_after_hard_sigmoid": dict(
        hand=dict(reset_after=True, ra=hsig),
        api=dict(reset_after=True, recurrent_activation="hard_sigmoid")),
}


def _gru_api_args(reset_after):
    W, U = const_weights(2, 2, 3)
    if reset_after:
        b = np.stack([np.array(GRU_B_IN).reshape(-1), np.array(GRU_B_REC).reshape(-1)])
    else:
        b = np.array(GRU_B_IN).reshape(-1)
    return W, U, b


@pytest.mark.parametrize("variant", sorted(GRU_VARIANTS))
def test_gru_hand_arithmetic_matches_frozen(variant):
    outs, _ = gru_hand(GRU_B_IN, GRU_B_REC, **GRU_VARIANTS[variant]["hand"])
    np.testing.assert_allclose(outs, GRU_GOLDEN[variant], rtol=0, atol=1e-15)


@pytest.mark.parametrize("variant", sorted(GRU_VARIANTS))
def test_gru_golden_discriminates_gate_order_and_variant(variant):
    kw = GRU_VARIANTS[variant]["hand"]
    good, _ = gru_hand(GRU_B_IN, GRU_B_REC, **kw)
    for perm in itertools.permutations(range(3)):
        if perm == (0, 1, 2):
            continue
        bad, _ = gru_hand([GRU_B_IN[p] for p in perm], [GRU_B_REC[p] for p in perm], **kw)
        assert np.max(np.abs(np.subtract(bad, good))) > 1e-3, perm
    if kw["reset_after"]:
        # swapping the input and recurrent bias rows must matter
        bad, _ = gru_hand(GRU_B_REC, GRU_B_IN, **kw)
        assert np.max(np.abs(np.subtract(bad, good))) > 1e-3
    # the two variants give different numbers on this case (same b_in, zero b_rec)
    a, _ = gru_hand(GRU_B_IN, [[0.0, 0.0]] * 3, reset_after=True)
    c, _ = gru_hand(GRU_B_IN, [[0.0, 0.0]] * 3, reset_after=False)
    assert np.max(np.abs(np.subtract(a, c))) > 1e-3


@pytest.mark.parametrize("variant", sorted(GRU_VARIANTS))
def test_gru_reference_matches_golden(variant):
    api = GRU_VARIANTS[variant]["api"]
    W, U, b = _gru_api_args(api["reset_after"])
    r = ref.gru_forward(x_array(), W, U, b, h0=np.array([GRU_H0]), **api)
    np.testing.assert_allclose(r.output[0], GRU_GOLDEN[variant], **TOL)


@pytest.mark.parametrize("variant", sorted(GRU_VARIANTS))
def test_gru_golden(ops, variant):
    api = GRU_VARIANTS[variant]["api"]
    W, U, b = _gru_api_args(api["reset_after"])
    r = ops.gru_forward(x_array(), W, U, b, h0=np.array([GRU_H0]), **api)
    _, gates = gru_hand(GRU_B_IN, GRU_B_REC, **GRU_VARIANTS[variant]["hand"])
    np.testing.assert_allclose(r.output[0], GRU_GOLDEN[variant], **TOL)
    np.testing.assert_allclose(r.h[0], GRU_GOLDEN[variant][-1], **TOL)
    assert r.c is None
    for k in "zrh":
        np.testing.assert_allclose(r.gates[k][0], [g[k] for g in gates], **TOL,
                                   err_msg=f"gate {k}")


def test_gru_reset_after_zero_recurrent_bias_differs_from_reset_before(ops):
    """reset_after=True with b_rec = 0 is still a different cell from reset_after=False."""
    W, U = const_weights(2, 2, 3)
    b_in = np.array(GRU_B_IN).reshape(-1)
    a = ops.gru_forward(x_array(), W, U, np.stack([b_in, np.zeros(6)]),
                        h0=np.array([GRU_H0]), reset_after=True)
    c = ops.gru_forward(x_array(), W, U, b_in, h0=np.array([GRU_H0]), reset_after=False)
    ha, _ = gru_hand(GRU_B_IN, [[0.0, 0.0]] * 3, reset_after=True)
    np.testing.assert_allclose(a.output[0], ha, **TOL)
    np.testing.assert_allclose(c.output[0], GRU_GOLDEN["reset_before"], **TOL)


# ---------------------------------------------------------------------------
# SimpleRNN: one step per activation (pre-activations chosen through the bias)
# ---------------------------------------------------------------------------
# x = [1, 2] -> x W = 0.3 per unit; h0 = [0.5, -1.0, 0.25] -> h U = 0.2 * (-0.25) = -0.05.
# pre = 0.25 + b, with b chosen so that pre = [-1.2, 0.9, 3.6] (3.6 lies in hard_sigmoid's
# saturated region).
SRNN_PRE = [-1.2, 0.9, 3.6]
SRNN_EXPECTED = {
    "tanh": [math.tanh(-1.2), math.tanh(0.9), math.tanh(3.6)],
    "relu": [0.0, 0.9, 3.6],
    "sigmoid": [1 / (1 + math.exp(1.2)), 1 / (1 + math.exp(-0.9)), 1 / (1 + math.exp(-3.6))],
    "linear": [-1.2, 0.9, 3.6],
    "hard_sigmoid": [-1.2 / 6 + 0.5, 0.9 / 6 + 0.5, 1.0],   # 0.3, 0.65, clipped to 1
}


@pytest.mark.parametrize("act", sorted(SRNN_EXPECTED))
def test_simple_rnn_golden_one_step(ops, act):
    W, U = const_weights(2, 3, 1)
    b = np.array(SRNN_PRE) - 0.25
    x = np.array([[[1.0, 2.0]]])
    h0 = np.array([[0.5, -1.0, 0.25]])
    r = ops.simple_rnn_forward(x, W, U, b, h0=h0, activation=act)
    np.testing.assert_allclose(r.output[0, 0], SRNN_EXPECTED[act], **TOL)
    np.testing.assert_allclose(r.h[0], SRNN_EXPECTED[act], **TOL)
    np.testing.assert_allclose(r.gates["h"][0, 0], SRNN_EXPECTED[act], **TOL)


@pytest.mark.parametrize("act", sorted(SRNN_EXPECTED))
def test_simple_rnn_reference_matches_golden_one_step(act):
    W, U = const_weights(2, 3, 1)
    b = np.array(SRNN_PRE) - 0.25
    x = np.array([[[1.0, 2.0]]])
    h0 = np.array([[0.5, -1.0, 0.25]])
    np.testing.assert_allclose(ref.simple_rnn_forward(x, W, U, b, h0=h0, activation=act).h[0],
                               SRNN_EXPECTED[act], **TOL)


# ---------------------------------------------------------------------------
# SimpleRNN, linear, H = F = 1: masking / lengths / go_backwards in exact binary
# fractions.  h_t = 0.5 x_t + 0.5 h_{t-1} + 0.25, x = [1, 2, 3, 4], h0 = 0.
# ---------------------------------------------------------------------------
#   forwards:            0.75, 1.625, 2.5625, 3.53125
#   backwards (4,3,2,1): 2.25, 2.875, 2.6875, 2.09375
#   backwards, mask [T, F, T, T] (input order): x4 -> 2.25, x3 -> 2.875,
#       x2 skipped -> 2.875, x1 -> 0.5 + 1.4375 + 0.25 = 2.1875
#   backwards, lengths 2 (x3, x4 are padding, met first): 0, 0,
#       x2 -> 1 + 0 + 0.25 = 1.25, x1 -> 0.5 + 0.625 + 0.25 = 1.375
#   forwards, mask [T, F, T, T]: 0.75, 0.75, 1.5 + 0.375 + 0.25 = 2.125,
#       2 + 1.0625 + 0.25 = 3.3125
#   forwards, lengths 2: 0.75, 1.625, 1.625, 1.625
SEQ_CASES = {
    ("none", False): [0.75, 1.625, 2.5625, 3.53125],
    ("none", True): [2.25, 2.875, 2.6875, 2.09375],
    ("mask", False): [0.75, 0.75, 2.125, 3.3125],
    ("mask", True): [2.25, 2.875, 2.875, 2.1875],
    ("lengths", False): [0.75, 1.625, 1.625, 1.625],
    ("lengths", True): [0.0, 0.0, 1.25, 1.375],
}


def _seq_kwargs(kind):
    if kind == "mask":
        return dict(mask=np.array([[True, False, True, True]]))
    if kind == "lengths":
        return dict(lengths=np.array([2]))
    return {}


@pytest.mark.parametrize("kind,backwards", sorted(SEQ_CASES))
@pytest.mark.parametrize("return_sequences", [True, False])
def test_simple_rnn_golden_mask_and_direction(ops, kind, backwards, return_sequences):
    x = np.array([[[1.0], [2.0], [3.0], [4.0]]])
    W, U, b = np.array([[0.5]]), np.array([[0.5]]), np.array([0.25])
    expected = SEQ_CASES[(kind, backwards)]
    r = ops.simple_rnn_forward(x, W, U, b, activation="linear", go_backwards=backwards,
                               return_sequences=return_sequences, **_seq_kwargs(kind))
    if return_sequences:
        np.testing.assert_array_equal(r.output[0, :, 0], expected)
    else:
        np.testing.assert_array_equal(r.output[0], [expected[-1]])
    np.testing.assert_array_equal(r.h[0], [expected[-1]])


@pytest.mark.parametrize("kind,backwards", sorted(SEQ_CASES))
def test_simple_rnn_reference_matches_golden_mask_and_direction(kind, backwards):
    x = np.array([[[1.0], [2.0], [3.0], [4.0]]])
    W, U, b = np.array([[0.5]]), np.array([[0.5]]), np.array([0.25])
    rr = ref.simple_rnn_forward(x, W, U, b, activation="linear", go_backwards=backwards,
                                **_seq_kwargs(kind))
    np.testing.assert_array_equal(rr.output[0, :, 0], SEQ_CASES[(kind, backwards)])


# ---------------------------------------------------------------------------
# Dense: x = [[1, 2]], kernel 0.1 -> x W = 0.3 per unit; + b = [0.1, -0.5, 0.2]
# gives pre = [0.4, -0.2, 0.5].
# ---------------------------------------------------------------------------
_E = [math.exp(0.4), math.exp(-0.2), math.exp(0.5)]
DENSE_EXPECTED = {
    "linear": [0.4, -0.2, 0.5],
    "relu": [0.4, 0.0, 0.5],
    "sigmoid": [1 / (1 + math.exp(-0.4)), 1 / (1 + math.exp(0.2)), 1 / (1 + math.exp(-0.5))],
    "tanh": [math.tanh(0.4), math.tanh(-0.2), math.tanh(0.5)],
    "softmax": [e / sum(_E) for e in _E],
}


@pytest.mark.parametrize("act", sorted(DENSE_EXPECTED))
def test_dense_golden(ops, act):
    W = np.full((2, 3), 0.1)
    b = np.array([0.1, -0.5, 0.2])
    d = ops.dense_forward(np.array([[1.0, 2.0]]), W, b, activation=act)
    np.testing.assert_allclose(d.output, [DENSE_EXPECTED[act]], **TOL)
    d3 = ops.dense_forward(np.array([[[1.0, 2.0], [1.0, 2.0]]]), W, b, activation=act)
    np.testing.assert_allclose(d3.output, [[DENSE_EXPECTED[act]] * 2], **TOL)


@pytest.mark.parametrize("act", sorted(DENSE_EXPECTED))
def test_dense_reference_matches_golden(act):
    W = np.full((2, 3), 0.1)
    b = np.array([0.1, -0.5, 0.2])
    np.testing.assert_allclose(ref.dense_forward(np.array([[1.0, 2.0]]), W, b, activation=act),
                               [DENSE_EXPECTED[act]], **TOL)
