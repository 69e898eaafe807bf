"""Nadam, Adamax, Adadelta, Lion and Ftrl against NumPy references written from Keras 3's update
rules; the learning rate as a variable or a callable; the schedules PolynomialDecay,
InverseTimeDecay and CosineDecayRestarts; use_ema and gradient_accumulation_steps."""

import math

import numpy as np
import pytest

import rnnkit
from rnnkit import optimizers
from rnnkit.optimizers import schedules
from rnnkit.variables import Variable


def nadam_reference(w, grads, lr=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    m, v, product = np.zeros_like(w), np.zeros_like(w), 1.0
    for k, g in enumerate(grads):
        t = k + 1
        u_t, u_next = beta_1 * (1 - 0.5 * 0.96 ** t), beta_1 * (1 - 0.5 * 0.96 ** (t + 1))
        product *= u_t
        m = m + (g - m) * (1 - beta_1)
        v = v + (g * g - v) * (1 - beta_2)
        m_hat = u_next * m / (1 - product * u_next) + (1 - u_t) * g / (1 - product)
        v_hat = v / (1 - beta_2 ** t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + epsilon)
    return w


def adamax_reference(w, grads, lr=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    m, u = np.zeros_like(w), np.zeros_like(w)
    for k, g in enumerate(grads):
        m = m + (g - m) * (1 - beta_1)
        u = np.maximum(beta_2 * u, np.abs(g))
        w = w - lr * m / ((1 - beta_1 ** (k + 1)) * (u + epsilon))
    return w


def adadelta_reference(w, grads, lr=0.5, rho=0.95, epsilon=1e-7):
    a, d = np.zeros_like(w), np.zeros_like(w)
    for g in grads:
        a = rho * a + (1 - rho) * g * g
        delta = -np.sqrt(d + epsilon) * g / np.sqrt(a + epsilon)
        d = rho * d + (1 - rho) * delta * delta
        w = w + lr * delta
    return w


def lion_reference(w, grads, lr=0.01, beta_1=0.9, beta_2=0.99):
    m = np.zeros_like(w)
    for g in grads:
        w = w - lr * np.sign(beta_1 * m + (1 - beta_1) * g)
        m = beta_2 * m + (1 - beta_2) * g
    return w


def ftrl_reference(w, grads, lr=0.05, power=-0.5, initial=0.1, l1=0.01, l2=0.02, shrinkage=0.03, beta=0.1):
    n, z = np.full_like(w, initial), np.zeros_like(w)
    for g in grads:
        new_n = n + g * g
        z = z + g + 2 * shrinkage * w - (new_n ** -power - n ** -power) / lr * w
        quadratic = new_n ** -power / lr + 2 * (l2 + beta / (2 * lr))
        w = (np.clip(z, -l1, l1) - z) / quadratic
        n = new_n
    return w


CASES = [
    ("nadam", lambda: optimizers.Nadam(0.01), nadam_reference),
    ("adamax", lambda: optimizers.Adamax(0.01), adamax_reference),
    ("adadelta", lambda: optimizers.Adadelta(0.5), adadelta_reference),
    ("lion", lambda: optimizers.Lion(0.01), lion_reference),
    ("ftrl", lambda: optimizers.Ftrl(0.05, l1_regularization_strength=0.01, l2_regularization_strength=0.02,
                                     l2_shrinkage_regularization_strength=0.03, beta=0.1), ftrl_reference),
]


@pytest.mark.parametrize("dtype,tolerance", [("float64", 1e-12), ("float32", 2e-6)])
@pytest.mark.parametrize("name,make,reference", CASES, ids=[c[0] for c in CASES])
def test_rules_follow_keras(name, make, reference, dtype, tolerance):
    rng = np.random.default_rng(3)
    start = rng.normal(size=(5, 7))
    grads = [rng.normal(size=(5, 7)) for _ in range(12)]
    variable = Variable(start.astype(dtype), name="w")
    optimizer = make()
    for g in grads:
        optimizer.apply([g.astype(dtype)], [variable])
    expected = reference(start, grads)
    np.testing.assert_allclose(variable.value, expected, rtol=tolerance, atol=tolerance)
    assert variable.value.dtype == dtype and optimizer.iterations == 12
    assert type(optimizers.get(name)) is type(optimizer)


@pytest.mark.parametrize("name,make,reference", CASES, ids=[c[0] for c in CASES])
def test_state_round_trips_mid_training(name, make, reference):
    rng = np.random.default_rng(4)
    start = rng.normal(size=6)
    grads = [rng.normal(size=6) for _ in range(8)]
    variable = Variable(start.copy(), name="w")
    first = make()
    for g in grads[:5]:
        first.apply([g], [variable])
    second = optimizers.deserialize(optimizers.serialize(first))
    second.set_state(first.get_state(), [variable])
    for g in grads[5:]:
        second.apply([g], [variable])
    np.testing.assert_allclose(variable.value, reference(start, grads), rtol=1e-12, atol=1e-12)


def test_settings_are_checked():
    with pytest.raises(ValueError, match="degenerates to SignSGD"):
        optimizers.Lion(beta_1=0.0)
    with pytest.raises(ValueError, match="learning_rate_power"):
        optimizers.Ftrl(learning_rate_power=0.5)
    with pytest.raises(ValueError, match="l1_regularization_strength"):
        optimizers.Ftrl(l1_regularization_strength=-1.0)
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        optimizers.Adam(gradient_accumulation_steps=0)
    with pytest.raises(TypeError, match="use_ema"):
        optimizers.Adam(use_ema="yes")
    with pytest.raises(TypeError, match="unexpected keyword"):
        optimizers.Nadam(momentum=0.9)


def test_learning_rate_is_a_variable_and_may_be_a_callable():
    optimizer = optimizers.SGD(0.1)
    rate = optimizer.learning_rate
    assert rate == 0.1 and isinstance(rate, float) and rate.numpy() == np.float64(0.1)
    rate.assign(0.05)
    assert optimizer.learning_rate == 0.05 and optimizer.get_config()["learning_rate"] == 0.05
    optimizer.learning_rate = optimizer.learning_rate * 2
    assert optimizer.learning_rate.value == 0.1
    box = {"rate": 0.5}
    called = optimizers.SGD(lambda: box["rate"])
    variable = Variable(np.ones(2), name="w")
    called.apply([np.ones(2)], [variable])
    box["rate"] = 0.25
    called.apply([np.ones(2)], [variable])
    np.testing.assert_array_equal(variable.value, [1 - 0.5 - 0.25] * 2)
    assert called.get_config()["learning_rate"] == 0.25  # a config holds the value, never code
    with pytest.raises(TypeError, match="not settable"):
        called.learning_rate = 0.1
    scheduled = optimizers.Adam(schedules.InverseTimeDecay(0.1, 10, 1.0))
    with pytest.raises(TypeError, match="not settable"):
        scheduled.learning_rate.assign(0.2)


def test_schedules_follow_keras_formulas():
    polynomial = schedules.PolynomialDecay(0.1, 10, end_learning_rate=0.01, power=2.0)
    for step in (0, 3, 10, 15):
        s = min(step, 10)
        assert polynomial(step) == pytest.approx((0.1 - 0.01) * (1 - s / 10) ** 2 + 0.01, rel=1e-12)
    cycling = schedules.PolynomialDecay(0.1, 10, end_learning_rate=0.0, cycle=True)
    assert cycling(0) == pytest.approx(0.1) and cycling(15) == pytest.approx(0.1 * (1 - 15 / 20))
    inverse = schedules.InverseTimeDecay(0.1, 5, 0.5)
    assert inverse(7) == pytest.approx(0.1 / (1 + 0.5 * 7 / 5), rel=1e-12)
    assert schedules.InverseTimeDecay(0.1, 5, 0.5, staircase=True)(7) == pytest.approx(0.1 / 1.5, rel=1e-12)
    restarts = schedules.CosineDecayRestarts(1.0, 10, t_mul=2.0, m_mul=0.5, alpha=0.1)
    # Periods [0, 10), [10, 30), [30, 70): peaks 1, 0.5, 0.25.
    for step, restart, fraction in ((0, 0, 0.0), (5, 0, 0.5), (10, 1, 0.0), (20, 1, 0.5), (40, 2, 0.25)):
        expected = 0.9 * 0.5 * 0.5 ** restart * (1 + math.cos(math.pi * fraction)) + 0.1
        assert restarts(step) == pytest.approx(expected, rel=1e-12)
    even = schedules.CosineDecayRestarts(1.0, 4, t_mul=1.0)
    assert even(6) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)), rel=1e-12)
    np.testing.assert_allclose(restarts(np.array([5, 20])), [restarts(5), restarts(20)], rtol=1e-15)
    for schedule in (polynomial, inverse, restarts):
        again = optimizers.deserialize(optimizers.serialize(optimizers.SGD(schedule)))._learning_rate
        assert type(again) is type(schedule) and again.get_config() == schedule.get_config()


