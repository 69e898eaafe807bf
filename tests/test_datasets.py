"""rnnkit.datasets: shapes, dtypes and splits, determinism by seed, what each set is made of,
that the long-range tasks need memory, and clear errors for bad arguments."""

import sys

import numpy as np
import pytest

import rnnkit
from rnnkit import datasets

SMALL = {  # every loader, small enough to run in milliseconds
    "sine_waves": dict(samples=200, timesteps=12, horizon=2),
    "random_walk": dict(samples=200, timesteps=12),
    "adding_problem": dict(samples=200, timesteps=16),
    "copy_task": dict(samples=200, timesteps=13, length=4, num_symbols=5),
    "temporal_patterns": dict(samples=200, timesteps=16),
    "digits": dict(samples=200, source="generated"),
}
# (x shape, y shape) of one sample, y's kind, and num_classes, for the SMALL settings
EXPECTED = {
    "sine_waves": ((12, 1), (2,), "f", None),
    "random_walk": ((12, 1), (1,), "f", None),
    "adding_problem": ((16, 2), (1,), "f", None),
    "copy_task": ((13, 7), (13,), "i", 6),
    "temporal_patterns": ((16, 1), (), "i", 5),
    "digits": ((8, 8), (), "i", 10),
}


def load(name, **kwargs):
    return datasets.load(name, **(SMALL[name] | kwargs))


def arrays(dataset):
    return [dataset.x_train, dataset.y_train, dataset.x_val, dataset.y_val, dataset.x_test, dataset.y_test]


REAL = ["japanese_vowels", "sunspots"]  # shipped data, tested on their own below


def test_the_registry_lists_every_loader():
    assert datasets.available() == list(SMALL) + REAL
    assert all(callable(getattr(datasets, name)) for name in datasets.available())


@pytest.mark.parametrize("name", list(SMALL))
class TestEveryDataset:
    def test_shapes_dtypes_and_split_sizes(self, name):
        dataset = load(name)
        x_shape, y_shape, y_kind, num_classes = EXPECTED[name]
        assert dataset.name == name and dataset.num_classes == num_classes
        assert dataset.task == ("regression" if y_kind == "f" else "classification")
        sizes = [len(x) for x in (dataset.x_train, dataset.x_val, dataset.x_test)]
        assert sizes == [140, 30, 30]
        for x, y in dataset:
            assert x.shape[1:] == x_shape and y.shape[1:] == y_shape and len(x) == len(y)
            assert x.dtype == np.float32 and np.isfinite(x).all()
            assert y.dtype == (np.float32 if y_kind == "f" else np.int64)
        if num_classes:
            labels = np.concatenate([dataset.y_train, dataset.y_val, dataset.y_test])
            assert labels.min() >= 0 and labels.max() < num_classes and len(dataset.class_names) == num_classes

    def test_unpacks_the_keras_way(self, name):
        dataset = load(name)
        (x_train, y_train), (x_val, y_val), (x_test, _) = dataset
        assert x_train is dataset.x_train and y_val is dataset.y_val and x_test is dataset.test[0]
        assert dataset.validation == (x_val, y_val) and dataset.train == (x_train, y_train)
        assert name in repr(dataset) and str(x_train.shape) in repr(dataset)

    def test_the_same_seed_gives_the_same_arrays_and_another_seed_others(self, name):
        first, again, other = load(name, seed=3), load(name, seed=3), load(name, seed=4)
        for a, b, _ in zip(arrays(first), arrays(again), arrays(other)):
            np.testing.assert_array_equal(a, b)
        assert not np.array_equal(first.x_train, other.x_train)

    def test_dtype_follows_the_argument_and_floatx(self, name):
        assert load(name, dtype="float64").x_train.dtype == np.float64
        rnnkit.config.set_floatx("float64")
        assert load(name).x_train.dtype == np.float64
        with pytest.raises(ValueError, match=r"dtype must be 'float32' or 'float64', got 'int32'"):
            load(name, dtype="int32")

    @pytest.mark.parametrize("splits, message", [
        ((0.0, 0.1), "'validation_split' must be a finite number above 0, got 0.0"),
        ((0.2, 1.0), "'test_split' must be a fraction strictly between 0 and 1, got 1.0"),
        ((0.5, 0.5), "validation_split \\+ test_split must leave training samples: 0.5 \\+ 0.5 >= 1"),
        (("0.1", 0.1), "'validation_split' must be a finite number above 0, got '0.1'"),
    ])
    def test_bad_split_fractions(self, name, splits, message):
        with pytest.raises(ValueError, match=message):
            load(name, validation_split=splits[0], test_split=splits[1])

    def test_bad_samples_and_seed(self, name):
        with pytest.raises(ValueError, match="'samples' must be a whole number of at least 3, got 2"):
            load(name, samples=2)
        with pytest.raises(TypeError, match="seed must be an integer, got float"):
            load(name, seed=1.5)


