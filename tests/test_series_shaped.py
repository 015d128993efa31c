"""The engine on shaped (nonlinear) networks: brute force at order 1, an exact chain at orders 2 and 3 on one point,
identities of Bayesian interpolation, and Monte Carlo where the series is meant to work."""
import math

import numpy as np
import pytest
import sympy as sp

from perturbo import ShapedMLP
from tests.brute_force_first_order import first_order_readout, fluctuation_moments
from tests.datasets import make_data
from tests.single_point_chain import single_point_log_evidence_terms

SHAPED = [
    dict(depth=3, psi=0.6, activation=None),
    dict(depth=6, psi=-0.8, activation=None),
    dict(depth=3, psi=0.0, activation="0.5*t**2 - 0.3*t**3"),  # not odd
]


@pytest.mark.parametrize("shape", SHAPED, ids=["cubic+0.6-L3", "cubic-0.8-L6", "non-odd-L3"])
def test_first_order_matches_full_tensor_brute_force(shape):
    X, y, X_test = make_data(P=2, N0=5, T=1, seed=1, scale=0.8)
    widths = [30, 50, 40, 30, 60, 45][: shape["depth"]]
    net = ShapedMLP(depth=shape["depth"], width=widths, psi=shape["psi"], sigma_w2=1.1, activation=shape["activation"])
    beta, P = 3.0, len(y)
    kernels = net.kernels(np.vstack([X, X_test]))
    mu, V = fluctuation_moments(kernels, net.widths, net.activation.phi, net.activation, net.sigma_w2)
    readout = {r: first_order_readout(kernels[-1], P, y, P / beta, mu, V, r, x=P) for r in ("1", "f", "f2")}
    (_, z1), (m0, m1), (s0, s1) = readout["1"], readout["f"], readout["f2"]
    mean1 = m1 - m0 * z1
    var1 = s1 - s0 * z1 - 2 * m0 * mean1

    ev = net.evidence(X, y, beta=beta, order=1)
    pr = net.predict(X, y, X_test, beta=beta, order=1)
    assert ev.terms[1] == pytest.approx(z1, rel=1e-10)
    assert pr.mean_terms[1, 0] == pytest.approx(mean1, rel=1e-10)
    assert pr.var_terms[1, 0] == pytest.approx(var1, rel=1e-10)


@pytest.mark.parametrize(
    "activation, psi, beta, order",
    [(None, sp.Rational(3, 5), 4, 2), (None, sp.Rational(-4, 5), math.inf, 2), ("t**2/2 - 3*t**3/10", 0, 2, 2),
     (None, sp.Rational(3, 5), 4, 3), pytest.param("t**2/2 - 3*t**3/10", 0, 2, 3, marks=pytest.mark.slow)],
    ids=["cubic+0.6-beta4", "cubic-0.8-zero-T", "non-odd-beta2", "order3-cubic+0.6-beta4", "order3-non-odd-beta2"],
)
def test_evidence_equals_the_exact_single_point_chain(activation, psi, beta, order):
    """Orders 2 and 3 of a shaped network end to end (the dense lowering; at order 3 ``kappa_2 .. kappa_4`` from their
    tables and the read-out's plan) against the exact rational chain (about 20 s at order 3): to 1e-12."""
    x = np.array([[0.5, -0.25, 0.75, 0.5]])  # binary fractions: the float data equal the rational S0 exactly
    y, width, depth = 0.375, 20, 2
    net = ShapedMLP(depth=depth, width=width, psi=float(psi), activation=activation)
    S0 = sp.Rational(sum(sp.Rational(v) ** 2 for v in x[0]), x.shape[1])
    noise = 0 if math.isinf(beta) else sp.Rational(1, beta)
    exact = single_point_log_evidence_terms(net.activation.phi, sp.Integer(1), S0, sp.Rational(y), noise, depth, order)
    target = [float(exact[0])] + [float(exact[k]) / width**k for k in range(1, order + 1)]
    ev = net.evidence(x, np.array([y]), beta=beta, order=order)
    assert ev.lowering == "dense"
    np.testing.assert_allclose(ev.terms, target, rtol=1e-12)


