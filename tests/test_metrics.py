"""rnnkit.metrics: hand-computed values (and Keras' documented ones), accumulation with sample
weights, reset_state, the 'accuracy' resolution of compile, names and configs."""

import numpy as np
import pytest

import rnnkit
from rnnkit import losses, metrics


def test_mean_accumulates_weighted_values():
    m = metrics.Mean()
    assert m.name == "mean" and m.result() == 0.0
    m.update_state([1, 3, 5, 7])
    assert m.result() == 4.0
    m.reset_state()
    m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert m.result() == 2.0  # Keras' documented value
    m.update_state([3.0], sample_weight=[2.0])  # total 4 + 6 = 10, count 2 + 2 = 4
    assert (m.total, m.count) == (10.0, 4.0) and m.result() == 2.5
    m.reset_state()
    assert (m.total, m.count, m.result()) == (0.0, 0.0, 0.0)
    # (N, T) values: a weight of shape (N,) applies to every step, and every step counts
    m.update_state([[1.0, 2.0], [3.0, 4.0]], sample_weight=[1.0, 3.0])
    assert m.result() == (1 + 2 + 3 * 3 + 3 * 4) / (2 + 6)


def test_binary_accuracy():
    m = metrics.BinaryAccuracy()
    assert m.name == "binary_accuracy"
    y_true, y_pred = [[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]]
    m.update_state(y_true, y_pred)
    assert m.result() == 0.75  # 0.6 > 0.5 is a wrong 1
    m.reset_state()
    m.update_state(y_true, y_pred, sample_weight=[1, 0, 0, 1])
    assert m.result() == 0.5
    assert metrics.BinaryAccuracy(threshold=0.7)(y_true, y_pred) == 1.0
    # y of shape (N,) against y_pred (N, 1)
    assert metrics.BinaryAccuracy()([1, 1, 0, 0], y_pred) == 0.75
    # multi-label: every label counts
    np.testing.assert_allclose(metrics.binary_accuracy([[1, 0, 1], [0, 0, 1]], [[0.9, 0.6, 0.4], [0.1, 0.2, 0.8]]),
                               [1 / 3, 1.0])
    with pytest.raises(ValueError, match="threshold"):
        metrics.BinaryAccuracy(threshold=1.0)


def test_binary_accuracy_on_sequences():
    y_true = np.array([[[1], [0], [1]], [[0], [0], [1]]])  # (N, T, 1)
    y_pred = np.array([[[0.9], [0.8], [0.7]], [[0.1], [0.2], [0.3]]])  # right: 2 of 3, then 2 of 3
    np.testing.assert_allclose(metrics.binary_accuracy(y_true, y_pred), [[1, 0, 1], [1, 1, 0]])
    m = metrics.BinaryAccuracy()
    m.update_state(y_true, y_pred, sample_weight=[3.0, 1.0])
    assert m.result() == pytest.approx((3 * 2 + 1 * 2) / (3 * 3 + 1 * 3))


def test_categorical_accuracy():
    y_true = [[0, 0, 1], [0, 1, 0]]
    y_pred = [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]
    m = metrics.CategoricalAccuracy()
    assert m.name == "categorical_accuracy"
    assert m(y_true, y_pred) == 0.5
    m.reset_state()
    m.update_state(y_true, y_pred, sample_weight=[0.7, 0.3])
    assert m.result() == pytest.approx(0.3)  # Keras' documented values
    # sequences (N, T, C): one value a step
    y_true = np.eye(3)[[[0, 1], [2, 2]]]
    y_pred = np.eye(3)[[[0, 2], [2, 1]]] * 0.5 + 0.1
    np.testing.assert_allclose(metrics.categorical_accuracy(y_true, y_pred), [[1, 0], [1, 0]])
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        metrics.categorical_accuracy(np.zeros((2, 3)), np.zeros((2, 4)))


