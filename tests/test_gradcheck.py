"""rnnkit.gradcheck as a user meets it: passes right gradients, reports wrong ones."""

from functools import partial

import numpy as np
import pytest

import rnnkit
from rnnkit import ops


def square(**inputs):
    """y = x^2 with the right gradient, as an (outputs, backward) pair."""
    x = inputs["x"]
    return (x * x,), lambda dy: {"x": 2 * x * dy}


def wrong_square(**inputs):
    x = inputs["x"]
    return (x * x,), lambda dy: {"x": 2.001 * x * dy}


def test_passes_a_right_gradient_and_reports_per_input():
    report = rnnkit.gradcheck(square, {"x": np.array([1.0, -2.0, 3.0])})
    assert report and report.passed
    (check,) = report.checks
    assert check.name == "x" and check.shape == (3,) and check.max_abs_error < 1e-8


@pytest.mark.parametrize("order", [2, 4])
def test_rejects_a_wrong_gradient_with_a_readable_report(order):
    with pytest.raises(rnnkit.GradcheckError) as caught:
        rnnkit.gradcheck(wrong_square, {"x": np.array([1.0, -2.0, 3.0])}, order=order)
    text = str(caught.value)
    assert "FAILED" in text and "x" in text and "(2,)" in text  # worst entry: the largest |x|
    assert isinstance(caught.value, AssertionError)  # pytest shows it as a failed assertion


def test_report_without_raising():
    report = rnnkit.gradcheck(wrong_square, {"x": np.array([1.0, 2.0])}, raise_exception=False)
    assert not report
    assert report.checks[0].worst_index == (1,)
    check = report.checks[0]  # gradients of <R, y> for the random weights R
    assert check.analytic / check.numerical == pytest.approx(2.001 / 2, rel=1e-8)


def test_fourth_order_is_far_more_accurate():
    inputs = {"x": np.array([0.3, -1.2])}
    exp = lambda **a: ((np.exp(a["x"]),), lambda dy: {"x": np.exp(a["x"]) * dy})  # noqa: E731
    second = rnnkit.gradcheck(exp, inputs, order=2).checks[0].max_abs_error
    fourth = rnnkit.gradcheck(exp, inputs, order=4).checks[0].max_abs_error
    assert fourth < 1e-11 < second


def test_checks_ops_results_wrt_a_subset_and_leaves_other_inputs_alone():
    rng = np.random.default_rng(0)
    inputs = {"x": rng.standard_normal((2, 4, 3)), "kernel": rng.standard_normal((3, 8)),
              "recurrent_kernel": rng.standard_normal((2, 8)), "lengths": np.array([4, 2])}
    report = rnnkit.gradcheck(ops.lstm_forward, inputs, wrt=["kernel"], order=4, rtol=1e-7, atol=1e-10)
    assert [c.name for c in report.checks] == ["kernel"]
    assert inputs["lengths"].dtype.kind == "i"


def test_float32_inputs_are_checked_in_float64():
    rng = np.random.default_rng(1)
    inputs = {"x": rng.standard_normal((2, 3, 2)).astype(np.float32),
              "kernel": rng.standard_normal((2, 6)).astype(np.float32),
              "recurrent_kernel": rng.standard_normal((2, 6)).astype(np.float32)}
    report = rnnkit.gradcheck(partial(ops.gru_forward, reset_after=False), inputs, order=4, rtol=1e-7, atol=1e-10)
    assert report.passed and inputs["x"].dtype == np.float32


def test_misuse_is_explained():
    with pytest.raises(TypeError, match=r"must return an object with \.outputs and \.backward"):
        rnnkit.gradcheck(lambda **a: a["x"], {"x": np.ones(2)})
    with pytest.raises(ValueError, match="'wrt' names 'y', which is not a float input"):
        rnnkit.gradcheck(square, {"x": np.ones(2)}, wrt=["y"])
    with pytest.raises(ValueError, match="backward returned no gradient for 'z'"):
        rnnkit.gradcheck(square, {"x": np.ones(2), "z": np.ones(1)})
    with pytest.raises(ValueError, match="'order' must be 2 or 4"):
        rnnkit.gradcheck(square, {"x": np.ones(2)}, order=3)
    with pytest.raises(TypeError, match="'inputs' must be a dict"):
        rnnkit.gradcheck(square, [np.ones(2)])


def test_non_contiguous_inputs_are_perturbed_for_real():
    x = np.arange(1.0, 7.0).reshape(2, 3).T  # Fortran-ordered view
    report = rnnkit.gradcheck(square, {"x": x}, order=4, rtol=1e-7, atol=1e-10)
    assert report.passed and report.checks[0].shape == (3, 2)
