"""rnnkit.losses: values against hand-computed cases (and Keras' documented numbers),
reductions, sample weights, options, errors, get/serialize, and every gradient by gradcheck."""

import numpy as np
import pytest

import rnnkit
from rnnkit import losses

EPS = 1e-7


def approx(x):
    return pytest.approx(x, rel=1e-12, abs=1e-15)


def check_grad(loss, y_true, y_pred, sample_weight=None):
    """value_and_grad's gradient against 4th-order finite differences, in float64."""

    def fn(y_pred):
        value, grad = loss.value_and_grad(y_true, y_pred, sample_weight)
        assert grad.shape == y_pred.shape and grad.dtype == y_pred.dtype
        return (np.array(value),), lambda g: {"y_pred": g * grad}

    # C order: gradcheck perturbs the input through reshape(-1), a copy for other layouts
    y_pred = np.ascontiguousarray(y_pred, dtype=np.float64)
    rnnkit.gradcheck(fn, {"y_pred": y_pred}, order=4, rtol=1e-7, atol=1e-10)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# Small regression case: diffs y_pred - y_true = [[1, 2], [0, -1]].
Y_TRUE = np.array([[0.0, 1.0], [2.0, 0.0]])
Y_PRED = np.array([[1.0, 3.0], [2.0, -1.0]])


# ------------------------------------------------------------------ values and reductions
def test_mean_squared_error_by_hand():
    # squares [[1, 4], [0, 1]] -> per sample [2.5, 0.5]
    np.testing.assert_allclose(losses.mean_squared_error(Y_TRUE, Y_PRED), [2.5, 0.5])
    mse = losses.MeanSquaredError()
    assert mse(Y_TRUE, Y_PRED) == approx((2.5 + 0.5) / 2)
    value, grad = mse.value_and_grad(Y_TRUE, Y_PRED)
    assert value == approx(1.5)
    # d/dp of mean_n mean_u (p - t)^2 = 2 (p - t) / (U N) = (p - t) / 2
    np.testing.assert_allclose(grad, [[0.5, 1.0], [0.0, -0.5]])


def test_reductions_and_sample_weight():
    w = np.array([2.0, 0.5])  # weighted per-sample losses: [5.0, 0.25]
    assert losses.MeanSquaredError()(Y_TRUE, Y_PRED, sample_weight=w) == approx(5.25 / 2)
    assert losses.MeanSquaredError(reduction="mean")(Y_TRUE, Y_PRED, sample_weight=w) == approx(5.25 / 2)
    assert losses.MeanSquaredError(reduction="sum")(Y_TRUE, Y_PRED, sample_weight=w) == approx(5.25)
    assert losses.MeanSquaredError(reduction="mean_with_sample_weight")(Y_TRUE, Y_PRED, w) == approx(5.25 / 2.5)
    # sum_over_batch_size divides by the number of losses, zero weights included.
    assert losses.MeanSquaredError()(Y_TRUE, Y_PRED, sample_weight=[1.0, 0.0]) == approx(2.5 / 2)
    for reduction in (None, "none"):
        loss = losses.MeanSquaredError(reduction=reduction)
        np.testing.assert_allclose(loss(Y_TRUE, Y_PRED, sample_weight=w), [5.0, 0.25])
        with pytest.raises(ValueError, match="reduction"):
            loss.value_and_grad(Y_TRUE, Y_PRED)
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="average")
    _, grad = losses.MeanSquaredError(reduction="sum").value_and_grad(Y_TRUE, Y_PRED, w)
    np.testing.assert_allclose(grad, [[2.0 * 1.0, 2.0 * 2.0], [0.0, 0.5 * -1.0]])  # w * 2 (p - t) / U


