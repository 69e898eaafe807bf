"""The functional-API topologies the test_functional_*.py files share.

Each builder makes a small float64 ``rnnkit.models.Model`` (call it under the ``floatx64``
fixture), inputs and targets for it, and an independent NumPy reference of its outputs built
from tests/reference.py and the weights read back from the model by layer name (so the same
reference checks a loaded, rebuilt or cloned model).
"""

from dataclasses import dataclass
from typing import Any, Callable, List

import numpy as np

from rnnkit import layers as L
from rnnkit.models import Model, Sequential

import reference as ref

N, T, F = 4, 3, 2


@dataclass
class Case:
    model: Any
    x: Any            # list of arrays, one per model input
    y: List[np.ndarray]  # one target per output
    reference: Callable[[Any, List[np.ndarray]], List[np.ndarray]]


def _w(model, name):
    return model.get_layer(name).get_weights()


def _rng(seed):
    return np.random.default_rng(seed)


def two_inputs() -> Case:
    """An LSTM branch and a Dense branch, concatenated, a Dense head."""
    seq = L.Input((T, F), name="seq")
    feat = L.Input((4,), name="feat")
    h = L.LSTM(3, name="lstm")(seq)
    d = L.Dense(2, activation="tanh", name="dense")(feat)
    out = L.Dense(2, name="head")(L.Concatenate(name="concat")([h, d]))
    model = Model([seq, feat], out, name="two_inputs")

    def reference(m, xs):
        h = ref.lstm_forward(xs[0], *_w(m, "lstm"), return_sequences=False).output
        d = ref.dense_forward(xs[1], *_w(m, "dense"), activation="tanh")
        return [ref.dense_forward(np.concatenate([h, d], axis=-1), *_w(m, "head"))]

    r = _rng(1)
    return Case(model, [r.standard_normal((N, T, F)), r.standard_normal((N, 4))], [r.standard_normal((N, 2))],
                reference)


def two_outputs() -> Case:
    """One input, a per-step output and a summary output."""
    x = L.Input((T, F), name="x")
    s = L.LSTM(3, return_sequences=True, name="encoder")(x)
    per_step = L.Dense(2, name="per_step")(s)
    summary = L.Dense(1, name="summary")(L.LSTM(2, name="lstm_last")(s))
    model = Model(x, [per_step, summary], name="two_outputs")

    def reference(m, xs):
        s = ref.lstm_forward(xs[0], *_w(m, "encoder"), return_sequences=True).output
        last = ref.lstm_forward(s, *_w(m, "lstm_last"), return_sequences=False).output
        return [ref.dense_forward(s, *_w(m, "per_step")), ref.dense_forward(last, *_w(m, "summary"))]

    r = _rng(2)
    return Case(model, [r.standard_normal((N, T, F))], [r.standard_normal((N, T, 2)), r.standard_normal((N, 1))],
                reference)


def shared() -> Case:
    """One Dense applied to two tensors."""
    a = L.Input((4,), name="a")
    b = L.Input((4,), name="b")
    layer = L.Dense(3, activation="tanh", name="shared")
    u, v = layer(a), layer(b)
    out = L.Dense(1, name="head")(L.Concatenate(name="concat")([u, v]))
    model = Model([a, b], out, name="shared_model")

    def reference(m, xs):
        u = ref.dense_forward(xs[0], *_w(m, "shared"), activation="tanh")
        v = ref.dense_forward(xs[1], *_w(m, "shared"), activation="tanh")
        return [ref.dense_forward(np.concatenate([u, v], axis=-1), *_w(m, "head"))]

    r = _rng(3)
    return Case(model, [r.standard_normal((N, 4)), r.standard_normal((N, 4))], [r.standard_normal((N, 1))],
                reference)


