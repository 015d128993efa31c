"""The continuum limit of the default cubic at first order (``limit="continuum"``, ``compiler/continuum.py``).

Targets: at ``psi = 0`` the deep linear first order, exactly (it is linear in ``L/N``); for ``psi != 0`` the
Richardson extrapolation ``2 c(128) - c(64)`` of the exact finite-depth ``c(L) = N term_1 / L`` (compiled).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from perturbo import ShapedMLP
from perturbo.activation import t
from perturbo.compiler import continuum
from perturbo.symbolic.mean_map import S_aa, S_ab, S_bb, mean_map_expr
from tests.datasets import make_data

WIDTH = 1000


def first_order(net: ShapedMLP, X, y, X_test, beta, limit=None) -> np.ndarray:
    """``N term_1 / L`` of the log evidence and of the mean and variance at the test points, stacked."""
    ev = net.evidence(X, y, beta=beta, order=1, limit=limit)
    pr = net.predict(X, y, X_test, beta=beta, order=1, limit=limit)
    return np.concatenate([[ev.terms[1]], pr.mean_terms[1], pr.var_terms[1]]) * net.widths[0] / net.depth


@pytest.mark.parametrize("beta", [math.inf, 3.0])
def test_at_psi_zero_it_is_the_deep_linear_first_order(beta):
    X, y, X_test = make_data(P=4, N0=5, T=2, seed=3, scale=0.8)
    for depth in (1, 7):
        net = ShapedMLP(depth, 40)
        np.testing.assert_allclose(first_order(net, X, y, X_test, beta, "continuum"),
                                   first_order(net, X, y, X_test, beta), rtol=1e-10, atol=1e-13)
        assert net.evidence(X, y, beta, limit="continuum").terms[0] == pytest.approx(net.evidence(X, y, beta).terms[0])


CASES = [(-0.6, 4.0, 0), (-0.6, math.inf, 0), (0.4, math.inf, 0), (-0.6, 4.0, 7), (-0.6, math.inf, 7),
         (0.4, math.inf, 7), (0.4, 4.0, 5)]


@pytest.mark.parametrize("strength, beta, seed", CASES)
def test_the_finite_depth_first_order_extrapolates_to_the_continuum(strength, beta, seed):
    """Within 1% of the largest entry, on the log evidence, the mean and the variance together."""
    X, y, X_test = make_data(P=4, N0=5, T=1, seed=seed, scale=0.8)
    limit = first_order(ShapedMLP(64, WIDTH, psi=strength), X, y, X_test, beta, "continuum")
    c = {L: first_order(ShapedMLP(L, WIDTH, psi=strength), X, y, X_test, beta) for L in (16, 64, 128)}
    scale = np.abs(limit)
    np.testing.assert_array_less(np.abs(2 * c[128] - c[64] - limit), 0.01 * scale)
    assert np.max(np.abs(c[128] - limit) / scale) < np.max(np.abs(c[16] - limit) / scale)  # and it approaches


def test_near_the_edge_of_the_domain_the_approach_is_slow_but_lands():
    """``psi = 0.4``, largest ``2 psi |x|^2/N0 = 0.80``: ``2 c(128) - c(64)`` is still 5% off on the log evidence
    (measured), ``2 c(512) - c(256)`` is within 1% on every entry (0.4% on the log evidence)."""
    X, y, X_test = make_data(P=4, N0=5, T=1, seed=7, scale=0.8)
    limit = first_order(ShapedMLP(64, WIDTH, psi=0.4), X, y, X_test, 4.0, "continuum")
    c = {L: first_order(ShapedMLP(L, WIDTH, psi=0.4), X, y, X_test, 4.0) for L in (256, 512)}
    np.testing.assert_array_less(np.abs(2 * c[512] - c[256] - limit), 0.01 * np.abs(limit))


def test_the_quadrature_has_converged():
    X, y, _ = make_data(P=5, N0=5, T=0, seed=1, scale=0.8)
    K0 = X @ X.T / 5
    a, b = (continuum.continuum_moments(K0, 5, y, 0.5, -0.6, 1.0, nodes).z for nodes in (continuum.DEFAULT_NODES, 48))
    np.testing.assert_allclose(a, b, rtol=1e-9)


def test_the_flow_is_the_infinite_depth_limit_of_the_cubic_layer_map():
    """``d Phi_tau / d tau = V(Phi_tau)``, ``V(S) = lim L (m(S) - S)`` from the engine's mean map, and ``Phi_0 = 1``."""
    psi, L = sp.symbols("psi L")
    m = mean_map_expr(t + psi * t**3 / (3 * L), 1)
    V = sp.limit(L * (m - S_ab), L, sp.oo)  # m(S)_ab as f(S_aa, S_bb, S_ab)
    f = continuum.flow_map().subs(continuum.psi, psi)
    tau = continuum.tau
    at = {S_aa: f.subs(continuum.s_ab, continuum.s_aa).subs(continuum.s_bb, continuum.s_aa),
          S_bb: f.subs(continuum.s_ab, continuum.s_bb).subs(continuum.s_aa, continuum.s_bb), S_ab: f}
    assert sp.simplify(sp.diff(f, tau) - V.subs(at, simultaneous=True)) == 0
    assert f.subs(tau, 0) == continuum.s_ab


def test_outside_the_domain_and_other_bad_requests_are_value_errors():
    X, y, X_test = make_data(P=3, N0=4, T=1, seed=0, scale=0.8)
    net = ShapedMLP(8, 100, psi=0.6)
    outside = X_test * 3.0 / np.linalg.norm(X_test) * 2.0  # |x|^2/N0 = 4: 2 psi |x|^2/N0 = 4.8
    with pytest.raises(ValueError, match="outside the continuum's domain"):
        net.predict(X, y, outside, order=1, limit="continuum")
    for call, message in [
        (lambda: net.evidence(X, y, order=2, limit="continuum"), "derived at first order"),
        (lambda: net.evidence(X, y, order=1, limit="continuum", backend="compiled"), "one evaluator"),
        (lambda: net.evidence(X, y, order=1, limit="infinite"), "limit must be None or 'continuum'"),
        (lambda: ShapedMLP(8, [100] * 7 + [50], psi=0.6).evidence(X, y, order=1, limit="continuum"), "equal widths"),
        (lambda: ShapedMLP(8, 100, activation="t**2").evidence(X, y, order=1, limit="continuum"), "default cubic"),
        (lambda: ShapedMLP(8, 100, sigma_w2=2.0).evidence(X, y, order=1, limit="continuum"), "sigma_w2 = 1"),
    ]:
        with pytest.raises(ValueError, match=message):
            call()