def test_sequences_reduce_the_last_axis_and_weights_broadcast_over_steps():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 4))
    per_step = np.mean((y_pred - y_true) ** 2, axis=-1)
    np.testing.assert_allclose(losses.MeanSquaredError(reduction=None)(y_true, y_pred), per_step)
    w = np.array([3.0, 0.5])
    expected = np.sum(per_step * w[:, None]) / 6  # (N, T) = 6 per-sample losses
    assert losses.MeanSquaredError()(y_true, y_pred, sample_weight=w) == pytest.approx(expected, rel=1e-12)
    assert losses.MeanSquaredError()(y_true, y_pred, sample_weight=np.repeat(w[:, None], 3, 1)) == \
        pytest.approx(expected, rel=1e-12)
    assert losses.MeanSquaredError()(y_true, y_pred, sample_weight=w[:, None, None]) == \
        pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match=r"\(4,\).*\(2, 3\)"):
        losses.MeanSquaredError()(y_true, y_pred, sample_weight=np.ones(4))


def test_mean_absolute_error_by_hand():
    # |diffs| [[1, 2], [0, 1]] -> [1.5, 0.5]
    np.testing.assert_allclose(losses.mean_absolute_error(Y_TRUE, Y_PRED), [1.5, 0.5])
    value, grad = losses.MeanAbsoluteError().value_and_grad(Y_TRUE, Y_PRED)
    assert value == approx(1.0)
    np.testing.assert_allclose(grad, [[0.25, 0.25], [0.0, -0.25]])  # sign / (U N), 0 at equality


def test_huber_by_hand():
    y_true, y_pred = np.array([[0.0, 1.0], [0.0, 0.0]]), np.array([[0.6, 0.4], [0.4, 0.6]])
    # errors [[.6, -.6], [.4, .6]], all within delta=1: 0.5 e^2 = [[.18, .18], [.08, .18]]
    np.testing.assert_allclose(losses.huber(y_true, y_pred), [0.18, 0.13])
    value, grad = losses.Huber().value_and_grad(y_true, y_pred)
    assert value == pytest.approx(0.155, rel=1e-12)  # Keras' documented value
    np.testing.assert_allclose(grad, [[0.15, -0.15], [0.1, 0.15]])  # e / (U N)
    # delta=0.5: |e| = .6 -> 0.5 * .6 - 0.5 * .25 = .175; |e| = .4 -> .08
    value, grad = losses.Huber(delta=0.5).value_and_grad(y_true, y_pred)
    assert value == pytest.approx((0.175 + (0.08 + 0.175) / 2) / 2, rel=1e-12)
    np.testing.assert_allclose(grad, [[0.125, -0.125], [0.1, 0.125]])  # delta sign(e) / 4 beyond delta


def test_binary_crossentropy_by_hand():
    y_true, y_pred = np.array([[0.0, 1.0], [0.0, 0.0]]), np.array([[0.6, 0.4], [0.4, 0.6]])
    first = -(np.log(1 - 0.6) + np.log(0.4)) / 2
    second = -(np.log(1 - 0.4) + np.log(1 - 0.6)) / 2
    np.testing.assert_allclose(losses.binary_crossentropy(y_true, y_pred), [first, second], rtol=1e-12)
    np.testing.assert_allclose([first, second], [0.916, 0.714], atol=1e-3)  # Keras' documented values
    assert losses.BinaryCrossentropy()(y_true, y_pred) == pytest.approx((first + second) / 2, rel=1e-12)
    _, grad = losses.BinaryCrossentropy().value_and_grad(y_true, y_pred)
    # d/dp -(t log p + (1-t) log(1-p)) = (p - t) / (p (1 - p)), divided by U N = 4
    np.testing.assert_allclose(grad, (y_pred - y_true) / (y_pred * (1 - y_pred)) / 4, rtol=1e-12)


def test_binary_crossentropy_label_smoothing():
    y_true, y_pred = np.array([[1.0, 0.0]]), np.array([[0.8, 0.3]])
    # s = 0.2: targets 1 -> 0.9, 0 -> 0.1
    expected = (-(0.9 * np.log(0.8) + 0.1 * np.log(0.2)) - (0.1 * np.log(0.3) + 0.9 * np.log(0.7))) / 2
    assert losses.BinaryCrossentropy(label_smoothing=0.2)(y_true, y_pred) == pytest.approx(expected, rel=1e-12)