@pytest.mark.parametrize("shape", SHAPED, ids=["cubic+0.6-L3", "cubic-0.8-L6", "non-odd-L3"])
def test_zero_temperature_interpolates_at_every_order(shape):
    """At beta = inf a test input equal to a training input has mean y and variance 0, exactly."""
    X, y, _ = make_data(P=2, N0=5, T=1, seed=2, scale=0.8)
    net = ShapedMLP(depth=shape["depth"], width=25, psi=shape["psi"], activation=shape["activation"])
    pr = net.predict(X, y, X[1:2], order=2)
    np.testing.assert_allclose(pr.mean_terms[0], y[1:2], rtol=1e-10)
    assert np.all(np.abs(pr.mean_terms[1:]) < 1e-10)
    assert np.all(np.abs(pr.var_terms) < 1e-10)


def test_order_k_terms_are_consistent_across_orders():
    X, y, X_test = make_data(P=2, N0=5, T=2, seed=3, scale=0.8)
    net = ShapedMLP(depth=4, width=[20, 30, 25, 40], psi=-0.5)
    low = net.predict(X, y, X_test, beta=2.0, order=1)
    high = net.predict(X, y, X_test, beta=2.0, order=2)
    np.testing.assert_allclose(high.mean_terms[:2], low.mean_terms, rtol=1e-12)
    np.testing.assert_allclose(high.cov_terms[:2], low.cov_terms, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(high.cov, high.cov.T)
    second, first = (net.evidence(X, y, beta=2.0, order=k).terms for k in (2, 1))
    np.testing.assert_allclose(second[:2], first, rtol=1e-12)


@pytest.mark.slow
def test_second_order_beats_first_order_against_monte_carlo():
    """Many layers, a weak per-layer cubic: Monte Carlo over 10^6 networks resolves the order-2 gain."""
    X, y, X_test = make_data(P=3, N0=8, T=1, seed=11, scale=0.8)
    net = ShapedMLP(depth=6, width=16, psi=-0.8)
    mc = net.monte_carlo(X, y, X_test, beta=6.0, samples=1_000_000, seed=1)
    ev = net.evidence(X, y, beta=6.0, order=2)
    by_order = np.cumsum(ev.terms)
    z = np.abs(by_order - mc.log_evidence) / mc.log_evidence_se
    assert z[0] > 20 and z[1] > 4  # Monte Carlo resolves the order-0 and order-1 errors ...
    assert z[2] < z[1] / 1.5  # ... and order 2 is clearly closer (its O(N^-3) remainder is still resolved)


def test_breakdown_of_the_series_is_reported_not_hidden():
    """Few layers, a strong cubic, a narrow network: the order-2 correction outgrows order 1."""
    X, y, X_test = make_data(P=3, N0=8, T=1, seed=11, scale=0.8)
    with pytest.warns(RuntimeWarning, match="posterior mean is not converging"):
        pr = ShapedMLP(depth=3, width=16, psi=0.6).predict(X, y, X_test, beta=6.0, order=2)
    assert pr.converging is False
    assert pr.mean_error_estimate[0] == pytest.approx(abs(pr.mean_terms[2, 0]))


def test_no_warning_where_the_series_is_meant_to_work(recwarn):
    X, y, X_test = make_data(P=3, N0=8, T=1, seed=11, scale=0.8)
    net = ShapedMLP(depth=6, width=64, psi=-0.8)
    ev = net.evidence(X, y, beta=6.0, order=2)
    pr = net.predict(X, y, X_test, beta=6.0, order=2)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    assert ev.converging is True and pr.converging is True
    assert ev.error_estimate == pytest.approx(abs(ev.terms[2]))
    low = net.evidence(X, y, beta=6.0, order=1)
    assert low.converging is None and low.error_estimate == pytest.approx(abs(low.terms[1]))
    assert net.evidence(X, y, beta=6.0, order=0).error_estimate is None
