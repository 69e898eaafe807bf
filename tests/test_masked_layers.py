"""Masked recurrent layers: Keras semantics, padding invariance, zero gradients at padded
steps, and masked losses/metrics.

* The masked SimpleRNN/LSTM/GRU layers match the independent NumPy reference
  (tests/reference.py) to 1e-12 in float64, in both directions, with and without
  return_sequences.
* A padded batch (right, left or holed padding) gives, per sequence, exactly what that
  sequence alone (its padding removed) gives: final outputs and final states, also for
  Bidirectional(LSTM).
* Padded steps get exactly zero input gradient, and their values change nothing (outputs,
  gradients of every weight) when the mask is passed explicitly.
* A compiled model's loss and metrics are means over the valid steps only, and the targets
  at masked steps do not affect a training step.
"""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import rnnkit
from rnnkit import layers as L
from rnnkit.models import Sequential

import reference as ref

T, F, H = 7, 2, 3
LENGTHS = [7, 5, 5, 2, 1, 1]


pytestmark = pytest.mark.usefixtures("floatx64")


# ---------------------------------------------------------------------------- helpers
KINDS = {
    "simple_rnn": (L.SimpleRNN, {}, ref.simple_rnn_forward, {}),
    "lstm": (L.LSTM, {}, ref.lstm_forward, {}),
    "gru_reset_after": (L.GRU, {"reset_after": True}, ref.gru_forward, {"reset_after": True}),
    "gru_reset_before": (L.GRU, {"reset_after": False}, ref.gru_forward, {"reset_after": False}),
}


def randomize(layer, rng, scale=0.6):
    """Random weights (biases included, so they matter), Keras order and shapes."""
    layer.set_weights([rng.standard_normal(w.shape) * scale for w in layer.get_weights()])


def nonzero_normal(rng, shape):
    """Normal values kept away from 0, so no real step is ever an all-zero feature vector."""
    v = rng.standard_normal(shape)
    return np.where(np.abs(v) < 0.1, 0.1 * np.sign(v) + 0.1 * (v == 0), v)


def padded_batch(rng, mask):
    x = nonzero_normal(rng, mask.shape + (F,))
    x[~mask] = 0.0
    assert np.array_equal(np.any(x != 0, axis=-1), mask)
    return x


def mixed_mask():
    """Full, right padded, left padded, holed, all masked, single valid step."""
    return np.array([
        [1, 1, 1, 1, 1, 1, 1],
        [1, 1, 1, 1, 0, 0, 0],
        [0, 0, 0, 1, 1, 1, 1],
        [0, 1, 0, 1, 1, 0, 1],
        [0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 1, 0, 0, 0],
        [1, 0, 0, 0, 0, 0, 1],
    ], dtype=bool)


def padding_mask(kind, lengths=LENGTHS, T=T, seed=7):
    lengths = np.asarray(lengths)
    if kind == "right":
        return np.arange(T)[None, :] < lengths[:, None]
    if kind == "left":
        return np.arange(T)[None, :] >= T - lengths[:, None]
    rng = np.random.default_rng(seed)
    mask = np.zeros((len(lengths), T), dtype=bool)
    for n, length in enumerate(lengths):
        mask[n, np.sort(rng.choice(T, size=length, replace=False))] = True
    # Holed: at least one sequence has a gap between valid steps.
    assert any(np.any(np.diff(np.flatnonzero(row)) > 1) for row in mask)
    return mask


def ref_run(kind, layer, x, mask, go_backwards, return_sequences):
    _, _, forward, options = KINDS[kind]
    W, U, b = layer.get_weights()
    return forward(x, W, U, b, mask=mask, go_backwards=go_backwards,
                   return_sequences=return_sequences, **options)