def test_binary_crossentropy_clips_probabilities_0_and_1():
    y_true, y_pred = np.array([[1.0, 0.0, 0.0, 1.0]]), np.array([[0.0, 1.0, 0.0, 1.0]])
    value = losses.BinaryCrossentropy(reduction=None)(y_true, y_pred)
    # wrong ones cost -log(eps), right ones -log(1 - eps)
    np.testing.assert_allclose(value, [(2 * -np.log(EPS) + 2 * -np.log1p(-EPS)) / 4], rtol=1e-8)
    value, grad = losses.BinaryCrossentropy().value_and_grad(y_true, y_pred)
    assert np.isfinite(value) and np.all(grad == 0)  # the clipped branch is constant


def test_binary_crossentropy_from_logits_agrees_with_probabilities():
    rng = np.random.default_rng(1)
    logits = rng.uniform(-3, 3, size=(3, 4))
    y_true = rng.integers(0, 2, size=(3, 4)).astype(float)
    p = sigmoid(logits)
    for smoothing in (0.0, 0.1):
        v_logits, g_logits = losses.BinaryCrossentropy(from_logits=True, label_smoothing=smoothing).value_and_grad(
            y_true, logits)
        v_probs, g_probs = losses.BinaryCrossentropy(label_smoothing=smoothing).value_and_grad(y_true, p)
        assert v_logits == pytest.approx(v_probs, rel=1e-10)
        np.testing.assert_allclose(g_logits, g_probs * p * (1 - p), rtol=1e-8)  # chain rule through sigmoid
    # large logits stay finite and exact: log(1 + e^-50) ~ 2e-22 for the right target, 50 for the wrong one
    value = losses.BinaryCrossentropy(from_logits=True, reduction="sum")([[1.0, 0.0]], [[50.0, 50.0]])
    assert value == pytest.approx((0.0 + 50.0) / 2, rel=1e-12)


def test_categorical_crossentropy_by_hand():
    y_true = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    y_pred = np.array([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]])
    per_sample = [-np.log(0.95), -np.log(0.1)]
    np.testing.assert_allclose(losses.categorical_crossentropy(y_true, y_pred), per_sample, rtol=1e-12)
    cce = losses.CategoricalCrossentropy()
    assert cce(y_true, y_pred) == pytest.approx(np.mean(per_sample), rel=1e-12)
    assert cce(y_true, y_pred) == pytest.approx(1.177, abs=1e-3)  # Keras' documented numbers
    assert cce(y_true, y_pred, sample_weight=[0.3, 0.7]) == pytest.approx(0.814, abs=1e-3)
    assert losses.CategoricalCrossentropy(reduction="sum")(y_true, y_pred) == pytest.approx(2.354, abs=1e-3)


