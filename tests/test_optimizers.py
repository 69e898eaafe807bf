"""Optimizers: every update rule against its published formula, written out here in float64,
clipping, weight decay, schedules, config round trips and state save/restore."""

import json
import warnings

import numpy as np
import pytest

from rnnkit import optimizers
from rnnkit.optimizers import SGD, Adagrad, Adam, AdamW, RMSprop, schedules
from rnnkit.variables import Variable

W0 = np.array([[0.5, -1.5, 2.0], [1.0, -0.25, 3.0]])
GRADS = [np.array([[0.1, -0.2, 0.3], [-0.4, 0.5, 0.6]]),
         np.array([[-0.3, 0.1, 0.2], [0.7, -0.2, 0.1]]),
         np.array([[0.25, 0.15, -0.35], [0.05, 0.45, -0.1]]),
         np.array([[0.2, -0.6, 0.05], [-0.15, 0.3, 0.4]])]
TOL = dict(rtol=1e-12, atol=1e-15)


def run(optimizer, grads=GRADS, w0=W0, dtype=np.float64, name="kernel"):
    """The variable's value after each step."""
    variable = Variable(np.array(w0, dtype=dtype), name, f"dense/{name}")
    values = []
    for g in grads:
        optimizer.apply([g], [variable])
        values.append(variable.value.copy())
    return values


# -------------------------------------------------------------------- references (float64)
def decay(w, lr, wd):
    return w if wd is None else w - w * wd * lr


def sgd_ref(lr, momentum=0.0, nesterov=False, wd=None, grads=GRADS):
    w, velocity, out = W0.copy(), np.zeros_like(W0), []
    for g in grads:
        w = decay(w, lr, wd)
        if momentum == 0:
            w = w - lr * g
        else:
            velocity = momentum * velocity - lr * g
            w = w + (momentum * velocity - lr * g if nesterov else velocity)
        out.append(w)
    return out


def adam_ref(lr, beta_1=0.9, beta_2=0.999, eps=1e-7, amsgrad=False, wd=None, grads=GRADS):
    w, m, v, v_max, out = W0.copy(), np.zeros_like(W0), np.zeros_like(W0), np.zeros_like(W0), []
    for t, g in enumerate(grads, start=1):
        w = decay(w, lr, wd)
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        v_max = np.maximum(v_max, v)
        step_size = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)  # bias corrections folded into the step
        w = w - step_size * m / (np.sqrt(v_max if amsgrad else v) + eps)  # epsilon outside the root
        out.append(w)
    return out


def rmsprop_ref(lr, rho=0.9, momentum=0.0, eps=1e-7, centered=False, wd=None, grads=GRADS):
    w, ms, mg, mom, out = W0.copy(), np.zeros_like(W0), np.zeros_like(W0), np.zeros_like(W0), []
    for g in grads:
        w = decay(w, lr, wd)
        ms = rho * ms + (1 - rho) * g**2
        mg = rho * mg + (1 - rho) * g
        variance = ms - mg**2 if centered else ms
        increment = lr * g / np.sqrt(variance + eps)  # epsilon inside the root
        mom = momentum * mom + increment
        w = w - (mom if momentum > 0 else increment)
        out.append(w)
    return out


def adagrad_ref(lr, initial=0.1, eps=1e-7, wd=None, grads=GRADS):
    w, acc, out = W0.copy(), np.full_like(W0, initial), []
    for g in grads:
        w = decay(w, lr, wd)
        acc = acc + g**2
        w = w - lr * g / np.sqrt(acc + eps)  # epsilon inside the root
        out.append(w)
    return out