def test_sparse_categorical_accuracy():
    y_pred = [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]
    m = metrics.SparseCategoricalAccuracy()
    assert m.name == "sparse_categorical_accuracy"
    assert m([[2], [1]], y_pred) == 0.5
    m.reset_state()
    m.update_state([2, 1], y_pred, sample_weight=[0.7, 0.3])
    assert m.result() == pytest.approx(0.3)
    assert metrics.SparseCategoricalAccuracy()(np.array([1.0, 1.0]), y_pred) == 1.0
    labels = np.array([[0, 1, 2], [2, 2, 0]])  # (N, T) with y_pred (N, T, C)
    logits = np.eye(3)[[[0, 1, 1], [2, 0, 0]]]
    np.testing.assert_allclose(metrics.sparse_categorical_accuracy(labels, logits), [[1, 1, 0], [1, 0, 1]])
    np.testing.assert_allclose(metrics.sparse_categorical_accuracy(labels[..., None], logits), [[1, 1, 0], [1, 0, 1]])
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 3\)"):
        metrics.sparse_categorical_accuracy([0, 1, 2], y_pred)


def test_regression_metrics_accumulate_over_batches():
    mse, mae = metrics.MeanSquaredError(), metrics.MeanAbsoluteError()
    assert (mse.name, mae.name) == ("mean_squared_error", "mean_absolute_error")
    # batch 1: errors [[1, 2], [0, -1]] -> per sample mse [2.5, 0.5], mae [1.5, 0.5]
    batch1 = (np.array([[0.0, 1.0], [2.0, 0.0]]), np.array([[1.0, 3.0], [2.0, -1.0]]))
    # batch 2: errors [[3, -3]] -> mse [9], mae [3]
    batch2 = (np.array([[1.0, 1.0]]), np.array([[4.0, -2.0]]))
    for m in (mse, mae):
        m.update_state(*batch1, sample_weight=[1.0, 2.0])
        m.update_state(*batch2, sample_weight=[0.5])
    assert mse.result() == pytest.approx((2.5 + 2 * 0.5 + 0.5 * 9) / 3.5)
    assert mae.result() == pytest.approx((1.5 + 2 * 0.5 + 0.5 * 3) / 3.5)
    mse.reset_state()
    mse.update_state(*batch2)
    assert mse.result() == 9.0


def test_accuracy_accumulates_over_batches_with_weights():
    m = metrics.SparseCategoricalAccuracy()
    m.update_state([0, 1], [[0.9, 0.1], [0.8, 0.2]], sample_weight=[1.0, 3.0])  # right, wrong
    m.update_state([1], [[0.3, 0.7]], sample_weight=[2.0])  # right
    assert m.result() == pytest.approx((1 + 2) / (1 + 3 + 2))
    m.reset_state()
    assert m.result() == 0.0


def test_mean_metric_wrapper():
    m = metrics.MeanMetricWrapper(lambda y_true, y_pred: np.abs(np.asarray(y_true) - y_pred), name="abs")
    m.update_state([1.0, 2.0], np.array([2.0, 2.0]))
    assert m.name == "abs" and m.result() == 0.5
    assert metrics.MeanMetricWrapper(metrics.binary_accuracy).name == "mean_metric_wrapper"
    m = metrics.MeanMetricWrapper(metrics.binary_accuracy, threshold=0.9)
    assert m([[1], [1]], [[0.95], [0.85]]) == 0.5


# --------------------------------------------------------------------- 'accuracy' resolution
N = 4
BATCH_SHAPES = {  # (y_true shape, y_pred shape) -> class
    ((N, 1), (N, 1)): metrics.BinaryAccuracy,
    ((N,), (N, 1)): metrics.BinaryAccuracy,
    ((N, 5, 1), (N, 5, 1)): metrics.BinaryAccuracy,
    ((N,), (N, 3)): metrics.SparseCategoricalAccuracy,
    ((N, 1), (N, 3)): metrics.SparseCategoricalAccuracy,
    ((N, 5), (N, 5, 3)): metrics.SparseCategoricalAccuracy,
    ((N, 5, 1), (N, 5, 3)): metrics.SparseCategoricalAccuracy,
    ((N, 3), (N, 3)): metrics.CategoricalAccuracy,
    ((N, 5, 3), (N, 5, 3)): metrics.CategoricalAccuracy,
}