def test_categorical_crossentropy_normalises_then_clips():
    # [1, 3] sums to 4: probabilities [0.25, 0.75]
    assert losses.CategoricalCrossentropy()([[0.0, 1.0]], [[1.0, 3.0]]) == pytest.approx(-np.log(0.75), rel=1e-12)
    # d/dp_k of -log(p_1 / (p_0 + p_1)) = -[k == 1] / p_1 + 1 / (p_0 + p_1)
    _, grad = losses.CategoricalCrossentropy().value_and_grad([[0.0, 1.0]], [[1.0, 3.0]])
    np.testing.assert_allclose(grad, [[0.25, -1 / 3 + 0.25]], rtol=1e-12)
    value, grad = losses.CategoricalCrossentropy().value_and_grad([[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    assert value == pytest.approx(-np.log(EPS), rel=1e-12) and np.all(np.isfinite(grad))


def test_categorical_crossentropy_label_smoothing():
    # s = 0.3, C = 3: targets [0, 1, 0] -> [0.1, 0.8, 0.1]
    expected = -(0.1 * np.log(0.2) + 0.8 * np.log(0.5) + 0.1 * np.log(0.3))
    value = losses.CategoricalCrossentropy(label_smoothing=0.3)([[0.0, 1.0, 0.0]], [[0.2, 0.5, 0.3]])
    assert value == pytest.approx(expected, rel=1e-12)


def test_categorical_crossentropy_from_logits_agrees_with_probabilities():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(4, 3))
    y_true = np.eye(3)[rng.integers(0, 3, size=4)]
    p = softmax(logits)
    v_logits, g_logits = losses.CategoricalCrossentropy(from_logits=True).value_and_grad(y_true, logits)
    v_probs, g_probs = losses.CategoricalCrossentropy().value_and_grad(y_true, p)
    assert v_logits == pytest.approx(v_probs, rel=1e-10)
    # softmax Jacobian: dL/dx = p * (g - sum(g p))
    np.testing.assert_allclose(g_logits, p * (g_probs - np.sum(g_probs * p, -1, keepdims=True)), atol=1e-10)
    np.testing.assert_allclose(g_logits, (p - y_true) / 4, atol=1e-12)
    # huge logits stay finite
    assert losses.CategoricalCrossentropy(from_logits=True)([[1.0, 0.0]], [[0.0, 1000.0]]) == pytest.approx(1000.0)


def test_categorical_crossentropy_axis():
    rng = np.random.default_rng(3)
    y_true = np.eye(3)[rng.integers(0, 3, size=(2, 4))]  # (N, T, C)
    y_pred = rng.uniform(0.1, 1.0, size=(2, 4, 3))
    expected = losses.CategoricalCrossentropy(reduction=None)(y_true, y_pred)
    moved = losses.CategoricalCrossentropy(axis=1, reduction=None)(y_true.transpose(0, 2, 1), y_pred.transpose(0, 2, 1))
    np.testing.assert_allclose(moved, expected, rtol=1e-12)
    assert expected.shape == (2, 4)


def test_sparse_categorical_crossentropy_by_hand():
    y_pred = np.array([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]])
    scce = losses.SparseCategoricalCrossentropy()
    expected = (-np.log(0.95) - np.log(0.1)) / 2
    assert scce([1, 2], y_pred) == pytest.approx(expected, rel=1e-12)
    assert scce([[1], [2]], y_pred) == pytest.approx(expected, rel=1e-12)
    assert scce(np.array([1.0, 2.0]), y_pred) == pytest.approx(expected, rel=1e-12)
    assert scce([1, 2], y_pred, sample_weight=[0.3, 0.7]) == pytest.approx(0.814, abs=1e-3)
    one_hot = np.eye(3)[[1, 2]]
    for from_logits in (False, True):
        sparse = losses.SparseCategoricalCrossentropy(from_logits=from_logits).value_and_grad([1, 2], y_pred + 0.5)
        dense = losses.CategoricalCrossentropy(from_logits=from_logits).value_and_grad(one_hot, y_pred + 0.5)
        assert sparse[0] == pytest.approx(dense[0], rel=1e-12)
        np.testing.assert_allclose(sparse[1], dense[1], rtol=1e-12, atol=1e-15)


def test_sparse_categorical_crossentropy_sequences():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 3, size=(2, 4))
    y_pred = rng.normal(size=(2, 4, 3))
    dense = losses.CategoricalCrossentropy(from_logits=True, reduction=None)(np.eye(3)[labels], y_pred)
    for y_true in (labels, labels[..., None]):
        sparse = losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)(y_true, y_pred)
        assert sparse.shape == (2, 4)
        np.testing.assert_allclose(sparse, dense, rtol=1e-12)


@pytest.mark.parametrize("bad", [3, -1])
def test_sparse_labels_out_of_range(bad):
    with pytest.raises(ValueError, match=rf"{bad}.*\[0, 3\)"):
        losses.SparseCategoricalCrossentropy()([0, bad], np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match=rf"{bad}.*\[0, 3\)"):
        losses.SparseCategoricalCrossentropy(from_logits=True).value_and_grad([[0, 1], [bad, 2]], np.zeros((2, 2, 3)))