CASES = {
    "sgd": (lambda: SGD(0.1), lambda: sgd_ref(0.1)),
    "sgd_momentum": (lambda: SGD(0.1, momentum=0.9), lambda: sgd_ref(0.1, 0.9)),
    "sgd_nesterov": (lambda: SGD(0.1, momentum=0.8, nesterov=True), lambda: sgd_ref(0.1, 0.8, True)),
    "adam": (lambda: Adam(0.01), lambda: adam_ref(0.01)),
    "adam_betas": (lambda: Adam(0.05, beta_1=0.5, beta_2=0.8, epsilon=1e-3), lambda: adam_ref(0.05, 0.5, 0.8, 1e-3)),
    "adam_amsgrad": (lambda: Adam(0.05, beta_1=0.5, beta_2=0.6, amsgrad=True),
                     lambda: adam_ref(0.05, 0.5, 0.6, amsgrad=True)),
    "adamw": (lambda: AdamW(0.01), lambda: adam_ref(0.01, wd=0.004)),
    "adamw_amsgrad": (lambda: AdamW(0.05, weight_decay=0.1, beta_2=0.6, amsgrad=True),
                      lambda: adam_ref(0.05, beta_2=0.6, amsgrad=True, wd=0.1)),
    "rmsprop": (lambda: RMSprop(0.01), lambda: rmsprop_ref(0.01)),
    "rmsprop_rho": (lambda: RMSprop(0.01, rho=0.5, epsilon=1e-3), lambda: rmsprop_ref(0.01, 0.5, eps=1e-3)),
    "rmsprop_momentum": (lambda: RMSprop(0.01, momentum=0.7), lambda: rmsprop_ref(0.01, momentum=0.7)),
    "rmsprop_centered": (lambda: RMSprop(0.01, rho=0.8, centered=True), lambda: rmsprop_ref(0.01, 0.8, centered=True)),
    "rmsprop_centered_momentum": (lambda: RMSprop(0.02, momentum=0.5, centered=True),
                                  lambda: rmsprop_ref(0.02, momentum=0.5, centered=True)),
    "adagrad": (lambda: Adagrad(0.1), lambda: adagrad_ref(0.1)),
    "adagrad_initial": (lambda: Adagrad(0.1, initial_accumulator_value=0.5, epsilon=1e-3),
                        lambda: adagrad_ref(0.1, 0.5, 1e-3)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_update_rule_matches_published_formula_at_every_step(case):
    make_optimizer, reference = CASES[case]
    optimizer = make_optimizer()
    for step, (got, want) in enumerate(zip(run(optimizer), reference()), start=1):
        np.testing.assert_allclose(got, want, **TOL, err_msg=f"{case}, step {step}")
    assert optimizer.iterations == len(GRADS)


WEIGHT_DECAY_CASES = {
    "sgd": (lambda: SGD(0.1, weight_decay=0.05), lambda: sgd_ref(0.1, wd=0.05)),
    "sgd_momentum": (lambda: SGD(0.1, momentum=0.9, weight_decay=0.05), lambda: sgd_ref(0.1, 0.9, wd=0.05)),
    "adam": (lambda: Adam(0.01, weight_decay=0.2), lambda: adam_ref(0.01, wd=0.2)),
    "rmsprop": (lambda: RMSprop(0.01, weight_decay=0.2), lambda: rmsprop_ref(0.01, wd=0.2)),
    "adagrad": (lambda: Adagrad(0.1, weight_decay=0.3), lambda: adagrad_ref(0.1, wd=0.3)),
}


@pytest.mark.parametrize("case", sorted(WEIGHT_DECAY_CASES))
def test_weight_decay_is_decoupled_and_applied_before_the_update(case):
    make_optimizer, reference = WEIGHT_DECAY_CASES[case]
    for got, want in zip(run(make_optimizer()), reference()):
        np.testing.assert_allclose(got, want, **TOL)


def test_exclude_from_weight_decay_by_name_and_by_variable():
    optimizer = AdamW(0.01, weight_decay=0.5)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    np.testing.assert_allclose(run(optimizer, name="bias")[-1], adam_ref(0.01)[-1], **TOL)
    np.testing.assert_allclose(run(AdamW(0.01, weight_decay=0.5), name="bias")[-1], adam_ref(0.01, wd=0.5)[-1], **TOL)
    kernel = Variable(W0.copy(), "kernel", "dense/kernel")
    optimizer = SGD(0.1, weight_decay=0.5)
    optimizer.exclude_from_weight_decay(var_list=[kernel])
    optimizer.apply([GRADS[0]], [kernel])
    np.testing.assert_allclose(kernel.value, W0 - 0.1 * GRADS[0], **TOL)


def test_epsilon_placement_is_what_the_tests_pin():
    """With tiny gradients and a large epsilon, inside and outside the square root differ a lot."""
    grads = [g * 1e-3 for g in GRADS]
    eps = 1e-2
    adam = run(Adam(0.1, epsilon=eps), grads)[-1]
    np.testing.assert_allclose(adam, adam_ref(0.1, eps=eps, grads=grads)[-1], **TOL)
    w, m, v = W0.copy(), 0.0, 0.0
    for t, g in enumerate(grads, start=1):  # the same with epsilon under the root: clearly different
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g**2
        w = w - 0.1 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m / np.sqrt(v + eps)
    assert np.max(np.abs(adam - w)) > 1e-4
    for optimizer, reference in ((RMSprop(0.1, epsilon=eps), rmsprop_ref), (Adagrad(0.1, epsilon=eps), adagrad_ref)):
        np.testing.assert_allclose(run(optimizer, grads)[-1], reference(0.1, eps=eps, grads=grads)[-1], **TOL)


def test_adam_first_step_is_lr_times_sign_with_bias_correction():
    # Step 1: m = 0.1 g, v = 0.001 g^2, alpha = lr * sqrt(0.001) / 0.1, so w moves by ~lr * sign(g).
    got = run(Adam(0.01, epsilon=0.0), GRADS[:1])[0]
    np.testing.assert_allclose(got, W0 - 0.01 * np.sign(GRADS[0]), rtol=1e-12)


@pytest.mark.parametrize("case", ["sgd_nesterov", "adam_amsgrad", "rmsprop_centered_momentum", "adagrad", "adamw"])
def test_float32_variable_stays_float32(case):
    make_optimizer, reference = CASES[case]
    optimizer = make_optimizer()
    values = run(optimizer, grads=[g.astype(np.float64) for g in GRADS], dtype=np.float32)
    assert all(v.dtype == np.float32 for v in values)
    assert all(a.dtype == np.float32 for a in optimizer.variables[1:])
    assert all(a.dtype == np.float32 for k, a in optimizer.get_state().items() if "/" in k)
    np.testing.assert_allclose(values[-1], reference()[-1], rtol=2e-6, atol=1e-6)


# -------------------------------------------------------------------- apply / apply_gradients
def test_apply_gradients_skips_none_and_updates_in_place():
    a, b = Variable(W0.copy(), "kernel", "a/kernel"), Variable(W0.copy(), "kernel", "b/kernel")
    buffer = a.value
    optimizer = SGD(0.1)
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        assert optimizer.apply_gradients([(GRADS[0], a), (None, b)]) == 1
    assert a.value is buffer
    np.testing.assert_allclose(a.value, W0 - 0.1 * GRADS[0], **TOL)
    np.testing.assert_array_equal(b.value, W0)
    with pytest.raises(ValueError, match="No gradients provided"):
        optimizer.apply([None], [a])
    with pytest.raises(ValueError, match="shape"):
        optimizer.apply([np.ones(3)], [a])
    optimizer.apply([GRADS[1], GRADS[1]])  # the variables of the last call
    assert optimizer.iterations == 2
    with pytest.raises(ValueError, match="must already be built"):
        SGD().apply([GRADS[0]])


def test_slots_are_created_lazily_per_variable_path():
    optimizer = Adam()
    assert optimizer.get_state().keys() == {"iterations", "learning_rate"}
    run(optimizer)
    assert set(optimizer.get_state()) == {"iterations", "learning_rate", "momentum/dense/kernel",
                                          "velocity/dense/kernel"}
    assert set(Adam(amsgrad=True).get_state()) == {"iterations", "learning_rate"}
    assert "velocity_hat/dense/kernel" in run_state(Adam(amsgrad=True))
    assert set(run_state(SGD())) == {"iterations", "learning_rate"}  # no momentum slot at momentum 0
    assert set(run_state(RMSprop(momentum=0.5, centered=True))) >= {"velocity/dense/kernel",
                                                                    "momentum/dense/kernel",
                                                                    "average_gradient/dense/kernel"}
    np.testing.assert_allclose(run_state(Adagrad(initial_accumulator_value=0.0), grads=GRADS[:1])
                               ["accumulator/dense/kernel"], GRADS[0] ** 2, **TOL)


def run_state(optimizer, grads=GRADS):
    run(optimizer, grads)
    return optimizer.get_state()


# -------------------------------------------------------------------- clipping
def clipped(**clip):
    """The gradient SGD(lr=1) applied, from a zero variable: -w after one step."""
    return -run(SGD(1.0, **clip), GRADS[:1], w0=np.zeros_like(W0))[0]


def test_clipnorm_scales_each_gradient_to_at_most_clipnorm():
    g = GRADS[0]
    norm = np.sqrt(np.sum(g**2))  # ~0.95
    np.testing.assert_allclose(clipped(clipnorm=0.5), g * 0.5 / norm, **TOL)
    np.testing.assert_allclose(clipped(clipnorm=2.0), g, **TOL)  # below the norm: unchanged
    a, b = Variable(np.zeros(2), "a"), Variable(np.zeros(2), "b")
    SGD(1.0, clipnorm=1.0).apply([np.array([3.0, 4.0]), np.array([0.3, 0.4])], [a, b])
    np.testing.assert_allclose(-a.value, [0.6, 0.8], **TOL)  # each gradient on its own
    np.testing.assert_allclose(-b.value, [0.3, 0.4], **TOL)


def test_clipvalue_clips_elements():
    np.testing.assert_allclose(clipped(clipvalue=0.25), np.minimum(np.maximum(GRADS[0], -0.25), 0.25), **TOL)


def test_global_clipnorm_scales_all_gradients_together():
    a, b = Variable(np.zeros(2), "a"), Variable(np.zeros(1), "b")
    ga, gb = np.array([3.0, 4.0]), np.array([12.0])  # global norm 13
    SGD(1.0, global_clipnorm=6.5).apply([ga, gb], [a, b])
    np.testing.assert_allclose(-a.value, ga * 0.5, **TOL)
    np.testing.assert_allclose(-b.value, gb * 0.5, **TOL)
    np.testing.assert_allclose(clipped(global_clipnorm=10.0), GRADS[0], **TOL)
    zero = Variable(np.ones(2), "z")
    SGD(1.0, global_clipnorm=1.0).apply([np.zeros(2)], [zero])  # a zero gradient stays zero, no nan
    np.testing.assert_array_equal(zero.value, np.ones(2))


@pytest.mark.parametrize("clip", [dict(clipnorm=1.0, clipvalue=1.0), dict(clipnorm=1.0, global_clipnorm=1.0),
                                  dict(clipvalue=1.0, global_clipnorm=1.0)])
def test_more_than_one_clip_option_is_an_error(clip):
    with pytest.raises(ValueError, match="Only one of `clipnorm`, `clipvalue` and `global_clipnorm`"):
        Adam(**clip)


# -------------------------------------------------------------------- learning rate and schedules
def test_learning_rate_getter_and_setter():
    optimizer = SGD(0.1)
    assert optimizer.learning_rate == 0.1 and isinstance(optimizer.learning_rate, float)
    optimizer.learning_rate = 0.5
    np.testing.assert_allclose(run(optimizer, GRADS[:1])[0], W0 - 0.5 * GRADS[0], **TOL)
    assert optimizer.get_config()["learning_rate"] == 0.5
    with pytest.raises(ValueError, match="learning_rate"):
        SGD("fast")
    scheduled = SGD(schedules.ExponentialDecay(0.1, 2, 0.5))
    with pytest.raises(TypeError, match="not settable"):
        scheduled.learning_rate = 0.01
    scheduled.learning_rate = schedules.ExponentialDecay(0.2, 2, 0.5)  # a new schedule is fine
    assert scheduled.learning_rate == 0.2


def test_schedule_values():
    exp = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    for step in (0, 1, 5, 10, 25):
        assert exp(step) == pytest.approx(0.1 * 0.5 ** (step / 10), rel=1e-14)
    stairs = schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True)
    assert [stairs(s) for s in (0, 9, 10, 19, 20)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025], rel=1e-14)
    piecewise = schedules.PiecewiseConstantDecay([3, 6], [1.0, 0.5, 0.1])
    assert [piecewise(s) for s in range(9)] == [1.0] * 4 + [0.5] * 3 + [0.1] * 2  # boundary steps belong below
    cosine = schedules.CosineDecay(0.2, decay_steps=8, alpha=0.1)
    for step in (0, 2, 4, 8, 12):
        s = min(step, 8)
        assert cosine(step) == pytest.approx(0.2 * (0.9 * 0.5 * (1 + np.cos(np.pi * s / 8)) + 0.1), rel=1e-14)
    warm = schedules.CosineDecay(0.0, 4, warmup_target=0.1, warmup_steps=2)
    assert [warm(s) for s in (0, 1, 2, 4, 6, 9)] == pytest.approx([0.0, 0.05, 0.1, 0.05, 0.0, 0.0], abs=1e-15)
    np.testing.assert_allclose(exp(np.arange(3)), [exp(0), exp(1), exp(2)], **TOL)
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="1 less than the length of values"):
        schedules.PiecewiseConstantDecay([1, 2], [0.1])


