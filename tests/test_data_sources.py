"""fit / evaluate / predict fed by generators, iterators and PyDataset subclasses: the same
batches give bit-identical results to arrays, the PyDataset protocol (lazy, in order, one
on_epoch_end per epoch), exhaustion of generators, and clear errors for bad batches."""

import weakref

import numpy as np
import pytest

import rnnkit
from rnnkit import layers
from rnnkit.layers import GRU, LSTM, Dense, Input, Masking
from rnnkit.models import Model, Sequential
from rnnkit.utils import PyDataset, set_random_seed

N, T, F, B = 38, 5, 3, 8  # 5 batches, the last one of 6 samples


# ------------------------------------------------------------------ data and models
def regression(n=N, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, T, F)).astype(np.float32)
    y = (x[:, :, :1].mean(axis=1) + 0.1 * rng.standard_normal((n, 1))).astype(np.float32)
    return x, y


def masked_regression(n=N, seed=1):
    x, y = regression(n, seed)
    lengths = np.random.default_rng(seed).integers(1, T + 1, size=n)
    for i, length in enumerate(lengths):
        x[i, length:] = 0.0  # trailing padding, masked by Masking(0.0)
    return x, y


def two_io_data(n=N, seed=2):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, T, F)).astype(np.float32)
    b = rng.standard_normal((n, 4)).astype(np.float32)
    reg = (a[:, :, :1].mean(axis=1) + b[:, :1]).astype(np.float32)
    cls = rng.integers(0, 3, size=(n,))
    return (a, b), (reg, cls)