def test_sparse_bad_labels_and_shapes():
    with pytest.raises(ValueError, match="integer"):
        losses.SparseCategoricalCrossentropy()([0.5, 1.0], np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 3\)"):
        losses.SparseCategoricalCrossentropy()([0, 1, 2], np.full((2, 3), 1 / 3))


def test_sparse_ignore_class():
    y_pred = np.array([[0.2, 0.8], [0.5, 0.5], [0.4, 0.6]])
    y_true = np.array([1, -1, 0])
    valid = [-np.log(0.8), -np.log(0.4)]
    loss = losses.SparseCategoricalCrossentropy(ignore_class=-1)
    value, grad = loss.value_and_grad(y_true, y_pred)
    assert value == pytest.approx(np.mean(valid), rel=1e-12)  # mean over the non-ignored entries
    assert np.all(grad[1] == 0)
    np.testing.assert_allclose(losses.SparseCategoricalCrossentropy(ignore_class=-1, reduction=None)(y_true, y_pred),
                               [valid[0], 0.0, valid[1]], rtol=1e-12)
    assert losses.SparseCategoricalCrossentropy(ignore_class=-1, reduction="sum")(y_true, y_pred) == \
        pytest.approx(sum(valid), rel=1e-12)
    assert loss([-1, -1, -1], y_pred) == 0.0


def test_shape_mismatch_names_both_shapes():
    for loss in (losses.MeanSquaredError(), losses.MeanAbsoluteError(), losses.Huber(),
                 losses.BinaryCrossentropy(), losses.CategoricalCrossentropy()):
        with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
            loss(np.zeros((2, 3)), np.full((2, 4), 0.5))


def test_rank_one_targets_match_a_single_output():
    # Keras squeezes/expands a trailing axis of 1: y (N,) against y_pred (N, 1)
    y_true, y_pred = np.array([0.0, 1.0, 1.0]), np.array([[0.2], [0.7], [0.9]])
    value, grad = losses.BinaryCrossentropy().value_and_grad(y_true, y_pred)
    assert value == pytest.approx(losses.BinaryCrossentropy()(y_true[:, None], y_pred), rel=1e-12)
    assert grad.shape == (3, 1)


def test_float32_gradient_dtype():
    y_pred = np.array([[0.3, 0.7]], dtype=np.float32)
    for loss in (losses.MeanSquaredError(), losses.BinaryCrossentropy(), losses.CategoricalCrossentropy()):
        value, grad = loss.value_and_grad([[0.0, 1.0]], y_pred)
        assert isinstance(value, float) and grad.dtype == np.float32
    value, grad = losses.SparseCategoricalCrossentropy().value_and_grad([1], y_pred)
    assert value == pytest.approx(-np.log(0.7), rel=1e-6) and grad.dtype == np.float32


# ------------------------------------------------------------------------------ gradients
_rng = np.random.default_rng(42)
_T34 = _rng.normal(size=(3, 4))
_OFF = _rng.choice([-1.0, 1.0], size=(3, 4)) * _rng.uniform(0.1, 0.9, size=(3, 4))  # away from 0
_BIN = _rng.integers(0, 2, size=(3, 4)).astype(float)
_SOFT = _rng.uniform(0, 1, size=(3, 4))
_P = _rng.uniform(0.2, 0.8, size=(3, 4))
_LOGITS = _rng.normal(scale=2.0, size=(3, 4))
_ONE_HOT = np.eye(4)[[0, 3, 1]]
_SEQ_T, _SEQ_P = _rng.normal(size=(2, 3, 2)), _rng.normal(size=(2, 3, 2))
_W = np.array([0.5, 2.0, 1.5])
_CCE_CLIPPED = np.where(np.roll(_ONE_HOT, 1, axis=1) > 0, -0.05, _P)  # one negative entry a row: clipped
_HUBER_ERR = np.array([[0.2, -0.5, 1.5, -2.0], [0.9, -1.3, 0.05, 3.0], [-0.7, 0.4, -1.1, 1.2]])