def test_optimizer_evaluates_the_schedule_at_iterations():
    schedule = schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    optimizer = SGD(schedule)
    values = run(optimizer, GRADS[:3])
    w = W0.copy()
    for k, g in enumerate(GRADS[:3]):  # step k (0-based) uses lr(k)
        w = w - 0.1 * 0.5**k * g
    np.testing.assert_allclose(values[-1], w, **TOL)
    assert optimizer.learning_rate == pytest.approx(0.1 * 0.5**3)


# -------------------------------------------------------------------- config and lookup
ALL = [SGD(0.2, momentum=0.5, nesterov=True, clipnorm=1.0), Adam(0.02, beta_1=0.8, amsgrad=True, clipvalue=0.5),
       AdamW(weight_decay=0.1, global_clipnorm=2.0), RMSprop(rho=0.8, momentum=0.1, centered=True, name="r"),
       Adagrad(0.3, initial_accumulator_value=0.2, epsilon=1e-6, weight_decay=0.01)]


@pytest.mark.parametrize("optimizer", ALL, ids=lambda o: type(o).__name__)
def test_config_round_trips(optimizer):
    config = optimizer.get_config()
    assert json.loads(json.dumps(config)) == config
    again = type(optimizer).from_config(config)
    assert type(again) is type(optimizer) and again.get_config() == config
    restored = optimizers.deserialize(json.loads(json.dumps(optimizers.serialize(optimizer))))
    assert type(restored) is type(optimizer) and restored.get_config() == config
    np.testing.assert_array_equal(run(restored)[-1], run(type(optimizer).from_config(config))[-1])