def sequential(seed=1):
    set_random_seed(seed)
    model = Sequential([Input((T, F)), LSTM(4), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def masked_sequential(seed=1):
    set_random_seed(seed)
    model = Sequential([Input((T, F)), Masking(0.0), GRU(4), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def two_io_model(seed=1):
    set_random_seed(seed)
    a = Input((T, F), name="a")
    b = Input((4,), name="b")
    h = LSTM(4)(a)
    reg = Dense(1, name="reg")(layers.Concatenate()([h, b]))
    cls = Dense(3, activation="softmax", name="cls")(h)
    model = Model([a, b], [reg, cls])
    model.compile(optimizer="adam", loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
                  loss_weights={"reg": 1.0, "cls": 0.5})
    return model


def slices(n=N, size=B):
    return [slice(start, start + size) for start in range(0, n, size)]


def take(value, s):
    """``value`` (an array, or a list/dict of arrays) restricted to the samples ``s``."""
    if isinstance(value, dict):
        return {k: v[s] for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [v[s] for v in value]
    return value[s]


def batch_list(x, y, sw=None, n=N, size=B):
    if sw is None:
        return [(take(x, s), take(y, s)) for s in slices(n, size)]
    return [(take(x, s), take(y, s), take(sw, s)) for s in slices(n, size)]


def generator(batches, repeat=1):
    for _ in range(repeat):
        yield from batches


class ListDataset(PyDataset):
    """A PyDataset serving ready-made batches, recording the indices asked for."""

    def __init__(self, batches, **kwargs):
        super().__init__(**kwargs)
        self.batches = batches
        self.calls = []
        self.epoch_ends = 0

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        self.calls.append(index)
        return self.batches[index]

    def on_epoch_end(self):
        self.epoch_ends += 1


def assert_same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb) > 0
    for u, v in zip(wa, wb):
        np.testing.assert_array_equal(u, v)


def assert_weights_changed(model, seed_model):
    assert any(not np.array_equal(u, v) for u, v in zip(model.get_weights(), seed_model.get_weights()))


# ------------------------------------------------------------------ 1. same weights as arrays
SOURCES = {
    "generator": lambda batches, epochs: generator(batches, epochs),
    "iterator": lambda batches, epochs: iter(batches * epochs),
    "pydataset": lambda batches, epochs: ListDataset(batches),
}


def fit_both(build, x, y, sw=None, epochs=2, kind="generator"):
    """The same model fitted on arrays (shuffle=False) and on the same batches from ``kind``."""
    reference = build()
    initial = build()
    history_arrays = reference.fit(x, y, sample_weight=sw, batch_size=B, epochs=epochs, shuffle=False, verbose=0)
    model = build()
    batches = batch_list(x, y, sw)
    source = SOURCES[kind](batches, epochs)
    steps = None if kind == "pydataset" else len(batches)
    history_source = model.fit(source, epochs=epochs, steps_per_epoch=steps, verbose=0)
    assert_weights_changed(model, initial)
    assert_same_weights(model, reference)
    assert history_source.history.keys() == history_arrays.history.keys()
    for key, values in history_arrays.history.items():
        assert len(history_source.history[key]) == epochs
        np.testing.assert_array_equal(history_source.history[key], values)
    return model, reference


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_sequential_same_weights_as_arrays(kind):
    x, y = regression()
    fit_both(sequential, x, y, kind=kind)


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_sample_weight_batches_same_weights_as_arrays(kind):
    x, y = regression()
    sw = np.random.default_rng(5).uniform(0.1, 2.0, size=N)
    fit_both(sequential, x, y, sw, kind=kind)


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_masked_sequential_same_weights_as_arrays(kind):
    x, y = masked_regression()
    assert (x == 0).all(axis=-1).any()  # some steps really are masked
    fit_both(masked_sequential, x, y, kind=kind)


@pytest.mark.parametrize("kind", sorted(SOURCES))
@pytest.mark.parametrize("structure", ["list", "dict"])
def test_two_input_two_output_same_weights_as_arrays(kind, structure):
    (a, b), (reg, cls) = two_io_data()
    if structure == "list":
        x, y = [a, b], [reg, cls]
    else:
        x, y = {"a": a, "b": b}, {"reg": reg, "cls": cls}
    model, _ = fit_both(two_io_model, x, y, kind=kind)
    assert {"loss", "reg_loss", "cls_loss"} <= set(model.history.history)


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_two_input_two_output_with_sample_weight_batches(kind):
    (a, b), (reg, cls) = two_io_data()
    sw = np.random.default_rng(6).uniform(0.1, 2.0, size=N)
    fit_both(two_io_model, {"a": a, "b": b}, {"reg": reg, "cls": cls}, sw, kind=kind)


def test_sample_weights_in_batches_are_used():
    """Weights from the batches change training (the third entry is not ignored)."""
    x, y = regression()
    sw = np.random.default_rng(5).uniform(0.1, 2.0, size=N)
    weighted, plain = sequential(), sequential()
    weighted.fit(generator(batch_list(x, y, sw)), steps_per_epoch=5, verbose=0)
    plain.fit(generator(batch_list(x, y)), steps_per_epoch=5, verbose=0)
    assert any(not np.array_equal(u, v) for u, v in zip(weighted.get_weights(), plain.get_weights()))


# ------------------------------------------------------------------ 2. validation, evaluate, predict
@pytest.mark.parametrize("kind", ["generator", "pydataset"])
def test_validation_source_matches_evaluate(kind):
    x, y = regression()
    xv, yv = regression(n=21, seed=9)  # batches of 8, 8, 5
    val_batches = batch_list(xv, yv, n=21)
    model = sequential()
    if kind == "generator":
        history = model.fit(x, y, batch_size=B, epochs=2, shuffle=False, verbose=0,
                            validation_data=generator(val_batches, repeat=2), validation_steps=3)
    else:
        dataset = ListDataset(val_batches)
        history = model.fit(x, y, batch_size=B, epochs=2, shuffle=False, verbose=0, validation_data=dataset)
        assert dataset.calls == [0, 1, 2] * 2 and dataset.epoch_ends == 2
    assert len(history.history["val_loss"]) == 2
    assert history.history["val_loss"][-1] == model.evaluate(xv, yv, batch_size=B, verbose=0)
    assert history.history["val_loss"][0] != history.history["val_loss"][1]


def test_validation_source_two_outputs_matches_evaluate():
    (a, b), (reg, cls) = two_io_data()
    (av, bv), (regv, clsv) = two_io_data(n=20, seed=11)
    model = two_io_model()
    val = ListDataset(batch_list({"a": av, "b": bv}, {"reg": regv, "cls": clsv}, n=20))
    history = model.fit([a, b], [reg, cls], batch_size=B, shuffle=False, verbose=0, validation_data=val)
    expected = model.evaluate([av, bv], [regv, clsv], batch_size=B, verbose=0, return_dict=True)
    for key, value in expected.items():
        assert history.history[f"val_{key}"] == [value]


@pytest.mark.parametrize("kind", ["generator", "pydataset"])
def test_evaluate_accepts_sources(kind):
    x, y = regression()
    sw = np.random.default_rng(3).uniform(0.1, 2.0, size=N)
    model = sequential()
    model.fit(x, y, batch_size=B, verbose=0)
    for weights in (None, sw):
        expected = model.evaluate(x, y, sample_weight=weights, batch_size=B, verbose=0)
        batches = batch_list(x, y, weights)
        source = generator(batches) if kind == "generator" else ListDataset(batches)
        steps = len(batches) if kind == "generator" else None
        assert model.evaluate(source, steps=steps, verbose=0) == expected
    # steps limits the batches read
    assert model.evaluate(generator(batch_list(x, y)), steps=2, verbose=0) == model.evaluate(
        x[:16], y[:16], batch_size=B, verbose=0)
    assert model.evaluate(ListDataset(batch_list(x, y)), steps=2, verbose=0) == model.evaluate(
        x[:16], y[:16], batch_size=B, verbose=0)


def test_evaluate_source_with_metrics_return_dict():
    x, y = regression()
    model = sequential()
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    expected = model.evaluate(x, y, batch_size=B, verbose=0, return_dict=True)
    got = model.evaluate(ListDataset(batch_list(x, y)), verbose=0, return_dict=True)
    assert got == expected and set(got) == {"loss", "mae"}


class XOnly(PyDataset):
    """Batches of inputs only (as arrays, or as 1-tuples)."""

    def __init__(self, x, as_tuple=False):
        super().__init__()
        self.x, self.as_tuple = x, as_tuple

    def __len__(self):
        return -(-len(self.x) // B)

    def __getitem__(self, index):
        xb = self.x[index * B:(index + 1) * B]
        return (xb,) if self.as_tuple else xb


def test_predict_sources_equal_arrays():
    x, y = regression()
    model = sequential()
    model.fit(x, y, batch_size=B, verbose=0)
    expected = model.predict(x, batch_size=B, verbose=0)
    assert expected.shape == (N, 1)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    for source in (XOnly(x), XOnly(x, as_tuple=True), ListDataset(batch_list(x, y))):
        np.testing.assert_array_equal(model.predict(source, verbose=0), expected)
    np.testing.assert_array_equal(model.predict(generator([take(x, s) for s in slices()]), steps=5, verbose=0),
                                  expected)
    np.testing.assert_array_equal(model.predict(iter(batch_list(x, y)), verbose=0), expected)  # runs until exhausted
    np.testing.assert_array_equal(model.predict(generator(batch_list(x, y), repeat=3), steps=2, verbose=0),
                                  expected[:16])
    np.testing.assert_array_equal(model.predict(XOnly(x), steps=2, verbose=0), expected[:16])


def test_predict_two_outputs_from_pydataset():
    (a, b), _ = two_io_data()
    model = two_io_model()
    expected = model.predict({"a": a, "b": b}, batch_size=B, verbose=0)
    for x in ([a, b], {"a": a, "b": b}):
        got = model.predict(ListDataset([(take(x, s),) for s in slices()]), verbose=0)
        assert isinstance(got, list) and len(got) == 2
        for u, v in zip(got, expected):
            np.testing.assert_array_equal(u, v)
    assert got[0].shape == (N, 1) and got[1].shape == (N, 3)


# ------------------------------------------------------------------ 3. PyDataset protocol
class LazyDataset(PyDataset):
    """Creates every batch in __getitem__ and tracks how many are alive at once."""

    def __init__(self, batches=7, size=4, **kwargs):
        super().__init__(**kwargs)
        self.count, self.size = batches, size
        self.calls, self.epoch_ends, self.live, self.max_live, self.created = [], 0, 0, 0, 0
        self.events = []

    def __len__(self):
        return self.count

    def _released(self):
        self.live -= 1

    def __getitem__(self, index):
        if not 0 <= index < self.count:
            raise IndexError(index)
        self.calls.append(index)
        self.events.append(("get", index))
        rng = np.random.default_rng(index)
        x = rng.standard_normal((self.size, T, F)).astype(np.float32)
        y = rng.standard_normal((self.size, 1)).astype(np.float32)
        for array in (x, y):
            weakref.finalize(array, self._released)
        self.created += 1
        self.live += 2
        self.max_live = max(self.max_live, self.live)
        return x, y

    def on_epoch_end(self):
        self.epoch_ends += 1
        self.events.append(("epoch_end",))


class Recorder(rnnkit.callbacks.Callback):
    def __init__(self, dataset):
        super().__init__()
        self.dataset = dataset

    def on_epoch_begin(self, epoch, logs=None):
        self.dataset.events.append(("epoch_begin", epoch))

    def on_train_batch_begin(self, batch, logs=None):
        self.dataset.events.append(("batch", batch))

    def on_epoch_end(self, epoch, logs=None):
        self.dataset.events.append(("callback_epoch_end", epoch))


def test_pydataset_protocol_in_fit():
    dataset = LazyDataset(batches=7)
    model = sequential()
    epochs = 3
    history = model.fit(dataset, epochs=epochs, verbose=0, callbacks=[Recorder(dataset)])
    assert len(history.history["loss"]) == epochs
    assert dataset.calls == list(range(7)) * epochs
    assert dataset.epoch_ends == epochs
    # lazily: each batch is read just before its step, and on_epoch_end closes each epoch
    expected = []
    for epoch in range(epochs):
        expected.append(("epoch_begin", epoch))
        for index in range(7):
            expected += [("get", index), ("batch", index)]
        expected += [("epoch_end",), ("callback_epoch_end", epoch)]
    assert dataset.events == expected
    # nothing is loaded at once: at most the current batch and the previous one are alive
    assert dataset.created == 7 * epochs
    assert dataset.max_live <= 4
    del history
    assert dataset.live == 0  # no batch is kept by the model


def test_pydataset_steps_per_epoch_restarts_from_zero():
    dataset = LazyDataset(batches=5)
    sequential().fit(dataset, epochs=2, steps_per_epoch=3, verbose=0)
    assert dataset.calls == [0, 1, 2, 0, 1, 2]
    assert dataset.epoch_ends == 2


def test_pydataset_protocol_in_evaluate_and_predict():
    model = sequential()
    dataset = LazyDataset(batches=6)
    model.evaluate(dataset, verbose=0)
    assert dataset.calls == list(range(6)) and dataset.epoch_ends == 1 and dataset.max_live <= 4
    dataset = LazyDataset(batches=6)
    assert model.predict(dataset, verbose=0).shape == (24, 1)
    assert dataset.calls == list(range(6)) and dataset.max_live <= 4


def test_pydataset_keras_constructor_arguments():
    dataset = ListDataset(batch_list(*regression()), workers=2, use_multiprocessing=False, max_queue_size=4)
    assert (dataset.workers, dataset.use_multiprocessing, dataset.max_queue_size) == (2, False, 4)
    sequential().fit(dataset, verbose=0)
    assert dataset.calls == [0, 1, 2, 3, 4]


def test_generator_is_read_lazily():
    x, y = regression()
    events = []

    def gen():
        for k, batch in enumerate(batch_list(x, y)):
            events.append(("get", k))
            yield batch

    class Steps(rnnkit.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            events.append(("batch", batch))

    sequential().fit(gen(), steps_per_epoch=5, verbose=0, callbacks=[Steps()])
    assert events == [e for k in range(5) for e in (("get", k), ("batch", k))]


# ------------------------------------------------------------------ 4. exhaustion
def counting(batches):
    consumed = []

    def gen():
        for k, batch in enumerate(batches):
            consumed.append(k)
            yield batch

    return gen(), consumed


def test_generator_without_steps_runs_until_exhausted():
    x, y = regression()
    source, consumed = counting(batch_list(x, y))
    model = sequential()
    history = model.fit(source, epochs=4, verbose=0)
    assert consumed == [0, 1, 2, 3, 4]
    assert len(history.history["loss"]) == 1  # training stops once the generator is exhausted
    reference = sequential()
    reference.fit(x, y, batch_size=B, epochs=1, shuffle=False, verbose=0)
    assert_same_weights(model, reference)
    assert history.history["loss"] == reference.history.history["loss"]


def test_iterator_without_steps_runs_until_exhausted():
    x, y = regression()
    model = sequential()
    history = model.fit(iter(batch_list(x, y)), epochs=3, verbose=0)
    assert len(history.history["loss"]) == 1
    reference = sequential()
    reference.fit(x, y, batch_size=B, shuffle=False, verbose=0)
    assert_same_weights(model, reference)


def test_generator_with_steps_continues_across_epochs():
    x, y = regression(n=48)  # 6 batches of 8
    batches = batch_list(x, y, n=48)
    source, consumed = counting(batches)
    seen = []

    class Track(rnnkit.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(list(consumed))

    model = sequential()
    history = model.fit(source, epochs=2, steps_per_epoch=3, verbose=0, callbacks=[Track()])
    assert seen == [[0, 1, 2], [0, 1, 2, 3, 4, 5]]  # epoch 2 reads on, never restarts
    assert len(history.history["loss"]) == 2
    # six optimizer steps on the six batches in order: as one epoch over the arrays
    reference = sequential()
    reference.fit(x, y, batch_size=B, epochs=1, shuffle=False, verbose=0)
    assert_same_weights(model, reference)
    # each epoch's loss is the sample-weighted mean over its own three batches
    assert history.history["loss"][0] != history.history["loss"][1]


def test_generator_running_out_mid_epoch_stops_training():
    x, y = regression()  # 5 batches
    source, consumed = counting(batch_list(x, y))
    history = sequential().fit(source, epochs=10, steps_per_epoch=2, verbose=0)
    assert consumed == [0, 1, 2, 3, 4]
    assert len(history.history["loss"]) == 3  # 2 + 2 + the last one, then it stops


def test_evaluate_generator_without_steps_reads_all():
    x, y = regression()
    model = sequential()
    source, consumed = counting(batch_list(x, y))
    assert model.evaluate(source, verbose=0) == model.evaluate(x, y, batch_size=B, verbose=0)
    assert consumed == [0, 1, 2, 3, 4]


# ------------------------------------------------------------------ 5. clear errors
def one_batch(batch):
    def gen():
        while True:
            yield batch
    return gen()


@pytest.mark.parametrize("bad,match", [
    (lambda x, y: (x, y, np.ones(len(x)), np.ones(len(x))), r"\(x, y\) or \(x, y, sample_weight\).*tuple of 4"),
    (lambda x, y: 3.0, r"\(x, y\) or \(x, y, sample_weight\).*float"),
    (lambda x, y: "batch", r"\(x, y\) or \(x, y, sample_weight\).*str"),
    (lambda x, y: (x[:, :, :2], y), r"does not fit the model.*shape"),
    (lambda x, y: (x, y[:-1]), r"does not fit the model.*same number of samples"),
    (lambda x, y: (x, y, np.ones(len(x) + 1)), r"does not fit the model.*same number of samples"),
])
@pytest.mark.parametrize("kind", ["generator", "pydataset"])
def test_bad_batches_are_clear_errors(bad, match, kind):
    x, y = regression(n=8)
    batch = bad(x, y)
    source = one_batch(batch) if kind == "generator" else ListDataset([batch])
    model = sequential()
    before = model.get_weights()
    with pytest.raises(ValueError, match=match):
        model.fit(source, steps_per_epoch=1, verbose=0)
    assert_same_weights_list(model.get_weights(), before)  # nothing was trained


def assert_same_weights_list(a, b):
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_bad_batch_in_evaluate_and_predict():
    x, y = regression(n=8)
    model = sequential()
    with pytest.raises(ValueError, match="tuple of 4"):
        model.evaluate(one_batch((x, y, None, None)), steps=1, verbose=0)
    with pytest.raises(ValueError, match="does not fit the model"):
        model.predict(ListDataset([(x[:, :, :1],)]), verbose=0)
    with pytest.raises(ValueError, match="does not fit the model"):
        model.evaluate(ListDataset([(x, y[:3])]), verbose=0)


def test_bad_batch_later_in_the_epoch_names_the_generator():
    x, y = regression()
    batches = batch_list(x, y)
    batches[3] = (batches[3][0][:, :, :2], batches[3][1])
    with pytest.raises(ValueError, match="the training generator"):
        sequential().fit(iter(batches), verbose=0)


def test_two_input_batch_with_wrong_structure():
    (a, b), (reg, cls) = two_io_data(n=8)
    model = two_io_model()
    with pytest.raises(ValueError, match=r"does not fit the model.*input"):
        model.fit(one_batch(([a], [reg, cls])), steps_per_epoch=1, verbose=0)
    with pytest.raises(ValueError, match=r"does not fit the model.*(unknown|output)"):
        model.fit(one_batch(({"a": a, "b": b}, {"reg": reg, "nope": cls})), steps_per_epoch=1, verbose=0)


@pytest.mark.parametrize("kind", ["generator", "pydataset"])
def test_y_or_sample_weight_with_a_source(kind):
    x, y = regression()
    source = generator(batch_list(x, y)) if kind == "generator" else ListDataset(batch_list(x, y))
    model = sequential()
    with pytest.raises(ValueError, match="do not pass y"):
        model.fit(source, y, steps_per_epoch=5, verbose=0)
    with pytest.raises(ValueError, match="do not pass y"):
        model.fit(source, sample_weight=np.ones(N), steps_per_epoch=5, verbose=0)


@pytest.mark.parametrize("kind", ["generator", "pydataset"])
def test_validation_split_with_a_source(kind):
    x, y = regression()
    source = generator(batch_list(x, y)) if kind == "generator" else ListDataset(batch_list(x, y))
    with pytest.raises(ValueError, match="validation_split"):
        sequential().fit(source, validation_split=0.2, steps_per_epoch=5, verbose=0)


class Empty(PyDataset):
    def __len__(self):
        return 0

    def __getitem__(self, index):
        raise AssertionError("an empty dataset must not be indexed")


def test_empty_pydataset_is_a_clear_error():
    model = sequential()
    for call in (lambda: model.fit(Empty(), verbose=0),
                 lambda: model.evaluate(Empty(), verbose=0),
                 lambda: model.predict(Empty(), verbose=0),
                 lambda: model.fit(*regression(), validation_data=Empty(), verbose=0)):
        with pytest.raises(ValueError, match="no batches"):
            call()


def test_empty_generator_in_fit_is_a_clear_error():
    """An empty generator is an error, as an empty PyDataset or empty arrays (not a silent no-op)."""
    model = sequential()
    with pytest.raises(ValueError, match="no batch"):
        model.fit(iter([]), epochs=2, verbose=0)


def test_empty_generator_in_evaluate_and_predict_is_a_clear_error():
    model = sequential()
    with pytest.raises(ValueError, match="no batch"):
        model.evaluate(iter([]), verbose=0)
    with pytest.raises(ValueError, match="no batch"):
        model.predict(iter([]), verbose=0)


def test_pydataset_without_len_is_a_clear_error():
    class NoLen(PyDataset):
        def __getitem__(self, index):
            return regression(n=4)

    with pytest.raises(NotImplementedError, match="__len__"):
        sequential().fit(NoLen(), verbose=0)


def test_generator_of_inputs_only_cannot_train_with_mse():
    x, _ = regression(n=8)
    model = sequential()
    before = model.get_weights()
    with pytest.raises(ValueError):
        model.fit(one_batch((x,)), steps_per_epoch=1, verbose=0)
    assert_same_weights_list(model.get_weights(), before)
    with pytest.raises(ValueError, match="needs targets"):
        model.evaluate(one_batch(x), steps=1, verbose=0)


@pytest.mark.parametrize("kind", ["generator", "pydataset"])
def test_class_weight_with_a_source_is_applied_or_refused(kind):
    """Keras applies class_weight to the batches of a generator or PyDataset; it must not be
    silently ignored (either applied, giving the array result, or a clear error)."""
    x, _ = regression()
    y = (x[:, :, 0].mean(axis=1, keepdims=True) > 0).astype(np.float32)
    class_weight = {0: 1.0, 1: 5.0}

    def classifier():
        set_random_seed(1)
        model = Sequential([Input((T, F)), LSTM(4), Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy")
        return model

    reference = classifier()
    reference.fit(x, y, batch_size=B, shuffle=False, class_weight=class_weight, verbose=0)
    model = classifier()
    batches = batch_list(x, y)
    source = generator(batches) if kind == "generator" else ListDataset(batches)
    try:
        model.fit(source, steps_per_epoch=len(batches), class_weight=class_weight, verbose=0)
    except ValueError as error:
        assert "class_weight" in str(error)
        return
    assert_same_weights(model, reference)
