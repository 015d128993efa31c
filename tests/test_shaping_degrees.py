"""Compiled = reference for shaping polynomials of every degree from 1 to 8 (issue 14), at order 1 through
both first-order lowerings, and at order 2 against the exact multi-point Gram chain.

The compiled first order once encoded derivative orders in one-digit operand names: from
degree 5 on (ten derivatives per point) it returned wrong numbers or a ``KeyError``.
"""
import math

import numpy as np
import pytest

from perturbo import ShapedMLP
from tests.oracle import pullback

SHAPINGS = {
    1: "0.3*t",
    2: "0.2 + 0.4*t**2",
    3: "0.4*t**2 - 0.3*t**3",
    4: "0.1*t - 0.2*t**4",
    5: "0.3*t**5",
    6: "0.1 + 0.2*t**3 - 0.05*t**6",
    7: "0.2*t**3 - 0.1*t**7",
    8: "-0.1*t + 0.3*t**2 + 0.05*t**8",
}


def assert_corrections_equal(a: np.ndarray, b: np.ndarray) -> None:
    """Terms ``1..K`` equal to 1e-10 of their size; ``b[0]`` (the Gaussian process) sets a rounding floor
    ``1e-14 |b[0]|`` (the deep linear mean at zero temperature is exactly 0)."""
    tolerance = 1e-10 * np.max(np.abs(b[1:])) + 1e-14 * np.max(np.abs(b[0]))
    assert np.max(np.abs(a[1:] - b[1:])) <= tolerance


LOWERINGS = [pytest.param(lowering, degree, id=f"{lowering}-{degree}")
             for lowering in ("factored", "dense") for degree in sorted(SHAPINGS)]
"""Every degree in the default suite: the factored plans of degrees 3-8 take about a minute cold in all (they took
2-3 minutes each as generated modules, and were slow tests then)."""


@pytest.mark.parametrize("beta", [2.0, math.inf], ids=["beta2", "zeroT"])
@pytest.mark.parametrize("lowering, degree", LOWERINGS)
def test_compiled_first_order_equals_the_pullback_oracle_for_every_degree(lowering, degree, beta):
    rng = np.random.default_rng(degree)
    X, y, X_test = rng.normal(size=(2, 6)), rng.normal(size=2), rng.normal(size=(2, 6))
    X_test[1] = X[0]  # a test point equal to a training point
    X, X_test = (0.6 * Z / np.linalg.norm(Z, axis=1, keepdims=True) * np.sqrt(6) for Z in (X, X_test))
    net = ShapedMLP(depth=2, width=40, activation=SHAPINGS[degree])
    fast = net.evidence(X, y, beta=beta, order=1, lowering=lowering)
    slow_p = slow = pullback.series(net, X, y, X_test, beta, order=1)
    assert_corrections_equal(fast.terms, slow.terms)
    fast_p = net.predict(X, y, X_test, beta=beta, order=1, lowering=lowering)
    assert fast.lowering == fast_p.lowering == lowering
    assert_corrections_equal(fast_p.mean_terms, slow_p.mean_terms)
    assert_corrections_equal(fast_p.cov_terms, slow_p.cov_terms)


@pytest.mark.parametrize(
    "degree", [d if d < 5 else pytest.param(d, marks=pytest.mark.slow) for d in sorted(SHAPINGS)]  # chain: 25-60 s
)
def test_second_order_equals_the_exact_gram_chain_for_every_degree(degree):
    """Order 2 (compiled, dense lowering) against the exact multi-point Gram chain, two training points and a
    test point; seen: 1e-15."""
    from tests.test_gram_chain_exact import chain_terms

    rng = np.random.default_rng(degree)
    X, X_test = (0.6 * Z / np.linalg.norm(Z, axis=1, keepdims=True) * np.sqrt(6) for Z in (rng.normal(size=(2, 6)),
                                                                                           rng.normal(size=(1, 6))))
    y = rng.normal(size=2)
    net = ShapedMLP(depth=2, width=[40, 60], activation=SHAPINGS[degree])
    exact = chain_terms(net, X, y, X_test, 2.0, 2)
    ev = net.evidence(X, y, beta=2.0, order=2)
    pr = net.predict(X, y, X_test, beta=2.0, order=2)
    np.testing.assert_allclose(ev.terms[1:], exact["log_evidence"][1:], rtol=1e-10)
    np.testing.assert_allclose(pr.mean_terms[1:, 0], exact["mean"][1:], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(pr.var_terms[1:, 0], exact["var"][1:], rtol=1e-10)