def test_config_with_schedule_round_trips():
    optimizer = Adam(schedules.PiecewiseConstantDecay([2], [0.1, 0.01]))
    config = optimizers.serialize(optimizer)
    assert config["config"]["learning_rate"] == {
        "class_name": "PiecewiseConstantDecay",
        "config": {"boundaries": [2], "values": [0.1, 0.01], "name": "PiecewiseConstant"}}
    again = optimizers.deserialize(json.loads(json.dumps(config)))
    assert isinstance(again._learning_rate, schedules.PiecewiseConstantDecay)
    assert optimizers.serialize(again) == config
    keras_style = dict(config["config"], loss_scale_factor=None)
    assert Adam.from_config(keras_style).get_config() == config["config"]
    assert Adam.from_config(dict(config["config"], use_ema=True)).use_ema
    with pytest.raises(ValueError, match="loss_scale_factor"):
        Adam.from_config(dict(config["config"], loss_scale_factor=128.0))


def test_defaults_and_names_are_keras():
    assert SGD().get_config() == {"name": "SGD", "learning_rate": 0.01, "weight_decay": None, "clipnorm": None,
                                  "global_clipnorm": None, "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
                                  "ema_overwrite_frequency": None, "gradient_accumulation_steps": None,
                                  "momentum": 0.0, "nesterov": False}
    adamw = AdamW().get_config()
    assert (adamw["name"], adamw["learning_rate"], adamw["weight_decay"], adamw["epsilon"]) == \
        ("adamw", 0.001, 0.004, 1e-7)
    assert (Adam().name, RMSprop().name, Adagrad().name) == ("adam", "rmsprop", "adagrad")
    assert (RMSprop().rho, Adagrad().initial_accumulator_value) == (0.9, 0.1)
    with pytest.raises(ValueError, match="weight_decay"):
        AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="momentum"):
        SGD(momentum=1.5)


