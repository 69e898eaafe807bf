"""Merge layers in model graphs: Concatenate, Add, Subtract, Multiply, Average, Maximum,
Minimum and Dot against NumPy (float64, 1e-12) and finite differences, their output shapes,
their functional forms, and how they combine the masks of two masked branches."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import rnnkit
from rnnkit import layers as L
from rnnkit.models import Model

import reference as ref

N = 3


def _l2n(x, axis):
    return x / np.sqrt(np.maximum(np.sum(x * x, axis=axis, keepdims=True), 1e-12))


def _separated(shape, count, seed):
    """``count`` arrays whose entries differ pairwise by at least 0.2 (no ties for max/min,
    and far wider than the finite-difference step)."""
    r = np.random.default_rng(seed)
    base = r.standard_normal(shape)
    ranks = np.argsort(r.random((count,) + shape), axis=0)
    return [base + 0.3 * ranks[k] + 0.05 * r.standard_normal(shape) for k in range(count)]


# (id, layer factory, sample shapes of the inputs, expected output shape, NumPy function)
CASES = [
    ("concatenate_last_2d", lambda: L.Concatenate(), [(3,), (2,)], (None, 5),
     lambda xs: np.concatenate(xs, axis=-1)),
    ("concatenate_last_3d", lambda: L.Concatenate(axis=-1), [(4, 2), (4, 3)], (None, 4, 5),
     lambda xs: np.concatenate(xs, axis=-1)),
    ("concatenate_axis1", lambda: L.Concatenate(axis=1), [(2, 3), (4, 3)], (None, 6, 3),
     lambda xs: np.concatenate(xs, axis=1)),
    ("concatenate_three", lambda: L.Concatenate(axis=2), [(2, 1), (2, 3), (2, 2)], (None, 2, 6),
     lambda xs: np.concatenate(xs, axis=2)),
    ("add", lambda: L.Add(), [(2, 3)] * 3, (None, 2, 3), lambda xs: xs[0] + xs[1] + xs[2]),
    ("subtract", lambda: L.Subtract(), [(4,)] * 2, (None, 4), lambda xs: xs[0] - xs[1]),
    ("multiply", lambda: L.Multiply(), [(2, 3)] * 3, (None, 2, 3), lambda xs: xs[0] * xs[1] * xs[2]),
    ("average", lambda: L.Average(), [(4,)] * 3, (None, 4), lambda xs: (xs[0] + xs[1] + xs[2]) / 3),
    ("maximum", lambda: L.Maximum(), [(2, 3)] * 3, (None, 2, 3),
     lambda xs: np.maximum(np.maximum(xs[0], xs[1]), xs[2])),
    ("minimum", lambda: L.Minimum(), [(4,)] * 2, (None, 4), lambda xs: np.minimum(xs[0], xs[1])),
    ("dot_2d_axes1", lambda: L.Dot(axes=1), [(4,), (4,)], (None, 1),
     lambda xs: np.sum(xs[0] * xs[1], axis=1, keepdims=True)),
    ("dot_2d_axes_minus1_normalized", lambda: L.Dot(axes=-1, normalize=True), [(4,), (4,)], (None, 1),
     lambda xs: np.sum(_l2n(xs[0], 1) * _l2n(xs[1], 1), axis=1, keepdims=True)),
    ("dot_2d_pair_normalized", lambda: L.Dot(axes=(1, 1), normalize=True), [(5,), (5,)], (None, 1),
     lambda xs: np.sum(_l2n(xs[0], 1) * _l2n(xs[1], 1), axis=1, keepdims=True)),
    ("dot_3d_axes2", lambda: L.Dot(axes=2), [(3, 4), (5, 4)], (None, 3, 5),
     lambda xs: np.einsum("nad,nbd->nab", xs[0], xs[1])),
    ("dot_3d_axes2_normalized", lambda: L.Dot(axes=2, normalize=True), [(3, 4), (5, 4)], (None, 3, 5),
     lambda xs: np.einsum("nad,nbd->nab", _l2n(xs[0], 2), _l2n(xs[1], 2))),
    ("dot_3d_pair_1_1", lambda: L.Dot(axes=(1, 1)), [(3, 4), (3, 2)], (None, 4, 2),
     lambda xs: np.einsum("nta,ntb->nab", xs[0], xs[1])),
    ("dot_3d_pair_2_1_normalized", lambda: L.Dot(axes=[2, 1], normalize=True), [(3, 4), (4, 2)], (None, 3, 2),
     lambda xs: np.einsum("nad,ndb->nab", _l2n(xs[0], 2), _l2n(xs[1], 1))),
]


def _model(factory, shapes):
    inputs = [L.Input(shape, name=f"in{k}") for k, shape in enumerate(shapes)]
    merged = factory()(inputs)
    return Model(inputs, merged), merged


@pytest.mark.parametrize("name,factory,shapes,out_shape,numpy_fn", CASES, ids=[c[0] for c in CASES])
def test_merge_against_numpy_and_gradcheck(floatx64, name, factory, shapes, out_shape, numpy_fn):
    model, merged = _model(factory, shapes)
    assert merged.shape == out_shape
    assert model.output_shape == out_shape
    xs = _separated((N,) + shapes[0], len(shapes), seed=1) if len(set(shapes)) == 1 else \
        [np.random.default_rng(k).standard_normal((N,) + s) for k, s in enumerate(shapes)]
    got = model.predict(xs, verbose=0)
    want = numpy_fn(xs)
    assert got.shape == (N,) + out_shape[1:] == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    report = rnnkit.gradcheck(model, {"x": xs}, order=4, rtol=1e-7, atol=1e-9)
    assert {f"x[{k}]" for k in range(len(xs))} == {c.name for c in report.checks}


def test_merges_inside_a_graph_with_weights_gradcheck(floatx64):
    """Every merge in one graph after Dense layers: the weights' gradients pass through each."""
    a, b = L.Input((3,), name="a"), L.Input((3,), name="b")
    u = L.Dense(4, activation="tanh", name="u")(a)
    v = L.Dense(4, activation="tanh", name="v")(b)
    merged = [L.add([u, v]), L.subtract([u, v]), L.multiply([u, v]), L.average([u, v]), L.maximum([u, v]),
              L.minimum([u, v]), L.dot([u, v], axes=1), L.dot([u, v], axes=1, normalize=True)]
    out = L.Dense(2, name="head")(L.concatenate(merged))
    model = Model([a, b], out)
    assert [type(layer).__name__ for layer in model.layers[4:13]] == [
        "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Dot", "Dot", "Concatenate"]
    r = np.random.default_rng(3)
    xs = [r.standard_normal((2, 3)), r.standard_normal((2, 3))]
    uu = ref.dense_forward(xs[0], *model.get_layer("u").get_weights(), activation="tanh")
    vv = ref.dense_forward(xs[1], *model.get_layer("v").get_weights(), activation="tanh")
    assert np.min(np.abs(uu - vv)) > 1e-2  # no max/min ties within the finite-difference step
    parts = [uu + vv, uu - vv, uu * vv, (uu + vv) / 2, np.maximum(uu, vv), np.minimum(uu, vv),
             np.sum(uu * vv, 1, keepdims=True), np.sum(_l2n(uu, 1) * _l2n(vv, 1), 1, keepdims=True)]
    want = ref.dense_forward(np.concatenate(parts, axis=-1), *model.get_layer("head").get_weights())
    np.testing.assert_allclose(model.predict(xs, verbose=0), want, rtol=1e-12, atol=1e-12)
    rnnkit.gradcheck(model, {"x": xs}, order=4, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("function,cls,kwargs", [
    (L.concatenate, L.Concatenate, {"axis": 1}), (L.add, L.Add, {}), (L.subtract, L.Subtract, {}),
    (L.multiply, L.Multiply, {}), (L.average, L.Average, {}), (L.maximum, L.Maximum, {}),
    (L.minimum, L.Minimum, {}), (L.dot, L.Dot, {"axes": 2})])
def test_functional_forms_make_the_layer(floatx64, function, cls, kwargs):
    a, b = L.Input((2, 2)), L.Input((2, 2))
    out = function([a, b], **kwargs)
    assert isinstance(out.node.layer, cls)
    xs = _separated((N, 2, 2), 2, seed=4)
    layer = cls(**kwargs)
    np.testing.assert_array_equal(Model([a, b], out).predict(xs, verbose=0), layer(xs))


def test_merge_shapes_with_unknown_sizes():
    a, b = L.Input((None, 3)), L.Input((None, 3))
    assert L.Concatenate(axis=1)([a, b]).shape == (None, None, 3)
    assert L.Concatenate()([a, b]).shape == (None, None, 6)
    assert L.Add()([a, b]).shape == (None, None, 3)
    assert L.Dot(axes=2)([a, b]).shape == (None, None, None)
    c = L.Input((5, 3))
    assert L.Concatenate(axis=1)([a, c]).shape == (None, None, 3)
    assert L.Multiply()([a, c]).shape == (None, 5, 3)


def test_merge_configs_round_trip(floatx64):
    for layer in (L.Concatenate(axis=1), L.Dot(axes=(2, 1), normalize=True), L.Dot(axes=1), L.Subtract()):
        again = L.deserialize(L.serialize(layer))
        assert type(again) is type(layer) and again.get_config() == layer.get_config()


# ---------------------------------------------------------------------- masks
def _masked_inputs():
    r = np.random.default_rng(5)
    T, F = 5, 2
    xa, xb = r.standard_normal((N, T, F)), r.standard_normal((N, T, F))
    ma = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 1], [1, 1, 1, 1, 1]], bool)
    mb = np.array([[1, 1, 0, 1, 0], [1, 1, 1, 1, 0], [0, 1, 1, 1, 1]], bool)
    xa[~ma], xb[~mb] = 0.0, 0.0
    return xa, xb, ma, mb