# ---------------------------------------------------------------------- forecasting
@pytest.mark.parametrize("loader", [datasets.sine_waves, datasets.random_walk])
def test_windows_slide_one_step_and_targets_are_the_next_values(loader):
    dataset = loader(samples=120, timesteps=10, horizon=3)
    for x, y in dataset:
        np.testing.assert_array_equal(x[1:, :-1], x[:-1, 1:])          # consecutive windows of one series
        for j in range(3):                                               # y[k, j] is the value j + 1 steps on
            np.testing.assert_array_equal(y[:-1 - j, j], x[1 + j:, -1, 0])


@pytest.mark.parametrize("loader", [datasets.sine_waves, datasets.random_walk])
def test_the_normalizer_is_the_training_parts_and_inverts(loader):
    dataset = loader(samples=400, timesteps=10, dtype="float64")
    train_series = np.concatenate([dataset.x_train[0, :, 0], dataset.y_train[:, 0]])  # the whole training part
    assert abs(train_series.mean()) < 1e-9 and abs(train_series.std() - 1) < 1e-9
    normalizer = dataset.normalizer
    raw = normalizer.inverse_transform(dataset.x_test)
    np.testing.assert_allclose(normalizer.transform(raw), dataset.x_test, atol=1e-12)
    np.testing.assert_allclose(raw, dataset.x_test * normalizer.std + normalizer.mean)
    assert normalizer.inverse_transform(np.float32([1.0])).dtype == np.float32
    assert normalizer.transform([1, 2]).dtype == np.float64


def test_normalizer_needs_a_positive_std_and_numbers():
    with pytest.raises(ValueError, match="positive finite std"):
        datasets.Normalizer(0.0, 0.0)
    with pytest.raises(TypeError, match="expected a numeric array, got dtype <U1"):
        datasets.Normalizer(0.0, 1.0).transform(["a"])


def test_clean_sine_waves_are_predicted_exactly_by_a_linear_model_and_noise_is_not():
    def linear_fit_mse(dataset):  # three sines obey a linear recurrence of order 6
        def features(x):
            return np.c_[x[:, -6:, 0], np.ones(len(x))]

        weights = np.linalg.lstsq(features(dataset.x_train), dataset.y_train, rcond=None)[0]
        return np.mean((features(dataset.x_test) @ weights - dataset.y_test) ** 2)

    assert linear_fit_mse(datasets.sine_waves(samples=300, noise=0, dtype="float64")) < 1e-12
    assert linear_fit_mse(datasets.sine_waves(samples=300, noise=0.1, dtype="float64")) > 1e-3


def test_random_walk_prices_have_the_asked_drift_and_volatility():
    dataset = datasets.random_walk(samples=4000, timesteps=5, trend=0.004, volatility=0.02, seasonality=0,
                                   dtype="float64")
    prices = dataset.normalizer.inverse_transform(dataset.y_train[:, 0])
    returns = np.diff(np.log(prices))
    assert prices.min() > 0
    assert abs(returns.mean() - 0.004) < 0.0015 and abs(returns.std() - 0.02) < 0.002