def nested() -> Case:
    """A Sequential and a functional Model used as layers inside a Model."""
    inner_seq = Sequential([L.Input((T, F)), L.LSTM(3, return_sequences=True, name="inner_lstm")], name="inner_seq")
    inner_in = L.Input((3,), name="inner_in")
    inner_func = Model(inner_in, L.Dense(2, activation="tanh", name="inner_dense")(inner_in), name="inner_func")
    x = L.Input((T, F), name="x")
    s = inner_seq(x)
    last = L.LSTM(3, name="outer_lstm")(s)
    out = L.Dense(1, name="head")(inner_func(last))
    model = Model(x, out, name="nested")

    def reference(m, xs):
        s = ref.lstm_forward(xs[0], *m.get_layer("inner_seq").get_layer("inner_lstm").get_weights(),
                             return_sequences=True).output
        last = ref.lstm_forward(s, *_w(m, "outer_lstm"), return_sequences=False).output
        f = ref.dense_forward(last, *m.get_layer("inner_func").get_layer("inner_dense").get_weights(),
                              activation="tanh")
        return [ref.dense_forward(f, *_w(m, "head"))]

    r = _rng(4)
    return Case(model, [r.standard_normal((N, T, F))], [r.standard_normal((N, 1))], reference)


def encoder_decoder() -> Case:
    """encoder LSTM(return_state=True) -> decoder LSTM(initial_state=[h, c])."""
    T_dec = 4
    enc_in = L.Input((T, F), name="enc_in")
    dec_in = L.Input((T_dec, F), name="dec_in")
    _, h, c = L.LSTM(3, return_state=True, name="encoder")(enc_in)
    d = L.LSTM(3, return_sequences=True, name="decoder")(dec_in, initial_state=[h, c])
    out = L.Dense(2, name="head")(d)
    model = Model([enc_in, dec_in], out, name="seq2seq")

    def reference(m, xs):
        e = ref.lstm_forward(xs[0], *_w(m, "encoder"), return_sequences=False)
        d = ref.lstm_forward(xs[1], *_w(m, "decoder"), h0=e.h, c0=e.c, return_sequences=True).output
        return [ref.dense_forward(d, *_w(m, "head"))]

    r = _rng(5)
    return Case(model, [r.standard_normal((N, T, F)), r.standard_normal((N, T_dec, F))],
                [r.standard_normal((N, T_dec, 2))], reference)


def bidirectional() -> Case:
    """Bidirectional(LSTM(return_sequences=True)) whose output is joined with the input again."""
    x = L.Input((T, F), name="x")
    bi = L.Bidirectional(L.LSTM(2, return_sequences=True), name="bi")(x)
    joined = L.Concatenate(name="skip")([bi, x])
    out = L.Dense(1, name="head")(L.LSTM(2, name="top")(joined))
    model = Model(x, out, name="bidi")

    def reference(m, xs):
        layer = m.get_layer("bi")
        fwd = ref.lstm_forward(xs[0], *layer.forward_layer.get_weights(), return_sequences=True).output
        bwd = ref.lstm_forward(xs[0], *layer.backward_layer.get_weights(), go_backwards=True,
                               return_sequences=True).output[:, ::-1]
        joined = np.concatenate([fwd, bwd, xs[0]], axis=-1)
        top = ref.lstm_forward(joined, *_w(m, "top"), return_sequences=False).output
        return [ref.dense_forward(top, *_w(m, "head"))]

    r = _rng(6)
    return Case(model, [r.standard_normal((N, T, F))], [r.standard_normal((N, 1))], reference)


BUILDERS = {"two_inputs": two_inputs, "two_outputs": two_outputs, "shared": shared, "nested": nested,
            "encoder_decoder": encoder_decoder, "bidirectional": bidirectional}


def model_x(case: Case) -> Any:
    """The inputs as the model takes them: a list for several inputs, the array for one."""
    return case.x if len(case.x) > 1 else case.x[0]


def as_list(outputs: Any) -> List[np.ndarray]:
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def model_y(case: Case) -> Any:
    return case.y if len(case.y) > 1 else case.y[0]