def _two_branch_model(merge, masking):
    a, b = L.Input((5, 2), name="a"), L.Input((5, 2), name="b")
    ua, ub = (L.Masking(0.0)(a), L.Masking(0.0)(b)) if masking else (a, b)
    seq = L.LSTM(3, return_sequences=True, name="lstm")(merge()([ua, ub]))
    return Model([a, b], seq)


@pytest.mark.parametrize("merge,combine", [
    (L.Add, lambda a, b: a + b), (L.Multiply, lambda a, b: a * b), (L.Average, lambda a, b: (a + b) / 2),
    (L.Subtract, lambda a, b: a - b)], ids=["add", "multiply", "average", "subtract"])
def test_masks_of_two_masked_branches_combine_with_and(floatx64, merge, combine):
    xa, xb, ma, mb = _masked_inputs()
    both = ma & mb
    model = _two_branch_model(merge, masking=True)
    outputs, out_mask, _ = model.propagate([xa, xb], None, training=False)
    np.testing.assert_array_equal(out_mask, both)
    want = ref.lstm_forward(combine(xa, xb), *model.get_layer("lstm").get_weights(), mask=both,
                            return_sequences=True).output
    np.testing.assert_allclose(outputs, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(model.predict([xa, xb], verbose=0), want, rtol=1e-12, atol=1e-12)

    # The same graph without Masking, given the masks: same outputs, and finite differences agree
    # (Masking itself is not differentiable where a perturbation unmasks a step).
    twin = _two_branch_model(merge, masking=False)
    twin.set_weights(model.get_weights())
    y, pullback = twin.forward([xa, xb], mask=[ma, mb])
    np.testing.assert_array_equal(y, outputs)
    (da, db), _ = pullback(np.ones_like(y))
    assert np.all(da[~both] == 0) and np.all(db[~both] == 0)  # a step masked in either branch gets none
    rnnkit.gradcheck(twin, {"x": [xa, xb], "mask": [ma, mb]}, order=4, rtol=1e-7, atol=1e-9)


def test_concatenate_along_time_concatenates_the_masks(floatx64):
    xa, xb, ma, mb = _masked_inputs()
    xb = xb[:, :3]
    mb = mb[:, :3]
    a, b = L.Input((5, 2), name="a"), L.Input((3, 2), name="b")
    joined = L.Concatenate(axis=1)([L.Masking()(a), b])  # b has no mask: all its steps are valid
    model = Model([a, b], L.LSTM(3, return_sequences=True, name="lstm")(joined))
    assert model.output_shape == (None, 8, 3)
    outputs, out_mask, _ = model.propagate([xa, xb], None)
    expected_mask = np.concatenate([ma, np.ones_like(mb)], axis=1)
    np.testing.assert_array_equal(out_mask, expected_mask)
    want = ref.lstm_forward(np.concatenate([xa, xb], axis=1), *model.get_layer("lstm").get_weights(),
                            mask=expected_mask, return_sequences=True).output
    np.testing.assert_allclose(outputs, want, rtol=1e-12, atol=1e-12)


def test_dot_drops_the_mask(floatx64):
    xa, xb, _, _ = _masked_inputs()
    a, b = L.Input((5, 2)), L.Input((5, 2))
    model = Model([a, b], L.Dot(axes=2)([L.Masking()(a), L.Masking()(b)]))
    _, out_mask, _ = model.propagate([xa, xb], None)
    assert out_mask is None


def test_concatenate_masks_as_keras_3():
    """Along the features a step is valid where any input's is (an unmasked input counts as all
    valid); along time the masks are joined."""
    a, b = np.zeros((2, 3, 4)), np.zeros((2, 3, 2))
    m1 = np.array([[1, 1, 0], [1, 0, 0]], bool)
    m2 = np.array([[1, 0, 0], [1, 1, 0]], bool)
    np.testing.assert_array_equal(L.Concatenate().compute_mask([a, b], [m1, m2]), m1 | m2)
    assert L.Concatenate().compute_mask([a, b], [m1, None]).all()
    assert L.Concatenate().compute_mask([a, b], [None, None]) is None
    np.testing.assert_array_equal(L.Concatenate(axis=1).compute_mask([a, a], [m1, None]),
                                  np.concatenate([m1, np.ones_like(m1)], axis=1))