@pytest.mark.parametrize("loss, expected", [
    ("binary_crossentropy", metrics.BinaryAccuracy),
    ("bce", metrics.BinaryAccuracy),
    (losses.binary_crossentropy, metrics.BinaryAccuracy),
    (losses.BinaryCrossentropy(from_logits=True), metrics.BinaryAccuracy),
    ("categorical_crossentropy", metrics.CategoricalAccuracy),
    (losses.categorical_crossentropy, metrics.CategoricalAccuracy),
    (losses.CategoricalCrossentropy(label_smoothing=0.1), metrics.CategoricalAccuracy),
    ("sparse_categorical_crossentropy", metrics.SparseCategoricalAccuracy),
    (losses.sparse_categorical_crossentropy, metrics.SparseCategoricalAccuracy),
    (losses.SparseCategoricalCrossentropy(from_logits=True), metrics.SparseCategoricalAccuracy),
    ({"class_name": "SparseCategoricalCrossentropy", "config": {}}, metrics.SparseCategoricalAccuracy),
])
@pytest.mark.parametrize("identifier", ["accuracy", "acc"])
def test_accuracy_from_the_loss(identifier, loss, expected):
    # the loss decides, whatever the shapes say (here: categorical shapes)
    m = metrics.get(identifier, loss=loss, y_true=np.zeros((N, 3)), y_pred=np.zeros((N, 3)))
    assert type(m) is expected and m.name == identifier
    assert type(metrics.get(identifier, loss=loss)) is expected


@pytest.mark.parametrize("shapes", list(BATCH_SHAPES), ids=str)
@pytest.mark.parametrize("loss", [None, "mse", losses.Huber(), lambda y_true, y_pred: y_pred])
def test_accuracy_from_the_shapes(shapes, loss):
    true_shape, pred_shape = shapes
    m = metrics.get("accuracy", loss=loss, y_true=np.zeros(true_shape), y_pred=np.zeros(pred_shape))
    assert type(m) is BATCH_SHAPES[shapes] and m.name == "accuracy"


def test_accuracy_needs_the_loss_or_the_shapes():
    with pytest.raises(ValueError, match="loss"):
        metrics.get("accuracy", loss="mse")
    assert metrics.get("Accuracy", loss="bce").name == "Accuracy"  # Keras compares in lower case


@pytest.mark.parametrize("name, cls", [
    ("mae", metrics.MeanAbsoluteError), ("MAE", metrics.MeanAbsoluteError),
    ("mean_absolute_error", metrics.MeanAbsoluteError), ("mse", metrics.MeanSquaredError),
    ("mean_squared_error", metrics.MeanSquaredError), ("binary_accuracy", metrics.BinaryAccuracy),
    ("categorical_accuracy", metrics.CategoricalAccuracy),
    ("sparse_categorical_accuracy", metrics.SparseCategoricalAccuracy),
    ("SparseCategoricalAccuracy", metrics.SparseCategoricalAccuracy),
])
def test_get_names_keep_the_given_string(name, cls):
    m = metrics.get(name, loss="mse", y_true=np.zeros((N, 1)), y_pred=np.zeros((N, 1)))
    assert type(m) is cls and m.name == name


def test_get_other_identifiers():
    instance = metrics.BinaryAccuracy(threshold=0.3)
    assert metrics.get(instance) is instance
    assert metrics.get(None) is None
    assert type(metrics.get(metrics.MeanAbsoluteError)) is metrics.MeanAbsoluteError
    wrapped = metrics.get(metrics.categorical_accuracy)
    assert type(wrapped) is metrics.MeanMetricWrapper and wrapped.name == "categorical_accuracy"
    assert metrics.get({"class_name": "BinaryAccuracy", "config": {"threshold": 0.2}}).threshold == 0.2
    with pytest.raises(ValueError, match=r"'accuracyy'.*'accuracy'.*'mae'"):
        metrics.get("accuracyy")


@pytest.mark.parametrize("metric", [
    metrics.Mean(name="m"), metrics.BinaryAccuracy(name="acc", threshold=0.3), metrics.CategoricalAccuracy(),
    metrics.SparseCategoricalAccuracy(dtype="float64"), metrics.MeanSquaredError(), metrics.MeanAbsoluteError("mae"),
    metrics.MeanMetricWrapper(metrics.binary_accuracy, name="strict", threshold=0.9),
])
def test_serialize_round_trip(metric):
    config = metrics.serialize(metric)
    assert config == {"class_name": type(metric).__name__, "config": metric.get_config()}
    again = metrics.deserialize(config)
    assert type(again) is type(metric) and again.get_config() == metric.get_config()


