"""The engine on the deep linear network: exact per-order targets and N^-(K+1) error scaling."""
import math

import numpy as np
import pytest
import sympy as sp

from perturbo import ShapedMLP
from tests.datasets import make_data
from tests.deep_linear_series import N, P, r, zero_temperature_series


def closed_form_terms(widths: tuple, order: int, P_value: int, r_value: float):
    ev, var = zero_temperature_series(widths, order)
    values = {P: P_value, r: r_value}
    return [float(e.subs(values)) for e in ev], [float(v.subs(values)) for v in var]


@pytest.mark.parametrize(
    "widths, order, P_value, seed",
    [
        ((30, 30), 1, 3, 0),
        ((25, 40, 60), 1, 4, 1),
        ((20, 20, 20), 2, 3, 2),
        ((12, 30, 18), 2, 2, 3),
        pytest.param((30, 30, 30), 3, 2, 4, marks=pytest.mark.slow),
    ],
)
def test_zero_temperature_terms_equal_the_independent_closed_form(widths, order, P_value, seed):
    X, y, X_test = make_data(P=P_value, N0=6, T=1, seed=seed)
    net = ShapedMLP(depth=len(widths), width=list(widths), sigma_w2=1.3)
    K = net.kernels(np.vstack([X, X_test]))[-1]
    r_value = float(y @ np.linalg.solve(K[:P_value, :P_value], y))
    ev_target, var_target = closed_form_terms(widths, order, P_value, r_value)

    ev = net.evidence(X, y, order=order)
    pr = net.predict(X, y, X_test, order=order)
    np.testing.assert_allclose(ev.terms[1:], ev_target[1:], rtol=1e-9)
    np.testing.assert_allclose(pr.var_terms[:, 0] / pr.var_terms[0, 0], var_target, rtol=1e-9)
    # at beta = inf the mean does not depend on the kernel scale: no finite-width correction
    assert np.all(np.abs(pr.mean_terms[1:]) < 1e-12 * abs(pr.mean_terms[0, 0]))


def test_first_order_closed_forms_are_the_known_ones():
    ev, var = zero_temperature_series((N,) * 3, 1)
    assert sp.simplify(ev[1] - 3 / N * ((r - P) ** 2 / 4 - r + P / 2)) == 0
    assert sp.simplify(var[1] - 3 / N * (r - P)) == 0


def error_slopes(errors: list[float]) -> np.ndarray:
    """``log2`` of successive error ratios over width doublings."""
    return np.log2(np.array(errors[:-1]) / np.array(errors[1:]))


def assert_errors_fall_like_n_to_the_minus_k_plus_1(nets, X, y, X_test, beta, max_order, quantities):
    """The order-K error against ``net.exact`` over width doublings: slope ``K + 1`` (-0.4, +0.6) at the widest
    pair, and each order better than the one before at the widest network."""
    errors = {k: {q: [] for q in quantities} for k in range(max_order + 1)}
    for net in nets:
        exact = net.exact(X, y, X_test, beta=beta)
        ev = net.evidence(X, y, beta=beta, order=max_order)
        pr = net.predict(X, y, X_test, beta=beta, order=max_order)
        series = {"evidence": (ev.terms, exact.log_evidence), "mean": (pr.mean_terms[:, 0], exact.mean[0]),
                  "var": (pr.var_terms[:, 0], exact.var[0])}
        for k in range(max_order + 1):
            for q in quantities:
                terms, value = series[q]
                errors[k][q].append(abs(terms[: k + 1].sum() - value))
    for k in range(max_order + 1):
        for q in quantities:
            slopes = error_slopes(errors[k][q])
            assert k + 1 - 0.4 < slopes[-1] < k + 1 + 0.6, (k, q, errors[k][q], slopes)
            if k:
                assert errors[k][q][-1] < errors[k - 1][q][-1], (k, q)


@pytest.mark.parametrize(
    "beta, widths, seed",
    [(math.inf, (1, 1, 1), 0), (4.0, (1, 1, 1), 1), (math.inf, (1, 2, 1), 2), (1.5, (2, 1, 3), 3)],
    ids=["zero-T-equal", "finite-beta-equal", "zero-T-unequal", "small-beta-unequal"],
)
def test_order_k_error_falls_like_n_to_the_minus_k_plus_1(beta, widths, seed):
    X, y, X_test = make_data(P=2, N0=5, T=1, seed=seed)
    nets = [ShapedMLP(depth=3, width=[n * c for c in widths], sigma_w2=0.9) for n in (40, 80, 160)]
    quantities = ["evidence", "var"] if math.isinf(beta) else ["evidence", "mean", "var"]
    assert_errors_fall_like_n_to_the_minus_k_plus_1(nets, X, y, X_test, beta, 3, quantities)


@pytest.mark.parametrize("beta", [math.inf, 100.0])
def test_order_k_error_falls_like_n_to_the_minus_k_plus_1_at_200_points(beta):
    """Orders 0-4 through the compiled scale lowering at P = 200 (widths well above L P so that the series
    converges); targets drawn from the Gaussian process itself, so that the data are typical for the network."""
    X, _, X_test = make_data(P=200, N0=240, T=2, seed=5)
    K = ShapedMLP(depth=3, width=1).kernels(X)[-1]
    y = np.linalg.cholesky(K + 1e-12 * np.eye(200)) @ np.random.default_rng(5).normal(size=200)
    nets = [ShapedMLP(depth=3, width=n) for n in (3000, 6000, 12000)]
    assert_errors_fall_like_n_to_the_minus_k_plus_1(nets, X, y, X_test, beta, 4, ["evidence", "var"])


def test_a_tiny_psi_gives_the_linear_terms():
    X, y, X_test = make_data(P=3, N0=6, T=1, seed=7)
    linear = ShapedMLP(depth=3, width=20).predict(X, y, X_test, beta=2.0, order=2)
    almost = ShapedMLP(depth=3, width=20, psi=1e-7).predict(X, y, X_test, beta=2.0, order=2)
    for a, b in [(linear.mean_terms, almost.mean_terms), (linear.var_terms, almost.var_terms)]:
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * np.abs(a).max())
        assert not np.array_equal(a, b)  # the shaped path really ran