# ---------------------------------------------------------------------------- 1. reference
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_masked_layer_matches_numpy_reference(kind, return_sequences, go_backwards):
    rng = np.random.default_rng(1)
    mask = mixed_mask()
    x = padded_batch(rng, mask)
    cls, options, _, _ = KINDS[kind]
    layer = cls(H, return_sequences=return_sequences, go_backwards=go_backwards, **options)
    model = Sequential([L.Input((T, F)), L.Masking(), layer])
    randomize(layer, rng)

    y = model.predict(x, verbose=0)
    expected = ref_run(kind, layer, x, mask, go_backwards, return_sequences)
    assert y.dtype == np.float64
    assert y.shape == expected.output.shape
    np.testing.assert_allclose(y, expected.output, rtol=0, atol=1e-12)

    # Keras: outputs before the first valid step (processing order) are zeros; an all-masked
    # sequence gives zeros; the output mask is the input mask for return_sequences.
    assert np.all(y[4] == 0.0)
    if return_sequences:
        valid = mask[:, ::-1] if go_backwards else mask
        before_first = ~np.logical_or.accumulate(valid, axis=1)
        assert before_first.sum() > 5
        assert np.all(y[before_first] == 0.0)
        # Masked steps after the first valid one repeat the previous output.
        after = ~valid & ~before_first
        assert after.any()
        for n, s in zip(*np.nonzero(after)):
            assert np.array_equal(y[n, s], y[n, s - 1])
        _, out_mask, _ = model.propagate(x)
        assert np.array_equal(out_mask, mask)
    # Not trivially zero, and padding really changes the result vs. the unmasked reference.
    assert np.abs(y).max() > 0.1
    unmasked = ref_run(kind, layer, x, None, go_backwards, return_sequences).output
    assert np.abs(unmasked - expected.output).max() > 1e-3


@pytest.mark.parametrize("kind", ["lstm", "gru_reset_after"])
def test_masked_layer_float64_by_layer_dtype(kind):
    """The same check with dtype="float64" on the layers and float32 the global default."""
    rnnkit.config.set_floatx("float32")
    rng = np.random.default_rng(2)
    mask = mixed_mask()
    x = padded_batch(rng, mask)
    cls, options, _, _ = KINDS[kind]
    layer = cls(H, return_sequences=True, dtype="float64", **options)
    model = Sequential([L.Input((T, F), dtype="float64"), L.Masking(dtype="float64"), layer])
    randomize(layer, rng)
    assert all(w.dtype == np.float64 for w in layer.get_weights())
    y = model.predict(x, verbose=0)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, ref_run(kind, layer, x, mask, False, True).output, rtol=0, atol=1e-12)


@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_zero_output_for_mask_matches_reference(kind, go_backwards):
    rng = np.random.default_rng(12)
    mask = mixed_mask()
    x = padded_batch(rng, mask)
    cls, options, _, _ = KINDS[kind]
    layer = cls(H, return_sequences=True, go_backwards=go_backwards, zero_output_for_mask=True, **options)
    model = Sequential([L.Input((T, F)), L.Masking(), layer])
    randomize(layer, rng)
    y = model.predict(x, verbose=0)
    valid = mask[:, ::-1] if go_backwards else mask
    expected = ref_run(kind, layer, x, mask, go_backwards, True).output * valid[..., None]
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-12)
    assert np.all(y[~valid] == 0.0)


@pytest.mark.parametrize("kind", ["lstm", "gru_reset_after", "simple_rnn"])
def test_embedding_mask_zero_matches_reference(kind):
    rng = np.random.default_rng(13)
    mask = mixed_mask()
    ids = np.where(mask, rng.integers(1, 6, size=mask.shape), 0).astype(np.int32)
    cls, options, _, _ = KINDS[kind]
    embedding = L.Embedding(6, F, mask_zero=True)
    layer = cls(H, return_sequences=True, **options)
    model = Sequential([L.Input((T,), dtype="int32"), embedding, layer])
    randomize(model, rng)
    y = model.predict(ids, verbose=0)
    x = embedding.get_weights()[0][ids]
    np.testing.assert_allclose(y, ref_run(kind, layer, x, mask, False, True).output, rtol=0, atol=1e-12)
    # The padding id's vector is not zero, so this is the mask at work, not zero inputs.
    assert np.abs(embedding.get_weights()[0][0]).min() > 1e-3