@pytest.mark.parametrize("kwargs, message", [
    (dict(noise=-0.1), "'noise' must be a finite number at least 0, got -0.1"),
    (dict(timesteps=0), "'timesteps' must be a whole number of at least 1, got 0"),
    (dict(horizon=1.5), "'horizon' must be a whole number of at least 1, got 1.5"),
])
def test_sine_waves_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        datasets.sine_waves(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(volatility=0), "'volatility' must be a finite number above 0, got 0"),
    (dict(period=1), "'period' must be a finite number above 1, got 1"),
    (dict(trend=float("nan")), "'trend' must be a finite number, got nan"),
])
def test_random_walk_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        datasets.random_walk(**kwargs)


# ---------------------------------------------------------------------- long-range memory
def test_adding_problem_targets_are_the_sums_of_the_two_marked_numbers():
    x, y = datasets.adding_problem(samples=500, timesteps=20, dtype="float64").train
    values, markers = x[..., 0], x[..., 1]
    assert set(np.unique(markers)) == {0.0, 1.0}
    np.testing.assert_array_equal(markers[:, :10].sum(axis=1), 1)      # one marker in each half
    np.testing.assert_array_equal(markers[:, 10:].sum(axis=1), 1)
    np.testing.assert_allclose(y[:, 0], (values * markers).sum(axis=1))
    assert values.min() >= 0 and values.max() < 1


def test_adding_problem_without_memory_scores_chance():
    (x_train, y_train), _, (x_test, y_test) = datasets.adding_problem(samples=6000, timesteps=50, dtype="float64")
    mean_mse = np.mean((y_test - y_train.mean()) ** 2)
    assert 0.14 < mean_mse < 0.19                                       # chance: 1/6

    def last_step(x):  # all a model without memory knows when it answers
        value, marker = x[:, -1, 0], x[:, -1, 1]
        return np.c_[value, marker, value * marker, np.ones(len(x))]

    weights = np.linalg.lstsq(last_step(x_train), y_train, rcond=None)[0]
    memoryless_mse = np.mean((last_step(x_test) @ weights - y_test) ** 2)
    assert memoryless_mse > 0.9 * mean_mse


def test_copy_task_layout():
    length, symbols = 4, 5
    x, y = datasets.copy_task(samples=100, timesteps=13, length=length, num_symbols=symbols).train
    codes = x.argmax(axis=-1)
    np.testing.assert_array_equal(x.sum(axis=-1), 1)                   # one-hot
    assert codes[:, :length].min() >= 1 and codes[:, :length].max() <= symbols
    np.testing.assert_array_equal(codes[:, 13 - length - 1], symbols + 1)  # the delimiter
    np.testing.assert_array_equal(codes[:, length:13 - length - 1], 0)
    np.testing.assert_array_equal(codes[:, -length:], 0)
    np.testing.assert_array_equal(y[:, -length:], codes[:, :length])   # the recall
    np.testing.assert_array_equal(y[:, :-length], 0)


def test_copy_task_without_memory_recalls_at_chance():
    """The best answer from the current input step alone (the majority label seen with each
    input code in training) recalls the symbols at chance, 1/num_symbols."""
    length, symbols = 5, 8
    dataset = datasets.copy_task(samples=3000, timesteps=20, length=length, num_symbols=symbols)
    classes = dataset.num_classes

    def codes(x):
        return x.argmax(axis=-1)

    counts = np.bincount((codes(dataset.x_train) * classes + dataset.y_train).ravel(),
                         minlength=(symbols + 2) * classes).reshape(symbols + 2, classes)
    answer = counts.argmax(axis=1)                                      # per input code
    predicted = answer[codes(dataset.x_test)]
    recall_accuracy = np.mean(predicted[:, -length:] == dataset.y_test[:, -length:])
    assert recall_accuracy < 1 / symbols + 0.03
    assert np.all(predicted[:, :-length] == dataset.y_test[:, :-length])  # blanks need no memory


@pytest.mark.parametrize("kwargs, message", [
    (dict(timesteps=1), "'timesteps' must be a whole number of at least 2, got 1"),
    (dict(timesteps=None), "'timesteps' must be a whole number of at least 2, got None"),
])
def test_adding_problem_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        datasets.adding_problem(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(timesteps=10, length=5), "'timesteps' must be at least 2 \\* length \\+ 1 = 11 .* got 10"),
    (dict(num_symbols=1), "'num_symbols' must be a whole number of at least 2, got 1"),
    (dict(length=0), "'length' must be a whole number of at least 1, got 0"),
])
def test_copy_task_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        datasets.copy_task(**kwargs)


