"""Bad input raises ValueError with a message that says what to change."""
import math

import numpy as np
import pytest

from perturbo import ShapedMLP
from tests.datasets import make_data


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(depth=0, width=10), "depth must be an integer >= 1"),
        (dict(depth=2.5, width=10), "depth must be an integer"),
        (dict(depth=True, width=10), "depth must be an integer"),
        (dict(depth=2, width=0), "width must be an integer >= 1"),
        (dict(depth=2, width=[10]), "width lists 1 layers but depth is 2"),
        (dict(depth=2, width=[10, -1]), "width must be an integer >= 1"),
        (dict(depth=2, width="10"), "width must be an integer or a list"),
        (dict(depth=2, width=10, psi=math.nan), "psi must be a finite real"),
        (dict(depth=2, width=10, sigma_w2=0.0), "sigma_w2 must be > 0"),
        (dict(depth=2, width=10, sigma_w2=math.inf), "sigma_w2 must be a finite"),
        (dict(depth=2, width=10, activation="exp(t)"), "not a polynomial"),
        (dict(depth=2, width=10, activation="a*t**3"), "not a polynomial|depends on"),
    ],
)
def test_bad_model_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ShapedMLP(**kwargs)


NET = ShapedMLP(depth=2, width=20, psi=0.3)
X, Y, XT = make_data(P=4, N0=8, T=2)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: NET.evidence(X[0], Y), r"X must be 2-D"),
        (lambda: NET.evidence(X, Y[:3]), r"y must have shape \(4,\)"),
        (lambda: NET.evidence(X, Y[:, None]), r"y must be 1-D"),
        (lambda: NET.evidence(np.where(X > 1, np.nan, X), Y), "NaN or infinite"),
        (lambda: NET.evidence(X, np.array([1.0, math.inf, 0, 0])), "NaN or infinite"),
        (lambda: NET.evidence(np.zeros((0, 8)), np.zeros(0)), "empty"),
        (lambda: NET.evidence(X, Y, beta=0.0), "beta must be > 0"),
        (lambda: NET.evidence(X, Y, beta=-1.0), "beta must be > 0"),
        (lambda: NET.evidence(X, Y, beta=math.nan), "beta must be > 0"),
        (lambda: NET.evidence(X, Y, order=-1), "order must be an integer from 0 to"),
        (lambda: NET.evidence(X, Y, order=1.5), "order must be an integer from 0 to"),
        (lambda: NET.evidence(X[:, :4], Y), r"P = 4 >= N0 = 4"),
        (lambda: NET.predict(X, Y, XT[:, :5]), "X_test must have 8 columns"),
        (lambda: NET.predict(X, Y, None), "predict needs test inputs"),
        (lambda: NET.evidence(np.vstack([X[:3], X[:1]]), Y), "not positive definite"),
        (lambda: NET.exact(X, Y), "only for the deep linear network"),
        (lambda: NET.monte_carlo(X, Y, samples=1), "samples must be an integer from 2 to"),
        (lambda: NET.evidence([["a"] * 8] * 4, Y), "array of real numbers, got strings"),
        (lambda: NET.evidence(X + 1j, Y), "array of real numbers, got complex numbers"),
        (lambda: NET.evidence([[1.0, 2.0], [3.0]], Y), "array of real numbers"),
        (lambda: NET.evidence(X, Y * 1e300, beta=2.0), "log evidence is not finite"),
        (lambda: ShapedMLP(depth=10, width=20, psi=0.9).evidence(30 * X, Y), "kernel overflows at layer"),
        (lambda: NET.evidence(np.vstack([X[:3], X[:1] + 1e-9]), Y), r"condition number [0-9.e+]+, limit"),
        (lambda: NET.evidence(X, Y, backend="gpu"), "backend must be one of"),
        (lambda: ShapedMLP(depth=2, width=20, psi=0.5).evidence(np.eye(40, 50), np.ones(40), order=3), "needs about"),
        (lambda: NET.monte_carlo(X, Y, samples=10, seed=-1), "seed must be an integer >= 0"),
        (lambda: NET.monte_carlo(X, Y, samples=10**12), "samples must be an integer from 2 to"),
    ],
)
def test_bad_data_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_p_at_least_n0_is_fine_at_finite_temperature():
    Xw, yw, _ = make_data(P=6, N0=4)
    assert math.isfinite(NET.evidence(Xw, yw, beta=4.0).log_evidence)


def test_inputs_are_not_modified():
    Xc, yc, XTc = X.copy(), Y.copy(), XT.copy()
    NET.predict(X, Y, XT, beta=2.0)
    with pytest.raises(ValueError):
        NET.predict(X, Y, XT, beta=-2.0)
    np.testing.assert_array_equal(X, Xc)
    np.testing.assert_array_equal(Y, yc)
    np.testing.assert_array_equal(XT, XTc)