@pytest.mark.parametrize("kind", ["lstm", "gru_reset_after"])
def test_stateful_masked_sequence_in_chunks_equals_whole(kind):
    """A stateful layer fed a masked batch in two time chunks ends in the same states (and
    gives the same per-step outputs) as the layer run over the whole sequence at once; a
    sample masked throughout a chunk keeps its carried states."""
    rng = np.random.default_rng(14)
    mask = mixed_mask()
    mask[5, :4] = False  # sample 5: nothing valid in the first chunk
    x = padded_batch(rng, mask)
    cls, options, _, _ = KINDS[kind]
    whole = cls(H, return_sequences=True, return_state=True, **options)
    whole.build((None, T, F))
    randomize(whole, rng)
    expected = whole(x, mask=mask)

    stateful = cls(H, return_sequences=True, return_state=True, stateful=True, **options)
    stateful.build((len(x), T, F))
    stateful.set_weights(whole.get_weights())
    first = stateful(x[:, :4], mask=mask[:, :4])
    carried = [s.copy() for s in stateful.states]
    assert np.all(carried[0][4] == 0.0) and np.all(carried[0][5] == 0.0)
    second = stateful(x[:, 4:], mask=mask[:, 4:])
    # Sample 4 is masked everywhere: its states never move.
    assert all(np.all(s[4] == 0.0) for s in stateful.states)
    # Per-step outputs agree at valid steps (at masked steps Keras restarts the repeated
    # "previous output" from zeros in every call, so a chunk may differ there).
    chunked = np.concatenate([first[0], second[0]], axis=1)
    np.testing.assert_allclose(chunked[mask], expected[0][mask], rtol=0, atol=1e-12)
    for got, want in zip(second[1:], expected[1:]):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    for got, want in zip(stateful.states, expected[1:]):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------- 2. padding invariance
PADDINGS = ["right", "left", "holed"]