# ---------------------------------------------------------------------- classification
def test_temporal_patterns_cover_every_class():
    dataset = datasets.temporal_patterns(samples=1000)
    assert dataset.class_names == datasets.PATTERNS
    counts = np.bincount(dataset.y_train, minlength=5)
    assert counts.min() > 0.6 * counts.mean()


def test_temporal_patterns_without_noise_are_bounded_by_their_amplitude():
    x, _ = datasets.temporal_patterns(samples=200, noise=0).train
    assert np.abs(x).max() <= 1.5


def nearest_neighbour_accuracy(dataset):
    """Test accuracy of 1-nearest-neighbour on the training images: proof that the classes
    are really distinct digits."""
    x_train, x_test = (x.reshape(len(x), -1) for x in (dataset.x_train, dataset.x_test))
    nearest = ((x_test[:, None] - x_train) ** 2).sum(axis=-1).argmin(axis=1)
    return np.mean(dataset.y_train[nearest] == dataset.y_test)


def test_generated_digits_are_images_of_distinct_digits():
    dataset = datasets.digits(samples=1500, source="generated")
    assert dataset.x_train.min() >= 0 and dataset.x_train.max() <= 1
    assert set(np.unique(dataset.y_train)) == set(range(10))
    assert "generated" in dataset.description
    assert nearest_neighbour_accuracy(dataset) > 0.95                             # chance: 0.1


def test_sklearn_digits_are_its_images_scaled_and_shuffled():
    load_digits = pytest.importorskip("sklearn.datasets").load_digits
    bunch = load_digits()
    dataset = datasets.digits(source="sklearn", dtype="float64")
    assert len(dataset.x_train) + len(dataset.x_val) + len(dataset.x_test) == 1797
    flat = (bunch.images / 16.0).reshape(1797, -1)
    index = {row.tobytes(): label for row, label in zip(flat, bunch.target)}
    assert all(index[x.ravel().tobytes()] == y for x, y in zip(dataset.x_test, dataset.y_test))
    assert nearest_neighbour_accuracy(dataset) > 0.95
    assert not np.array_equal(dataset.y_train[:50], bunch.target[:50])  # shuffled


def test_digits_fall_back_to_generated_without_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)                  # import sklearn now fails
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    auto, generated = datasets.digits(samples=100), datasets.digits(samples=100, source="generated")
    for a, b in zip(arrays(auto), arrays(generated)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ImportError, match="needs scikit-learn: pip install scikit-learn"):
        datasets.digits(source="sklearn")


def test_digits_bad_arguments():
    with pytest.raises(ValueError, match="source must be 'auto', 'sklearn' or 'generated', got 'mnist'"):
        datasets.digits(source="mnist")
    with pytest.raises(TypeError, match="timesteps"):
        datasets.load("digits", timesteps=10)
    pytest.importorskip("sklearn")
    with pytest.raises(ValueError, match="scikit-learn has 1797 digits, asked for 5000 samples"):
        datasets.digits(samples=5000, source="sklearn")


def test_load_names_the_valid_datasets():
    with pytest.raises(ValueError, match="unknown dataset 'mnist'; expected one of 'sine_waves', 'random_walk', "
                                         "'adding_problem', 'copy_task', 'temporal_patterns', 'digits'"):
        datasets.load("mnist")
    np.testing.assert_array_equal(datasets.load("adding_problem", samples=50).x_test,
                                  datasets.adding_problem(samples=50).x_test)


def test_a_dataset_checks_its_parts():
    x = np.zeros((4, 3, 1))
    with pytest.raises(ValueError, match="task must be one of"):
        datasets.Dataset("mine", "ranking", x, x, x, x, x, x)
    with pytest.raises(ValueError, match="x_val and y_val must hold the same, non-zero number of samples, got 4 and 2"):
        datasets.Dataset("mine", "regression", x, x, x, x[:2], x, x)


