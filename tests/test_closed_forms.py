"""Deep linear closed forms (``perturbo.closed_form``) against an independent series and against the engine."""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from perturbo import ShapedMLP, closed_form
from perturbo.closed_forms import L, P, e, f, kxx, p, q, r, t, v0
from tests.datasets import make_data
from tests.deep_linear_series import N, zero_temperature_series
from tests.oracle import pullback


@pytest.mark.parametrize("order", [1, 2, 3, pytest.param(4, marks=pytest.mark.slow)])
def test_zero_temperature_closed_forms_equal_the_series_from_the_cumulants_of_log_s(order):
    """``tests/deep_linear_series`` expands in the cumulants of ``u = log s`` (polygamma), shares no code."""
    depth = 3
    ev, var = zero_temperature_series((N,) * depth, order)
    log_evidence = closed_form("log_evidence", order).subs(L, depth) / N**order
    assert sp.simplify(log_evidence - ev[order]) == 0
    assert sp.simplify(closed_form("var", order).subs(L, depth) / N**order - v0 * var[order]) == 0
    assert closed_form("mean", order) == 0  # derived: at beta = inf the mean does not depend on the scale s


def test_orders_one_and_two_are_the_hand_derivations():
    """The hand derivations of orders 1 and 2 (``derivations/hand/``)."""
    assert sp.expand(closed_form("log_evidence", 1) - L * ((r - P) ** 2 / 4 - r + P / 2)) == 0
    assert sp.expand(closed_form("var", 1) - L * v0 * (r - P)) == 0
    second = -L * (3 * L * P**2 * r - 6 * L * P * r**2 + 12 * L * P * r + 3 * L * r**3 - 15 * L * r**2 + 12 * L * r
                   - P**3 + 3 * P**2 * r - 3 * P**2 - 3 * P * r**2 + 12 * P * r - 2 * P + r**3 - 9 * r**2 + 12 * r) / 12
    assert sp.expand(closed_form("log_evidence", 2) - second) == 0
    assert sp.expand(closed_form("var", 2) + v0 * L * (L * (r**2 - 2 * r - P**2) + P**2 - 2 * P * r + r**2 - 2 * r) / 2) == 0


def invariants(K: np.ndarray, y: np.ndarray, n_train: int, sigma2: float, widths, order: int) -> dict:
    """Numeric values of the closed forms' symbols for the first test point."""
    KDD, k = K[:n_train, :n_train], K[:n_train, n_train]
    A = np.linalg.inv(KDD + sigma2 * np.eye(n_train))
    W = KDD @ A
    powers = [np.linalg.matrix_power(W, m) for m in range(2 * order + 1)]
    values = {kxx: K[n_train, n_train]}
    for m in range(2 * order + 1):
        values[e(m)], values[f(m)] = k @ A @ powers[m] @ y, k @ A @ powers[m] @ k
        if m:
            values[t(m)], values[q(m)] = np.trace(powers[m]), y @ A @ powers[m] @ y
    values.update({p(a): sum(n ** -a for n in widths) for a in range(1, order + 1)})
    return values


@pytest.mark.parametrize("evaluator, order", [("pull-back oracle", 1), ("pull-back oracle", 2), ("compiler", 3)])
def test_finite_temperature_closed_forms_on_data_equal_the_engine(evaluator, order):
    """Per-layer widths, finite ``beta``: the closed forms evaluated on data = the engine's terms (1e-10)."""
    widths, beta = [30, 55, 40], 2.0
    X, y, X_test = make_data(P=3, N0=6, T=1, seed=4, scale=0.8)
    net = ShapedMLP(depth=3, width=widths, sigma_w2=1.2)
    K = net.kernels(np.vstack([X, X_test]))[-1]
    values = invariants(K, y, 3, 3 / beta, widths, order)
    if evaluator == "compiler":
        ev, pr = net.evidence(X, y, beta=beta, order=order), net.predict(X, y, X_test, beta=beta, order=order)
    else:
        ev = pr = pullback.series(net, X, y, X_test, beta, order)
    for k in range(1, order + 1):
        for quantity, engine in [("log_evidence", ev.terms[k]), ("mean", pr.mean_terms[k, 0]),
                                 ("var", pr.var_terms[k, 0])]:
            value = float(closed_form(quantity, k, "finite", "per-layer").subs(values))
            assert value == pytest.approx(engine, rel=1e-10, abs=1e-15), (quantity, k)


def test_bad_requests_are_value_errors():
    for call, message in [
        (lambda: closed_form("evidence", 1), "quantity must be one of"),
        (lambda: closed_form("var", 5), "order must be an integer from 1 to 4"),
        (lambda: closed_form("var", 1, beta=2.0), "beta must be math.inf or 'finite'"),
        (lambda: closed_form("var", 1, widths="mixed"), "widths must be"),
    ]:
        with pytest.raises(ValueError, match=message):
            call()
    assert closed_form("mean", 1, beta=math.inf) == 0