_BCE_CLIPPED = np.where(_P > 0.5, np.where(_BIN > 0, 1.2, -0.3), _P)  # outside [0, 1]: clipped
_SCCE = losses.SparseCategoricalCrossentropy

GRADIENT_CASES = {
    "mse": (losses.MeanSquaredError(), _T34, _T34 + _OFF, None),
    "mse_weighted_sum": (losses.MeanSquaredError(reduction="sum"), _T34, _T34 + _OFF, _W),
    "mse_mean_with_sample_weight": (
        losses.MeanSquaredError(reduction="mean_with_sample_weight"), _T34, _T34 + _OFF, _W),
    "mse_sequence": (losses.MeanSquaredError(), _SEQ_T, _SEQ_P, np.array([2.0, 0.5])),
    "mae": (losses.MeanAbsoluteError(), _T34, _T34 + _OFF, _W),
    "mae_sequence": (losses.MeanAbsoluteError(), _SEQ_T, _SEQ_T + 0.3 * np.sign(_SEQ_P), None),
    "huber": (losses.Huber(), _T34, _T34 + _HUBER_ERR, _W),
    "huber_delta": (losses.Huber(delta=0.3), _T34, _T34 + _HUBER_ERR, None),
    "bce": (losses.BinaryCrossentropy(), _BIN, _P, None),
    "bce_soft_targets_weighted": (losses.BinaryCrossentropy(reduction="sum"), _SOFT, _P, _W),
    "bce_label_smoothing": (losses.BinaryCrossentropy(label_smoothing=0.2), _BIN, _P, None),
    "bce_clipped": (losses.BinaryCrossentropy(), _BIN, _BCE_CLIPPED, None),
    "bce_axis": (losses.BinaryCrossentropy(axis=0), _BIN, _P, np.ones(4)),
    "bce_logits": (losses.BinaryCrossentropy(from_logits=True), _BIN, _LOGITS, _W),
    "bce_logits_smoothing": (losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1), _SOFT, _LOGITS, None),
    "cce": (losses.CategoricalCrossentropy(), _ONE_HOT, _P, None),
    "cce_soft_targets_weighted": (losses.CategoricalCrossentropy(), _SOFT, _P, _W),
    "cce_label_smoothing": (losses.CategoricalCrossentropy(label_smoothing=0.2), _ONE_HOT, _P, None),
    "cce_clipped": (losses.CategoricalCrossentropy(), _ONE_HOT, _CCE_CLIPPED, None),
    "cce_axis": (losses.CategoricalCrossentropy(axis=0), _ONE_HOT.T, _P.T, None),
    "cce_logits": (losses.CategoricalCrossentropy(from_logits=True), _ONE_HOT, _LOGITS, _W),
    "cce_logits_smoothing": (
        losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1), _ONE_HOT, _LOGITS, None),
    "scce": (_SCCE(), np.array([0, 3, 1]), _P, _W),
    "scce_logits": (_SCCE(from_logits=True), np.array([[2], [0], [1]]), _LOGITS, None),
    "scce_sequence": (_SCCE(from_logits=True), np.array([[0, 1, 1], [1, 0, 0]]), _SEQ_P, None),
    "scce_ignore_class": (_SCCE(ignore_class=2), np.array([0, 2, 3]), _P, None),
    "scce_logits_ignore_class_sum": (_SCCE(from_logits=True, ignore_class=2, reduction="sum"), np.array([0, 2, 3]),
                                     _LOGITS, _W),
}


@pytest.mark.parametrize("case", sorted(GRADIENT_CASES))
def test_gradient(case):
    loss, y_true, y_pred, sample_weight = GRADIENT_CASES[case]
    value, _ = loss.value_and_grad(y_true, y_pred, sample_weight)
    assert value == pytest.approx(loss(y_true, y_pred, sample_weight), rel=1e-14)
    check_grad(loss, y_true, y_pred, sample_weight)