def test_configs():
    assert metrics.BinaryAccuracy().get_config() == {"name": "binary_accuracy", "dtype": "float32", "threshold": 0.5}
    assert metrics.MeanSquaredError().get_config() == {"name": "mean_squared_error", "dtype": "float32"}
    with pytest.raises(ValueError, match="unknown metric function"):
        metrics.deserialize({"class_name": "MeanMetricWrapper", "config": {"name": "x", "fn": "nope"}})


# ------------------------------------------------- Keras' other metrics, on hand-computed cases
def test_root_mean_squared_error():
    m = metrics.RootMeanSquaredError()
    assert m([[0, 1], [0, 0]], [[1, 1], [0, 0]]) == pytest.approx(0.5)  # sqrt(1 / 4)
    m.reset_state()
    assert m([[0, 1], [0, 0]], [[1, 1], [0, 0]], sample_weight=[1, 0]) == pytest.approx(np.sqrt(0.5))
    assert metrics.get("root_mean_squared_error").name == "root_mean_squared_error"


def test_top_k_categorical_accuracy():
    y_true, y_pred = [[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]
    m = metrics.TopKCategoricalAccuracy(k=1)
    assert m(y_true, y_pred) == pytest.approx(0.5)
    m.reset_state()
    assert m(y_true, y_pred, sample_weight=[0.7, 0.3]) == pytest.approx(0.3)
    assert metrics.TopKCategoricalAccuracy(k=2)(y_true, y_pred) == 1.0
    sparse = metrics.SparseTopKCategoricalAccuracy(k=1)
    assert sparse([2, 1], y_pred) == pytest.approx(0.5)
    # A tie with the k-th score counts as in the top k.
    assert metrics.sparse_top_k_categorical_accuracy([0], [[0.5, 0.5, 0.1]], k=1).tolist() == [1.0]
    assert metrics.get("top_k_categorical_accuracy").k == 5
    with pytest.raises(ValueError, match="k must be an integer of at least 1"):
        metrics.TopKCategoricalAccuracy(k=0)


def test_precision_and_recall():
    y_true, y_pred = [0, 1, 1, 1], [1, 0, 1, 1]
    assert metrics.Precision()(y_true, y_pred) == pytest.approx(2 / 3)  # tp 2, fp 1
    assert metrics.Recall()(y_true, y_pred) == pytest.approx(2 / 3)  # tp 2, fn 1
    assert metrics.Precision()(y_true, y_pred, sample_weight=[0, 0, 1, 0]) == 1.0
    # top_k: exactly k per row, the first of equal scores.
    assert metrics.Precision(top_k=2)([0, 0, 1, 1], [1, 1, 1, 1]) == 0.0
    assert metrics.Precision(top_k=4)([0, 0, 1, 1], [1, 1, 1, 1]) == 0.5
    # class_id: one column; several thresholds give one value each.
    y_true2, y_pred2 = [[0, 1], [1, 1], [1, 0]], [[0.2, 0.9], [0.7, 0.4], [0.3, 0.6]]
    assert metrics.Recall(class_id=0)(y_true2, y_pred2) == 0.5  # class 0: positives 1 and 2, found 1
    assert metrics.Precision(class_id=1)(y_true2, y_pred2) == 0.5  # class 1: predicted 0 and 2, right 0
    many = metrics.Precision(thresholds=[0.1, 0.5, 0.8])(y_true2, y_pred2)
    np.testing.assert_allclose(many, [4 / 6, 2 / 3, 1 / 1])  # tp/(tp+fp): 4/6, 2/3, 1/1
    assert metrics.Recall(thresholds=[0.1, 0.5, 0.8])(y_true2, y_pred2).tolist() == [1.0, 0.5, 0.25]
    # Weights of the steps of a sequence output (as fit gives a mask) apply to every class.
    seq_true = np.array([[[1, 0], [0, 1]], [[0, 1], [1, 0]]])
    seq_pred = np.array([[[0.9, 0.1], [0.9, 0.1]], [[0.1, 0.9], [0.9, 0.1]]])
    assert metrics.Precision()(seq_true, seq_pred, sample_weight=[[1, 0], [1, 1]]) == 1.0
    with pytest.raises(ValueError, match="class_id 2 is out of range for 2 classes"):
        metrics.Precision(class_id=2)(y_true2, y_pred2)


def test_auc_roc_and_pr():
    y_true, y_pred = [0, 0, 1, 1], [0, 0.5, 0.3, 0.9]
    # thresholds [-eps, 0.5, 1+eps]: tp [2, 1, 0], fp [2, 0, 0], fn [0, 1, 2], tn [0, 2, 2]
    assert metrics.AUC(num_thresholds=3)(y_true, y_pred) == pytest.approx(0.75)
    assert metrics.AUC(num_thresholds=3)(y_true, y_pred, sample_weight=[1, 0, 0, 1]) == pytest.approx(1.0)
    assert metrics.AUC(num_thresholds=3, summation_method="minoring")(y_true, y_pred) == pytest.approx(0.5)
    assert metrics.AUC(num_thresholds=3, summation_method="majoring")(y_true, y_pred) == pytest.approx(1.0)
    # PR with Davis & Goadrich's interpolation: slopes dTP/dP = [1/3, 1], intercepts [2/3, 0].
    expected = (1 + 2 / 3 * np.log(4)) / 6 + 1 / 2
    assert metrics.AUC(num_thresholds=3, curve="PR")(y_true, y_pred) == pytest.approx(expected, rel=1e-12)
    # PR with rectangles: recall x = [1, 0.5, 0], precision y = [0.5, 1, 0].
    assert metrics.AUC(num_thresholds=3, curve="PR", summation_method="majoring")(y_true, y_pred) == \
        pytest.approx(0.5 * 1 + 0.5 * 1)
    # With many thresholds, ROC AUC is the share of (positive, negative) pairs ranked right.
    rng = np.random.default_rng(0)
    labels = rng.random(300) < 0.4
    scores = np.clip(0.3 * labels + rng.random(300) * 0.7, 0, 1)
    pairs = np.mean(scores[labels][:, None] > scores[~labels][None, :])
    assert metrics.AUC(num_thresholds=2000)(labels, scores) == pytest.approx(pairs, abs=2e-3)
    # from_logits, and the thresholds given.
    logits = np.log(np.array([0.1, 0.5, 0.3, 0.9]) / (1 - np.array([0.1, 0.5, 0.3, 0.9])))
    assert metrics.AUC(num_thresholds=3, from_logits=True)(y_true, logits) == pytest.approx(0.75)
    custom = metrics.AUC(thresholds=[0.5])
    assert custom.thresholds == pytest.approx([-1e-7, 0.5, 1 + 1e-7]) and custom(y_true, y_pred) == pytest.approx(0.75)


def test_auc_multi_label_averages_the_labels():
    y_true = np.array([[0, 1], [0, 0], [1, 1], [1, 0]])
    y_pred = np.array([[0.0, 0.9], [0.5, 0.2], [0.3, 0.6], [0.9, 0.4]])
    per_label = [metrics.AUC(num_thresholds=3)(y_true[:, k], y_pred[:, k]) for k in range(2)]
    m = metrics.AUC(num_thresholds=3, multi_label=True)
    assert m(y_true, y_pred) == pytest.approx(np.mean(per_label))
    weighted = metrics.AUC(num_thresholds=3, multi_label=True, label_weights=[3, 1])
    assert weighted(y_true, y_pred) == pytest.approx((3 * per_label[0] + per_label[1]) / 4)
    flat = metrics.AUC(num_thresholds=3)(y_true, y_pred)
    assert flat == pytest.approx(metrics.AUC(num_thresholds=3)(y_true.ravel(), y_pred.ravel()))
    with pytest.raises(ValueError, match="curve must be 'ROC' or 'PR'"):
        metrics.AUC(curve="PRGAIN")
    with pytest.raises(ValueError, match="num_thresholds must be an integer > 1"):
        metrics.AUC(num_thresholds=1)


def test_f1_and_fbeta_scores():
    y_true = np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0]])
    y_pred = np.array([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]])
    eps = 1e-7

    def f(tp, fp, fn, beta=1.0):  # Keras' formula, with its epsilons
        p, r = tp / (tp + fp + eps), tp / (tp + fn + eps)
        return (1 + beta ** 2) * p * r / (beta ** 2 * p + r + eps)

    per_class = [f(1, 0, 2), f(2, 1, 0), f(1, 1, 0)]
    np.testing.assert_allclose(metrics.F1Score(threshold=0.5)(y_true, y_pred), per_class, rtol=1e-12)
    np.testing.assert_allclose(per_class, [0.5, 0.8, 2 / 3], rtol=1e-6)
    assert metrics.F1Score(average="macro", threshold=0.5)(y_true, y_pred) == pytest.approx(np.mean(per_class))
    assert metrics.F1Score(average="micro", threshold=0.5)(y_true, y_pred) == pytest.approx(f(4, 2, 2), rel=1e-12)
    support = np.array([3, 2, 1])
    assert metrics.F1Score(average="weighted", threshold=0.5)(y_true, y_pred) == \
        pytest.approx(np.sum(np.array(per_class) * support / (support.sum() + eps)), rel=1e-12)
    # Without a threshold, each row's highest score is the prediction (both tied ones in row 2).
    np.testing.assert_allclose(metrics.F1Score()(y_true, y_pred), [f(0, 0, 3), f(1, 1, 1), f(1, 1, 0)], rtol=1e-12)
    np.testing.assert_allclose(metrics.FBetaScore(beta=2.0, threshold=0.5)(y_true, y_pred),
                               [f(1, 0, 2, 2.0), f(2, 1, 0, 2.0), f(1, 1, 0, 2.0)], rtol=1e-12)
    weighted = metrics.F1Score(threshold=0.5)(y_true, y_pred, sample_weight=[1, 0, 2])
    np.testing.assert_allclose(weighted, [f(2, 0, 1), f(3, 0, 0), f(1, 0, 0)], rtol=1e-12)  # row 2 counts twice
    with pytest.raises(ValueError, match="average must be None"):
        metrics.F1Score(average="binary")
    with pytest.raises(ValueError, match=r"\(batch, classes\)"):
        metrics.F1Score()([1, 0], [0.4, 0.6])