def state_count(kind):
    return 2 if kind == "lstm" else 1


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("kind", ["simple_rnn", "lstm", "gru_reset_after", "gru_reset_before"])
def test_padded_batch_equals_each_sequence_alone(kind, padding):
    rng = np.random.default_rng(3)
    mask = padding_mask(padding)
    x = padded_batch(rng, mask)
    cls, options, _, _ = KINDS[kind]

    # Model path: Masking -> layer, return_sequences=False, variable time length.
    layer = cls(H, **options)
    model = Sequential([L.Input((None, F)), L.Masking(), layer])
    randomize(layer, rng)
    last = model.predict(x, verbose=0)

    # Direct path: the layer called with mask=, return_state=True, both directions.
    stated = {go: cls(H, return_state=True, go_backwards=go, **options) for go in (False, True)}
    finals = {}
    for go, direct in stated.items():
        direct.build((None, T, F))
        direct.set_weights(layer.get_weights())
        outputs = direct(x, mask=mask)
        assert len(outputs) == 1 + state_count(kind)
        finals[go] = outputs

    for n, length in enumerate(LENGTHS):
        alone = x[n][mask[n]][None]
        assert alone.shape == (1, length, F)
        np.testing.assert_allclose(last[n], model.predict(alone, verbose=0)[0], rtol=0, atol=1e-12)
        for go, direct in stated.items():
            expected = direct(alone)
            for got, want in zip(finals[go], expected):
                np.testing.assert_allclose(got[n], want[0], rtol=0, atol=1e-12)
        # Final output == final h (return_state), and the direction matters when length > 1.
        np.testing.assert_array_equal(finals[False][0][n], finals[False][1][n])
        if length > 1:
            assert np.abs(finals[False][0][n] - finals[True][0][n]).max() > 1e-6
    np.testing.assert_allclose(last, finals[False][0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("padding", PADDINGS)
def test_padded_batch_equals_each_sequence_alone_bidirectional(padding):
    rng = np.random.default_rng(4)
    mask = padding_mask(padding)
    x = padded_batch(rng, mask)
    bi = L.Bidirectional(L.LSTM(H), merge_mode="concat")
    model = Sequential([L.Input((None, F)), L.Masking(), bi])
    randomize(bi, rng)
    last = model.predict(x, verbose=0)
    assert last.shape == (len(LENGTHS), 2 * H)

    bi_state = L.Bidirectional(L.LSTM(H, return_state=True), merge_mode="concat")
    bi_state.build((None, T, F))
    bi_state.set_weights(bi.get_weights())
    padded = bi_state(x, mask=mask)
    assert len(padded) == 5  # merged output, forward h, c, backward h, c
    np.testing.assert_allclose(padded[0], last, rtol=0, atol=1e-12)

    W_f, U_f, b_f, W_b, U_b, b_b = bi.get_weights()
    for n in range(len(LENGTHS)):
        alone = x[n][mask[n]][None]
        np.testing.assert_allclose(last[n], model.predict(alone, verbose=0)[0], rtol=0, atol=1e-12)
        for got, want in zip(padded, bi_state(alone)):
            np.testing.assert_allclose(got[n], want[0], rtol=0, atol=1e-12)
        # Independently: forward LSTM over the sequence, backward LSTM over it reversed.
        fwd = ref.lstm_forward(alone, W_f, U_f, b_f, return_sequences=False)
        bwd = ref.lstm_forward(alone, W_b, U_b, b_b, go_backwards=True, return_sequences=False)
        np.testing.assert_allclose(last[n], np.concatenate([fwd.output[0], bwd.output[0]]), rtol=0, atol=1e-12)
        np.testing.assert_allclose(padded[3][n], bwd.h[0], rtol=0, atol=1e-12)
        np.testing.assert_allclose(padded[4][n], bwd.c[0], rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------- 3. padded steps are inert
def inert_models():
    return {
        "lstm_sequences": lambda: L.LSTM(H, return_sequences=True),
        "lstm_last_backwards": lambda: L.LSTM(H, go_backwards=True),
        "gru_sequences": lambda: L.GRU(H, return_sequences=True),
        "gru_reset_before_last": lambda: L.GRU(H, reset_after=False),
        "simple_rnn_sequences_backwards": lambda: L.SimpleRNN(H, return_sequences=True, go_backwards=True),
        "bidirectional_lstm": lambda: L.Bidirectional(L.LSTM(H, return_sequences=True)),
    }


def model_with(make_layer, rng, masking):
    layer = make_layer()
    head = [L.Masking()] if masking else []
    model = Sequential([L.Input((T, F))] + head + [layer, L.Dense(2, activation="tanh")])
    randomize(model, rng)
    return model


@pytest.mark.parametrize("name", list(inert_models()))
def test_masked_steps_get_exactly_zero_input_gradient(name):
    rng = np.random.default_rng(5)
    mask = mixed_mask()
    x = padded_batch(rng, mask)
    for masking in (True, False):
        model = model_with(inert_models()[name], rng, masking)
        y, pullback = model.forward(x, mask=None if masking else mask, training=True)
        dx, grads = pullback(rng.standard_normal(y.shape))
        assert dx.shape == x.shape
        assert np.all(dx[~mask] == 0.0), f"masking={masking}: nonzero gradient at padded steps"
        # The valid steps do get gradient (except where nothing downstream reads them).
        assert np.count_nonzero(dx[mask]) >= 0.9 * dx[mask].size
        assert set(grads) == set(model.trainable_weights)


@pytest.mark.parametrize("name", list(inert_models()))
def test_values_at_masked_steps_change_nothing(name):
    rng = np.random.default_rng(6)
    mask = mixed_mask()
    x = padded_batch(rng, mask)
    other = x.copy()
    other[~mask] = rng.standard_normal(other[~mask].shape) * 3.0
    model = model_with(inert_models()[name], rng, masking=False)
    y, pullback = model.forward(x, mask=mask, training=True)
    dy = rng.standard_normal(y.shape)
    dx, grads = pullback(dy)
    y2, pullback2 = model.forward(other, mask=mask, training=True)
    dx2, grads2 = pullback2(dy)
    assert np.array_equal(y, y2)
    assert np.array_equal(dx, dx2)
    assert set(grads) == set(grads2) == set(model.trainable_weights)
    for variable in grads:
        assert np.array_equal(grads[variable], grads2[variable]), variable.path
        assert np.abs(grads[variable]).max() > 0, variable.path
    # Without the mask the same change does matter (the test has teeth).
    y3, _ = model.forward(other, training=True)
    assert np.abs(y3 - y).max() > 1e-3


# ---------------------------------------------------------------------------- 6. masked loss and metrics
def loss_model(rng):
    lstm = L.LSTM(H, return_sequences=True)
    dense = L.Dense(2)
    model = Sequential([L.Input((T, F)), L.Masking(), lstm, dense])
    randomize(model, rng)
    return model


def compiled(weights):
    model = Sequential([L.Input((T, F)), L.Masking(), L.LSTM(H, return_sequences=True), L.Dense(2)])
    model.set_weights(weights)
    model.compile(optimizer=rnnkit.optimizers.SGD(learning_rate=0.1), loss="mse", metrics=["mae"])
    return model


def test_masked_loss_and_metrics_are_means_over_valid_steps():
    rng = np.random.default_rng(8)
    mask = mixed_mask()
    mask[4, 2] = True  # no all-masked sample: every sample counts
    x = padded_batch(rng, mask)
    y = rng.standard_normal((len(mask), T, 2))
    weights = loss_model(rng).get_weights()
    model = compiled(weights)

    pred = model.predict(x, verbose=0)
    per_step_se = np.mean((y - pred) ** 2, axis=-1)
    per_step_ae = np.mean(np.abs(y - pred), axis=-1)
    expected_loss = per_step_se[mask].mean()
    expected_mae = per_step_ae[mask].mean()
    assert abs(expected_loss - per_step_se.mean()) > 1e-2  # masking matters here

    loss, mae = model.evaluate(x, y, batch_size=len(x), verbose=0)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-12, atol=0)
    np.testing.assert_allclose(mae, expected_mae, rtol=1e-12, atol=0)
    logs = model.test_on_batch(x, y, return_dict=True)
    np.testing.assert_allclose(logs["loss"], expected_loss, rtol=1e-12, atol=0)
    np.testing.assert_allclose(logs["mae"], expected_mae, rtol=1e-12, atol=0)

    # train_on_batch reports the loss before its update, over valid steps too.
    loss_before = model.train_on_batch(x, y)
    np.testing.assert_allclose(np.atleast_1d(loss_before)[0], expected_loss, rtol=1e-12, atol=0)


def test_masked_loss_with_sample_weight_and_weighted_metric():
    """Keras 3: the mask scales the sample weights by total/valid, so the loss is
    sum(se * w * m) / valid; a weighted metric is sum(ae * w * m) / sum(w * m)."""
    rng = np.random.default_rng(15)
    mask = mixed_mask()
    mask[4, 6] = True
    x = padded_batch(rng, mask)
    y = rng.standard_normal((len(mask), T, 2))
    sw = rng.uniform(0.5, 2.0, size=len(mask))
    model = Sequential([L.Input((T, F)), L.Masking(), L.LSTM(H, return_sequences=True), L.Dense(2)])
    randomize(model, rng)
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"], weighted_metrics=["mae"])
    pred = model.predict(x, verbose=0)
    se = np.mean((y - pred) ** 2, axis=-1)
    ae = np.mean(np.abs(y - pred), axis=-1)
    w = sw[:, None] * mask
    logs = model.evaluate(x, y, sample_weight=sw, batch_size=len(x), verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], np.sum(se * w) / mask.sum(), rtol=1e-12, atol=0)
    weighted = [v for k, v in logs.items() if k.startswith("weighted")]
    plain = [v for k, v in logs.items() if k == "mae"]
    assert len(weighted) == 1 and len(plain) == 1, logs
    np.testing.assert_allclose(weighted[0], np.sum(ae * w) / np.sum(w), rtol=1e-12, atol=0)
    np.testing.assert_allclose(plain[0], ae[mask].mean(), rtol=1e-12, atol=0)


def test_masked_crossentropy_and_accuracy_over_valid_steps():
    rng = np.random.default_rng(16)
    mask = mixed_mask()
    mask[4, 3] = True
    x = padded_batch(rng, mask)
    y = rng.integers(0, 3, size=mask.shape)
    model = Sequential([L.Input((T, F)), L.Masking(), L.LSTM(H, return_sequences=True),
                        L.Dense(3, activation="softmax")])
    randomize(model, rng, scale=1.5)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    p = model.predict(x, verbose=0)
    ce = -np.log(np.take_along_axis(p, y[..., None], axis=-1)[..., 0])
    hit = p.argmax(-1) == y
    assert hit[mask].mean() != hit.mean()
    loss, accuracy = model.evaluate(x, y, batch_size=len(x), verbose=0)
    np.testing.assert_allclose(loss, ce[mask].mean(), rtol=1e-12, atol=0)
    np.testing.assert_allclose(accuracy, hit[mask].mean(), rtol=1e-12, atol=0)


def test_evaluate_in_several_batches_weighs_valid_steps():
    """Two batches with different numbers of valid steps: evaluate's loss is still a mean;
    check against the per-batch masked means combined as Keras does (mean over batches)."""
    rng = np.random.default_rng(9)
    mask = padding_mask("holed", lengths=[7, 5, 5, 2, 1, 1])
    x = padded_batch(rng, mask)
    y = rng.standard_normal((len(mask), T, 2))
    model = compiled(loss_model(rng).get_weights())
    pred = model.predict(x, verbose=0)
    se = np.mean((y - pred) ** 2, axis=-1)
    batch_means = [se[:3][mask[:3]].mean(), se[3:][mask[3:]].mean()]
    loss, _ = model.evaluate(x, y, batch_size=3, verbose=0)
    # Keras averages the per-batch losses weighted by batch size (equal sizes here).
    np.testing.assert_allclose(loss, np.mean(batch_means), rtol=1e-12, atol=0)


def test_targets_at_masked_steps_do_not_affect_training():
    rng = np.random.default_rng(10)
    mask = mixed_mask()
    x = padded_batch(rng, mask)
    y = rng.standard_normal((len(mask), T, 2))
    y_other = y.copy()
    y_other[~mask] = rng.standard_normal(y_other[~mask].shape) * 10.0
    weights = loss_model(rng).get_weights()

    trained = []
    for targets in (y, y_other):
        model = compiled(weights)
        loss = model.train_on_batch(x, targets)
        trained.append((np.atleast_1d(loss)[0], model.get_weights()))
    (loss_a, w_a), (loss_b, w_b) = trained
    assert loss_a == loss_b
    for a, b, w0 in zip(w_a, w_b, weights):
        assert np.array_equal(a, b)
        assert not np.array_equal(a, w0)  # the step did change every weight

    # And the targets at valid steps do matter.
    y_valid = y.copy()
    y_valid[mask] += 1.0
    model = compiled(weights)
    model.train_on_batch(x, y_valid)
    assert any(not np.array_equal(a, b) for a, b in zip(w_a, model.get_weights()))


def test_masked_loss_gradient_matches_hand_computed():
    """The gradient the loss sends back: d(mean over valid steps)/d y_pred, zero at masked steps."""
    rng = np.random.default_rng(11)
    mask = mixed_mask()
    mask[4, 0] = True
    x = padded_batch(rng, mask)
    y = rng.standard_normal((len(mask), T, 2))
    weights = loss_model(rng).get_weights()
    model = compiled(weights)
    y_pred, out_mask, pullback = model.propagate(x, None, training=True)
    assert np.array_equal(out_mask, mask)
    loss, dy = model.loss.value_and_grad(y, y_pred, None, mask=out_mask)
    count = mask.sum()
    expected_dy = np.where(mask[..., None], 2.0 * (y_pred - y) / (2 * count), 0.0)
    np.testing.assert_allclose(dy, expected_dy, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(loss, np.mean((y - y_pred) ** 2, axis=-1)[mask].mean(), rtol=1e-12)

    # SGD: new weights = old - lr * grad, with grad from this dy.
    _, grads = pullback(dy)
    model.train_on_batch(x, y)
    for variable, before in zip(model.weights, weights):
        np.testing.assert_allclose(variable.value, before - 0.1 * grads[variable], rtol=0, atol=1e-14)