# ---------------------------------------------------------------------- real data, shipped
def test_japanese_vowels_is_the_official_split_padded_with_lengths():
    data = rnnkit.datasets.japanese_vowels(dtype="float64")
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = data
    assert data.task == "classification" and data.num_classes == 9 and len(data.class_names) == 9
    assert len(x_train) + len(x_val) == 270 and len(x_test) == 370
    assert x_train.shape[1:] == x_test.shape[1:] == (29, 12) and x_train.dtype == np.float64
    # 3 of each speaker's 30 training utterances validate; the test part is the official one.
    assert np.bincount(y_val, minlength=9).tolist() == [3] * 9
    assert np.bincount(y_train, minlength=9).tolist() == [27] * 9
    assert np.bincount(y_test, minlength=9).tolist() == [31, 35, 88, 44, 29, 24, 40, 50, 29]
    for (x, _), lengths in zip(data, data.lengths):
        assert lengths.min() >= 7 and lengths.max() <= 29
        frames = np.arange(29)[None, :] < lengths[:, None]
        assert np.all(x[~frames] == 0) and np.all(np.abs(x[frames]).sum(axis=-1) > 0)
    # The first training utterance of the published file (speaker 1), to the last decimal.
    x_all = np.concatenate([x_train, x_val])
    first = np.flatnonzero((x_all[:, 0, 0] == 1.860936) & (x_all[:, 0, 2] == 0.261557))
    assert len(first) == 1 and np.concatenate([y_train, y_val])[first[0]] == 0
    assert x_all[first[0], 1, 0] == 1.891651 and x_all[first[0], 0, 1] == -0.207383


def test_japanese_vowels_options():
    a, b = rnnkit.datasets.japanese_vowels(seed=1), rnnkit.datasets.japanese_vowels(seed=1)
    np.testing.assert_array_equal(a.x_val, b.x_val)
    assert a.x_train.dtype == np.float32
    other = rnnkit.datasets.japanese_vowels(seed=2)
    assert not np.array_equal(a.y_val, other.y_val) or not np.array_equal(a.x_val, other.x_val)
    assert len(rnnkit.datasets.japanese_vowels(validation_split=0.2).x_val) == 54
    standard = rnnkit.datasets.japanese_vowels(standardize=True, dtype="float64")
    frames = np.arange(29)[None, :] < standard.lengths[0][:, None]
    together = np.concatenate([standard.x_train[frames], standard.x_val[np.arange(29)[None, :] <
                                                                         standard.lengths[1][:, None]]])
    np.testing.assert_allclose(together.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(together.std(axis=0), 1, rtol=1e-12)
    assert np.all(standard.x_test[np.arange(29)[None, :] >= standard.lengths[2][:, None]] == 0)
    with pytest.raises(ValueError, match="validation_split"):
        rnnkit.datasets.japanese_vowels(validation_split=1.0)
    with pytest.raises(TypeError, match="standardize must be a bool"):
        rnnkit.datasets.japanese_vowels(standardize="yes")
    assert rnnkit.datasets.load("japanese_vowels").name == "japanese_vowels"


def test_sunspots_windows_of_the_yearly_series():
    data = rnnkit.datasets.sunspots(timesteps=10, horizon=2, dtype="float64")
    (x_train, y_train), (x_val, _), (x_test, y_test) = data
    assert data.task == "regression" and x_train.shape[1:] == (10, 1) and y_train.shape[1:] == (2,)
    assert len(x_train) + len(x_val) + len(x_test) == 309 - 3 * 11
    raw = data.normalizer.inverse_transform(x_train[0, :, 0])
    np.testing.assert_allclose(raw[:5], [5, 11, 16, 23, 36], rtol=1e-12)  # 1700-1704
    np.testing.assert_allclose(data.normalizer.inverse_transform(y_test[-1]), [7.5, 2.9], rtol=1e-12)  # 2007, 2008
    # Windows follow one another a year apart, and the target continues the window.
    np.testing.assert_array_equal(x_train[1, :-1, 0], x_train[0, 1:, 0])
    np.testing.assert_array_equal(x_train[0, -1, 0], x_train[1, -2, 0])
    np.testing.assert_array_equal(y_train[0, 0], x_train[1, -1, 0])
    with pytest.raises(ValueError, match="shorter window"):
        rnnkit.datasets.sunspots(timesteps=200)