def test_get_accepts_names_dicts_and_instances():
    for name, cls in [("sgd", SGD), ("Adam", Adam), ("ADAMW", AdamW), ("rmsprop", RMSprop), ("adagrad", Adagrad)]:
        assert type(optimizers.get(name)) is cls
    optimizer = Adam()
    assert optimizers.get(optimizer) is optimizer
    assert optimizers.get({"class_name": "sgd", "config": {"learning_rate": 0.3}}).learning_rate == 0.3
    with pytest.raises(ValueError) as error:
        optimizers.get("adabelief")
    for name in ("'adagrad'", "'adam'", "'adamw'", "'rmsprop'", "'sgd'", "'nadam'", "'lion'", "'ftrl'"):
        assert name in str(error.value)
    with pytest.raises(ValueError):
        optimizers.get(3)


# -------------------------------------------------------------------- state
@pytest.mark.parametrize("make", [lambda: SGD(0.1, momentum=0.9), lambda: Adam(0.01, amsgrad=True),
                                  lambda: RMSprop(schedules.ExponentialDecay(0.01, 2, 0.5), momentum=0.5,
                                                  centered=True),
                                  lambda: Adagrad(0.1), lambda: AdamW(0.01)], ids=range(5))
def test_state_round_trip_continues_like_an_uninterrupted_run(make):
    uninterrupted = run(make(), GRADS)[-1]
    first = make()
    variable = Variable(W0.copy(), "kernel", "dense/kernel")
    for g in GRADS[:2]:
        first.apply([g], [variable])
    state = {k: np.array(v) for k, v in first.get_state().items()}  # as a file would hold it
    second = type(first).from_config(first.get_config())
    copy = Variable(variable.value.copy(), "kernel", "dense/kernel")
    second.set_state(state, [copy])
    assert second.iterations == 2 and set(second.get_state()) == set(state)
    for g in GRADS[2:]:
        second.apply([g], [copy])
    np.testing.assert_array_equal(copy.value, uninterrupted)