def test_new_metrics_by_name_in_compile_and_fit():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5, 2)).astype(np.float32)
    labels = (x[:, :, 0].mean(axis=1) > 0).astype(np.float32)[:, None]
    model = rnnkit.Sequential([rnnkit.Input((5, 2)), rnnkit.GRU(4), rnnkit.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["precision", "recall", "auc", metrics.AUC(curve="PR"),
                                                          "root_mean_squared_error"])
    history = model.fit(x, labels, epochs=2, batch_size=8, verbose=0)
    assert set(history.history) >= {"loss", "precision", "recall", "auc", "root_mean_squared_error"}
    assert len(history.history) == 6 and all(len(v) == 2 for v in history.history.values())
    logs = model.evaluate(x, labels, return_dict=True, verbose=0)
    probabilities = model.predict(x, verbose=0)
    assert logs["auc"] == pytest.approx(metrics.AUC()(labels, probabilities), rel=1e-6)
    assert logs["root_mean_squared_error"] == pytest.approx(np.sqrt(np.mean((probabilities - labels) ** 2)), rel=1e-5)
    classes = rnnkit.Sequential([rnnkit.Input((5, 2)), rnnkit.GRU(4), rnnkit.Dense(3, activation="softmax")])
    classes.compile("adam", "categorical_crossentropy", metrics=["f1_score", "top_k_categorical_accuracy"])
    one_hot = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 40)]
    logs = classes.evaluate(x, one_hot, return_dict=True, verbose=0)
    assert logs["f1_score"].shape == (3,) and logs["top_k_categorical_accuracy"] == 1.0
    restored = metrics.deserialize(metrics.serialize(metrics.AUC(num_thresholds=7, curve="PR", thresholds=None)))
    assert isinstance(restored, metrics.AUC) and restored.num_thresholds == 7 and restored.curve == "PR"
    assert metrics.deserialize(metrics.serialize(metrics.Precision(thresholds=[0.2, 0.4]))).thresholds.tolist() == \
        [0.2, 0.4]