# --------------------------------------------------------------------------- get & config
@pytest.mark.parametrize("name, cls", [
    ("mse", losses.MeanSquaredError), ("MSE", losses.MeanSquaredError),
    ("mean_squared_error", losses.MeanSquaredError), ("mae", losses.MeanAbsoluteError),
    ("mean_absolute_error", losses.MeanAbsoluteError), ("huber", losses.Huber),
    ("binary_crossentropy", losses.BinaryCrossentropy), ("bce", losses.BinaryCrossentropy),
    ("categorical_crossentropy", losses.CategoricalCrossentropy),
    ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
    ("CategoricalCrossentropy", losses.CategoricalCrossentropy),
])
def test_get_names(name, cls):
    assert type(losses.get(name)) is cls


def test_get_other_identifiers():
    instance = losses.Huber(delta=2.0)
    assert losses.get(instance) is instance
    assert losses.get(None) is None
    assert type(losses.get(losses.binary_crossentropy)) is losses.BinaryCrossentropy
    assert type(losses.get(losses.MeanAbsoluteError)) is losses.MeanAbsoluteError
    assert losses.get({"class_name": "Huber", "config": {"delta": 3.0}}).delta == 3.0
    with pytest.raises(ValueError, match=r"'msee'.*'mse'"):
        losses.get("msee")
    with pytest.raises(TypeError, match="value_and_grad"):
        losses.get(lambda y_true, y_pred: (y_true - y_pred) ** 2)

    class Custom:
        def value_and_grad(self, y_true, y_pred, sample_weight=None):
            return 0.0, np.zeros_like(y_pred)

    custom = Custom()
    assert losses.get(custom) is custom


def test_custom_loss_subclass():
    class Quartic(losses.Loss):
        def call_and_backward(self, y_true, y_pred):
            d = y_pred - y_true
            return np.mean(d ** 4, axis=-1), lambda g: 4 * d ** 3 / d.shape[-1] * g[..., None]

    loss = Quartic()
    assert loss.name == "quartic"
    check_grad(loss, _T34, _T34 + _OFF, _W)

    class ValueOnly(losses.Loss):
        def call(self, y_true, y_pred):
            return np.mean(np.abs(y_pred - y_true), axis=-1)

    assert ValueOnly()(Y_TRUE, Y_PRED) == approx(1.0)
    with pytest.raises(NotImplementedError, match="call_and_backward"):
        ValueOnly().value_and_grad(Y_TRUE, Y_PRED)


@pytest.mark.parametrize("loss", [
    losses.MeanSquaredError(reduction="sum"), losses.MeanAbsoluteError(name="l1"), losses.Huber(delta=0.7),
    losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1, axis=-2),
    losses.CategoricalCrossentropy(label_smoothing=0.2, reduction=None),
    losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1),
])
def test_serialize_round_trip(loss):
    config = losses.serialize(loss)
    assert set(config) == {"class_name", "config"} and config["class_name"] == type(loss).__name__
    assert config["config"] == loss.get_config()
    again = losses.deserialize(config)
    assert type(again) is type(loss) and again.get_config() == loss.get_config()


def test_configs_and_default_names():
    assert losses.MeanSquaredError().get_config() == {"name": "mean_squared_error", "reduction": "sum_over_batch_size"}
    assert losses.Huber().name == "huber_loss"
    assert losses.BinaryCrossentropy().get_config() == {
        "name": "binary_crossentropy", "reduction": "sum_over_batch_size", "from_logits": False,
        "label_smoothing": 0.0, "axis": -1}
    assert losses.SparseCategoricalCrossentropy().get_config() == {
        "name": "sparse_categorical_crossentropy", "reduction": "sum_over_batch_size", "from_logits": False,
        "ignore_class": None}
    with pytest.raises(ValueError, match="Nope"):
        losses.deserialize({"class_name": "Nope", "config": {}})