def test_moving_average_and_its_end_of_fit_overwrite():
    variable = Variable(np.zeros(3), name="w")
    optimizer = optimizers.SGD(1.0, use_ema=True, ema_momentum=0.5)
    values = []
    for g in ([-1.0] * 3, [-2.0] * 3, [-1.0] * 3):
        optimizer.apply([np.array(g)], [variable])
        values.append(variable.value.copy())
    # The first update copies the weights; then average = 0.5 average + 0.5 w.
    expected = values[0]
    for value in values[1:]:
        expected = 0.5 * expected + 0.5 * value
    np.testing.assert_allclose(optimizer.get_state()["average/w"], expected)
    optimizer.finalize_variable_values([variable])
    np.testing.assert_allclose(variable.value, expected)
    overwriting = optimizers.SGD(1.0, use_ema=True, ema_momentum=0.5, ema_overwrite_frequency=2)
    w = Variable(np.zeros(1), name="w")
    overwriting.apply([np.array([-1.0])], [w])
    overwriting.apply([np.array([-1.0])], [w])
    np.testing.assert_allclose(w.value, [0.5 * 1 + 0.5 * 2])  # written after the second update


def test_fit_with_use_ema_ends_on_the_averages():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 4, 2)), rng.normal(size=(32, 1))
    rnnkit.utils.set_random_seed(0)
    model = rnnkit.Sequential([rnnkit.Input((4, 2)), rnnkit.GRU(3), rnnkit.Dense(1)])
    model.compile(optimizers.Adam(0.01, use_ema=True), "mse")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    averages = model.optimizer.get_state()
    for variable in model.trainable_weights:
        np.testing.assert_array_equal(variable.value, averages[f"average/{variable.path}"])


def test_gradient_accumulation_updates_with_the_mean_every_n_calls():
    rng = np.random.default_rng(2)
    grads = [rng.normal(size=4) for _ in range(6)]
    accumulated = Variable(np.ones(4), name="w")
    optimizer = optimizers.Adam(0.1, gradient_accumulation_steps=3)
    for k, g in enumerate(grads):
        before = accumulated.value.copy()
        optimizer.apply([g], [accumulated])
        assert optimizer.iterations == (k + 1) // 3
        if (k + 1) % 3:
            np.testing.assert_array_equal(accumulated.value, before)
    plain = Variable(np.ones(4), name="w")
    reference = optimizers.Adam(0.1)
    for start in (0, 3):
        reference.apply([np.mean(grads[start:start + 3], axis=0)], [plain])
    np.testing.assert_allclose(accumulated.value, plain.value, rtol=1e-12)
    state = optimizer.get_state()
    assert int(state["accumulated_calls"]) == 0 and not state["gradient_accumulator/w"].any()
    optimizer.apply([grads[0]], [accumulated])
    assert int(optimizer.get_state()["accumulated_calls"]) == 1