def test_state_keeps_a_changed_learning_rate():
    optimizer = SGD(0.1)
    run(optimizer, GRADS[:1])
    optimizer.learning_rate = 0.025
    restored = SGD(0.1)
    restored.set_state(optimizer.get_state(), [Variable(W0.copy(), "kernel", "dense/kernel")])
    assert restored.learning_rate == 0.025


def test_set_state_rejects_missing_misshapen_or_foreign_entries():
    optimizer = Adam()
    run(optimizer)
    state = optimizer.get_state()
    variable = Variable(W0.copy(), "kernel", "dense/kernel")
    fresh = Adam()
    for bad, message in [({k: v for k, v in state.items() if k != "velocity/dense/kernel"}, "no entry 'velocity"),
                         ({**state, "momentum/dense/kernel": np.zeros(6)}, "shape"),
                         ({k: v for k, v in state.items() if k != "iterations"}, "iterations"),
                         ({**state, "velocity_hat/dense/kernel": np.zeros((2, 3))}, "unexpected")]:
        with pytest.raises(ValueError, match=message):
            fresh.set_state(bad, [variable])
        assert fresh.iterations == 0 and fresh.get_state().keys() == {"iterations", "learning_rate"}
    fresh.set_state(state, [])  # slots of variables not listed are kept
    assert fresh.get_state().keys() == state.keys()


# -------------------------------------------------------------------- sanity
@pytest.mark.parametrize("optimizer", [SGD(0.1), SGD(0.05, momentum=0.9, nesterov=True), Adam(0.05), AdamW(0.05),
                                       RMSprop(0.02), RMSprop(0.01, momentum=0.5, centered=True), Adagrad(0.5)],
                         ids=lambda o: type(o).__name__)
def test_minimises_a_quadratic(optimizer):
    scale, target = np.array([1.0, 3.0, 0.5]), np.array([1.0, -2.0, 0.5])
    variable = Variable(np.zeros(3), "w")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(600):
            optimizer.apply([scale * (variable.value - target)], [variable])
    np.testing.assert_allclose(variable.value, target, atol=0.05)
