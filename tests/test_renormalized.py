"""Kernel renormalisation (``net.renormalized``): exact where the theory is exact, convergent where it is asymptotic.

Code paths: ``ansatz="wishart"`` runs ``renormalization.readout.ScaledKernel`` (eigenbasis, O(P) per evaluation) and
the scalar root scan ``saddle.wishart_roots`` for odd activations, Newton on ``(t, kappa)`` for non-odd ones;
``ansatz="nested"`` runs ``ansatz.Nested`` (the kernel chain as ``Taylor`` matrices) and the generic read-out
``readout.gaussian_process`` with ``saddle.maximum`` / ``saddle.stationary_point``. References: ``net.exact``
(deep linear), the engine's ``terms[1]``, the scale lowering, and ``tests/oracle/gaussian_equivalent`` (the
one-layer Gaussian-equivalent model with a mean, integrated on a grid).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import sympy as sp

from perturbo import ShapedMLP
from perturbo.activation import t
from perturbo.problem import Problem
from perturbo.compiler.scale import scale_moments
from perturbo.renormalization import build_ansatz
from perturbo.renormalization.ansatz import Ansatz, Nested, Wishart
from perturbo.renormalization.readout import ScaledKernel, gaussian_process
from perturbo.renormalization.saddle import wishart_roots, wishart_saddle
from perturbo.renormalization.taylor import Taylor
from tests.oracle.gaussian_equivalent import gaussian_equivalent_log_evidence

NON_ODD = "2*t**2 - 0.6*t**3"
SIZES = [40, 80, 160, 320, 640]


def teacher(P: int, N0: int, T: int = 4, seed: int = 0, noise: float = 0.5):
    """A noisy linear teacher; rows beyond ``P`` are the test points."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(P + T, N0))
    y = X @ rng.normal(size=N0) / math.sqrt(N0) + noise * rng.normal(size=P + T)
    return X[:P], y[:P], X[P:], y[P:]


def nested_teacher(P: int, T: int = 4):
    """The first ``P`` points of one dataset (``N0 = 1300 > 640``), so that errors are smooth in ``P``."""
    X, y, X_test, y_test = teacher(max(SIZES), 1300, T, seed=7)
    return X[:P], y[:P], X_test, y_test


def slope(sizes, errors) -> float:
    return float(np.polyfit(np.log(sizes), np.log(errors), 1)[0])


# ------------------------------------------------------------------ exactness for the deep linear network
@pytest.mark.parametrize("beta", [math.inf, 7.0])
@pytest.mark.parametrize("widths", [30, [30, 50, 40]])
def test_the_two_ansatze_coincide_for_the_deep_linear_network(beta, widths):
    """At ``psi = 0`` the layer map is linear and the nested chain is the Wishart scale: everything agrees to 1e-10."""
    X, y, X_test, _ = teacher(20, 40)
    net = ShapedMLP(depth=3, width=widths, sigma_w2=1.3)
    for loop in (False, True):
        w = net.renormalized(X, y, X_test, beta=beta, loop=loop)
        n = net.renormalized(X, y, X_test, beta=beta, ansatz="nested", loop=loop)
        np.testing.assert_allclose(n.order_parameters, w.order_parameters, rtol=1e-10, atol=0)
        assert abs(n.log_evidence - w.log_evidence) <= 1e-10 * abs(w.log_evidence)
        np.testing.assert_allclose(n.mean, w.mean, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(n.cov, w.cov, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(n.kernel, w.kernel, rtol=1e-10, atol=1e-13)
    for field in ("log_evidence", "mean", "var", "cov"):
        np.testing.assert_allclose(getattr(n.first_order, field), getattr(w.first_order, field), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("alpha, seed", [(0.3, 0), (1.0, 1), (2.5, 2)])
def test_one_layer_zero_temperature_closed_form(alpha, seed):
    """``L = 1``, ``beta = inf``: ``s = [(1 - alpha) + sqrt((1 - alpha)^2 + 4 alpha r0)] / 2`` (Li & Sompolinsky)."""
    P = 20
    X, y, _, _ = teacher(P, 30, seed=seed)
    width = round(P / alpha)
    net = ShapedMLP(depth=1, width=width)
    K = net.kernels(X)[-1]
    r0 = y @ np.linalg.solve(K, y) / P
    a = P / width
    expected = ((1 - a) + math.sqrt((1 - a) ** 2 + 4 * a * r0)) / 2
    assert abs(net.renormalized(X, y, loop=False).order_parameters[0] - expected) <= 1e-12 * expected


@pytest.mark.parametrize("alpha", [0.5, 1.0])
@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("noise", [0.0, 0.3])
def test_the_loop_converges_to_the_exact_deep_linear_answer(alpha, depth, noise):
    """At fixed ``alpha = P/N``, ``P = 40 .. 640``: the loop-corrected log evidence's error against ``net.exact`` falls
    like ``1/P`` (fitted exponent <= -0.8), the saddle alone misses by ``O(1)`` at every ``P``, and the predictive's
    relative errors fall like ``1/P`` (the mean is exact at ``beta = inf``)."""
    loop, saddle, mean, var = [], [], [], []
    for P in SIZES:
        X, y, X_test, _ = nested_teacher(P)
        beta = math.inf if noise == 0 else P / noise
        net = ShapedMLP(depth=depth, width=round(P / alpha))
        exact = net.exact(X, y, X_test, beta=beta)
        kr = net.renormalized(X, y, X_test, beta=beta)
        loop.append(abs(kr.log_evidence - exact.log_evidence))
        saddle.append(abs(kr.action - exact.log_evidence))
        mean.append(np.linalg.norm(kr.mean - exact.mean) / np.linalg.norm(exact.mean))
        var.append(np.linalg.norm(kr.var - exact.var) / np.linalg.norm(exact.var))
    assert slope(SIZES, loop) <= -0.8, loop
    assert min(saddle) > 5 * max(loop[1:]) and saddle[-1] > 0.5 * saddle[0], saddle
    assert slope(SIZES, var) <= -0.8, var
    if noise == 0:
        assert max(mean) <= 1e-10
    else:
        assert slope(SIZES, mean) <= -0.8, mean


def test_mixture_is_the_exact_deep_linear_answer():
    """``mixture=True`` integrates the Wishart scale with the exact machinery: for ``psi = 0`` it is ``net.exact``."""
    X, y, X_test, _ = teacher(12, 20)
    net = ShapedMLP(depth=2, width=[9, 14])
    for beta in (math.inf, 3.0):
        with warnings.catch_warnings():  # narrow layers: the saddle warns, the mixture is exact at any width
            warnings.simplefilter("ignore", RuntimeWarning)
            mixture = net.renormalized(X, y, X_test, beta=beta, mixture=True)
        exact = net.exact(X, y, X_test, beta=beta)
        assert mixture.log_evidence == pytest.approx(exact.log_evidence, rel=1e-12)
        np.testing.assert_allclose(mixture.cov, exact.cov, rtol=1e-12)


# ------------------------------------------------------------------ the ansatz's own first order
@pytest.mark.parametrize("beta", [math.inf, 4.0])
@pytest.mark.parametrize("widths", [50, [40, 90, 60]])
@pytest.mark.parametrize("ansatz", ["wishart", "nested"])
def test_first_order_is_the_exact_first_order_of_the_deep_linear_network(beta, widths, ansatz):
    """Tree plus loop equals the engine's ``terms[1]`` (scale lowering) for the log evidence, mean and variance."""
    X, y, X_test, _ = teacher(8, 12, T=3, seed=3)
    net = ShapedMLP(depth=3, width=widths)
    first = net.renormalized(X, y, X_test, beta=beta, ansatz=ansatz).first_order
    ev, pr = net.evidence(X, y, beta=beta, order=1), net.predict(X, y, X_test, beta=beta, order=1)
    assert first.log_evidence == pytest.approx(ev.terms[1], rel=1e-8)
    np.testing.assert_allclose(first.mean, pr.mean_terms[1], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(first.var, pr.var_terms[1], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(first.cov, pr.cov_terms[1], rtol=1e-8, atol=1e-12)
    # the tree part is the saddle point's own first order: sum_l (1/N_l) G'(1)^2 for the evidence
    assert first.tree.log_evidence + first.loop.log_evidence == pytest.approx(first.log_evidence, rel=1e-14)


@pytest.mark.parametrize("psi", [-0.6, 0.6])
def test_wishart_first_order_is_the_expansion_of_its_own_mixture(psi):
    """For a shaped network the Wishart ansatz is the deep linear law on the NNGP kernel: its first order equals the
    scale lowering (``compiler.scale``) run on ``K_L(psi)``, a separate code path."""
    X, y, X_test, _ = teacher(6, 10, T=2, seed=5)
    net = ShapedMLP(depth=4, width=[30, 45, 60, 35], psi=psi)
    first = net.renormalized(X, y, X_test, beta=5.0).first_order
    kernels = net.kernels(np.vstack([X, X_test]))
    moments = scale_moments(Problem(t, sp.Integer(1), kernels, 6, y, 6 / 5.0, net.widths, 1))
    mean, cov = moments.mean_and_cov_terms()
    assert first.log_evidence == pytest.approx(moments.log_evidence_terms()[1], rel=1e-10)
    np.testing.assert_allclose(first.mean, mean[1], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(first.cov, cov[1], rtol=1e-10, atol=1e-14)


# ------------------------------------------------------------------ non-odd activations: the mean part
@pytest.mark.parametrize("beta", [math.inf, 6.0])
def test_nested_and_wishart_coincide_with_one_layer(beta):
    """With one hidden layer both ansätze are ``s (K_1 - M) + M/(1 + Q)`` (Baglioni et al. 2024), any activation."""
    X, y, X_test, _ = teacher(12, 20, seed=2)
    net = ShapedMLP(depth=1, width=30, activation=NON_ODD)
    w, n = net.renormalized(X, y, X_test, beta=beta), net.renormalized(X, y, X_test, beta=beta, ansatz="nested")
    assert w.mean_order_parameters is not None and abs(w.mean_order_parameters[0]) > 0.01
    np.testing.assert_allclose(n.order_parameters, w.order_parameters, rtol=1e-9)
    np.testing.assert_allclose(n.mean_order_parameters, w.mean_order_parameters, rtol=1e-9)
    assert n.log_evidence == pytest.approx(w.log_evidence, rel=1e-10)
    np.testing.assert_allclose(n.cov, w.cov, rtol=1e-9)
    np.testing.assert_allclose(n.first_order.var, w.first_order.var, rtol=1e-9)


@pytest.mark.parametrize("alpha", [0.5, 1.0])
@pytest.mark.parametrize("noise", [0.0, 0.3])
def test_non_odd_loop_converges_to_the_gaussian_equivalent_integral(alpha, noise):
    """One layer, non-odd: the saddle in ``(s, Q)`` with the one-loop term (``(-1)^L det H`` over the ``Q`` contour)
    against the exact two-dimensional integral of the Gaussian-equivalent model: the error falls like ``1/P`` (fitted
    exponent <= -0.8) while the saddle alone stays ``O(0.1)`` off."""
    sizes = SIZES[:4]
    loop, saddle = [], []
    for P in sizes:
        X, y, _, _ = teacher(P, 2 * P, seed=P, noise=0.3)
        width = round(P / alpha)
        net = ShapedMLP(depth=1, width=width, activation=NON_ODD)
        beta = math.inf if noise == 0 else P / noise
        kr = net.renormalized(X, y, beta=beta)
        family = build_ansatz("wishart", net.kernels(X), net.activation.phi, sp.Integer(1), net.widths, P, y,
                              noise).family
        reference = gaussian_equivalent_log_evidence(family.Kc, family.mu, y, width, noise)
        loop.append(abs(kr.log_evidence - reference))
        saddle.append(abs(kr.action - reference))
    assert slope(sizes, loop) <= -0.8, loop
    assert min(saddle) > 0.05 > max(loop), (saddle, loop)


def test_non_odd_first_order_matches_the_gaussian_equivalent_expansion():
    """The propagator ``(2/N)[[1, -1], [-1, 0]]`` on ``(s, Q)``: the ansatz's first order (one layer) equals the ``1/N``
    coefficient of the exact Gaussian-equivalent integral, extracted by Richardson extrapolation in ``N``."""
    P, beta = 5, 2.5
    X, y, _, _ = teacher(P, 8, seed=11)
    net = ShapedMLP(depth=1, width=1000, activation=NON_ODD)
    first = net.renormalized(X, y, beta=beta).first_order.log_evidence
    family = build_ansatz("wishart", net.kernels(X), net.activation.phi, sp.Integer(1), (1000,), P, y, P / beta).family
    gp = -0.5 * (y @ np.linalg.solve(family.Kc + np.outer(family.mu, family.mu) + P / beta * np.eye(P), y)
                 + np.linalg.slogdet(family.Kc + np.outer(family.mu, family.mu) + P / beta * np.eye(P))[1]
                 + P * math.log(2 * math.pi))

    def coefficient(N: int) -> float:  # N (log Z(N) - log Z_GP)
        return N * (gaussian_equivalent_log_evidence(family.Kc, family.mu, y, N, P / beta) - gp)

    extrapolated = 2 * coefficient(4000) - coefficient(2000)  # removes the 1/N part of N (log Z - GP)
    assert first * 1000 == pytest.approx(extrapolated, rel=2e-3)


# ------------------------------------------------------------------ the saddle-point machinery
def test_taylor_derivatives_of_the_read_outs_match_finite_differences():
    """``gaussian_process`` and ``ScaledKernel.readout`` (value, gradient, Hessian of G, m, C) against central
    differences of a direct NumPy evaluation."""
    rng = np.random.default_rng(0)
    P, T = 6, 3
    B = rng.normal(size=(P + T, P + 4))
    K0 = B @ B.T / (P + 4)
    K1, K2, K12 = (0.2 * (A + A.T) for A in rng.normal(size=(3, P + T, P + T)))
    y, sigma2, mu = rng.normal(size=P), 0.3, 0.3 * rng.normal(size=P + T)

    def direct(K):
        A = K[:P, :P] + sigma2 * np.eye(P)
        W = np.linalg.inv(A)
        return (-0.5 * (y @ W @ y + np.linalg.slogdet(A)[1] + P * math.log(2 * math.pi)), K[P:, :P] @ W @ y,
                K[P:, P:] - K[P:, :P] @ W @ K[:P, P:])

    def check(readout, kernel_of):
        h = 1e-4
        for k, derived in enumerate((readout.log_evidence, readout.mean, readout.cov)):
            def f(a, b, k=k):
                return direct(kernel_of(a, b))[k]
            grad = [(f(h, 0) - f(-h, 0)) / (2 * h), (f(0, h) - f(0, -h)) / (2 * h)]
            mixed = (f(h, h) - f(h, -h) - f(-h, h) + f(-h, -h)) / (4 * h * h)
            second = (f(h, 0) - 2 * f(0, 0) + f(-h, 0)) / h**2
            np.testing.assert_allclose(derived.value, f(0, 0), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(derived.grad, np.array(grad), rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(derived.hess[0, 1], mixed, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(derived.hess[0, 0], second, rtol=1e-5, atol=1e-6)

    a, b = Taylor.variables(np.zeros(2), second=True)
    K = a * K1 + b * K2 + (a * a) * (K1 @ K1 / 10) + (a * b) * K12 + K0
    check(gaussian_process(K, P, y, sigma2, predictive=True),
          lambda u, v: K0 + u * K1 + v * K2 + u * u * K1 @ K1 / 10 + u * v * K12)
    family = ScaledKernel.of(K0, mu, P, y, sigma2)
    S, c = Taylor.variables(np.array([1.3, 0.7]), second=True)
    check(family.readout(S, c, predictive=True), lambda u, v: (1.3 + u) * K0 + (0.7 + v) * np.outer(mu, mu))


def test_nested_chain_derivatives_match_finite_differences():
    """The nested kernel chain carried as ``Taylor`` matrices (layer map through its Taylor coefficients, non-odd
    mean part): gradient and Hessian of ``G`` in all ``(s_l, c_l)`` against central differences; and the adjoint
    method the saddle point uses (``Nested.log_evidence``) against this forward route, in ``theta = (log s, log c)``."""
    X, y, _, _ = teacher(5, 7, seed=4)
    net = ShapedMLP(depth=2, width=20, activation=NON_ODD)
    nested = Nested(net.kernels(X)[0], net.activation.phi, sp.Integer(1), net.widths, 5, y, 0.5)
    point = np.array([0.9, 1.1, 0.8, 1.2])  # s_1, s_2, c_1, c_2
    variables = Taylor.variables(point, second=True)
    G = nested.readout(variables[:2], variables[2:], predictive=False).log_evidence

    def value(p):
        return float(nested.readout(list(p[:2]), list(p[2:]), predictive=False).log_evidence.value)

    h = 1e-4
    eye = np.eye(4)
    grad = np.array([(value(point + h * e) - value(point - h * e)) / (2 * h) for e in eye])
    hess = np.array([[(value(point + h * (e + f)) - value(point + h * (e - f)) - value(point - h * (e - f))
                       + value(point - h * (e + f))) / (4 * h * h) for f in eye] for e in eye])
    np.testing.assert_allclose(G.grad, grad, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(G.hess, hess, rtol=1e-4, atol=1e-6)

    t, kappa = np.log(point[:2]), np.log(point[2:])
    adjoint, forward = nested.log_evidence(t, kappa, second=True), Ansatz.log_evidence(nested, t, kappa, second=True)
    assert float(adjoint.value) == pytest.approx(float(forward.value), rel=1e-14)
    np.testing.assert_allclose(adjoint.grad, forward.grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(adjoint.hess, forward.hess, rtol=1e-10, atol=1e-12)
    odd = Nested(net.kernels(X)[0], ShapedMLP(depth=2, width=20, psi=-0.6).activation.phi, sp.Integer(1), net.widths,
                 5, y, 0.5)
    adjoint, forward = odd.log_evidence(t, None, second=True), Ansatz.log_evidence(odd, t, None, second=True)
    np.testing.assert_allclose(adjoint.hess, forward.hess, rtol=1e-10, atol=1e-12)


def _synthetic_wishart(lam, y_hat, sigma2, widths) -> Wishart:
    """A Wishart ansatz on a given spectrum (``lam``, ``y_hat = U^T y``): no test points, odd activation."""
    P = len(lam)
    family = ScaledKernel(np.zeros((P, P)), np.zeros(P), P, sigma2, np.asarray(lam, float), np.asarray(y_hat, float),
                          np.zeros(P), np.zeros((P, 0)))
    return Wishart(family, widths, np.zeros(P))


def test_every_root_of_the_wishart_saddle_equation_is_found():
    """A spectrum whose posterior over the scale is bimodal at finite ``beta``: three roots (two maxima), as a scan of
    the equation on a grid 100 times finer finds; the larger maximum is kept, with a warning that there are two."""
    lam = [1.145e-4] * 13 + [389.87] * 7
    y_hat = [67.428] * 13 + [0.03936] * 7
    ansatz = _synthetic_wishart(lam, y_hat, 0.87818, (278,) * 3)
    roots = wishart_roots(ansatz)
    assert len(roots) == 3
    scales = sorted(math.exp(r.sum()) for r in roots)
    alpha = 20 / 278  # P / N
    fine = np.linspace(math.log(scales[0]) - 1, math.log(scales[-1]) + 1, 200_000)
    B = -np.expm1(fine / 3) / alpha
    S = np.exp(fine)[:, None] * np.asarray(lam) + 0.87818
    h = np.mean(np.exp(fine)[:, None] * np.asarray(lam) / S * (1 - np.asarray(y_hat) ** 2 / S), axis=1)
    assert np.count_nonzero(np.diff(np.sign(B - h))) == 3
    saddle = wishart_saddle(ansatz)
    assert saddle.count == 2
    with pytest.warns(RuntimeWarning, match="2 saddle points"):
        from perturbo.renormalization.saddle import warn_if_several

        warn_if_several(saddle, "wishart")


def test_matched_is_exact_to_first_order_in_one_over_width():
    """``matched`` swaps in the engine's exact first order: its distance to the order-1 series falls like ``N^-2`` for
    a shaped network, while the plain ansatz's falls like ``N^-1``; at ``psi = 0`` it changes nothing."""
    X, y, X_test, _ = teacher(5, 10, T=2, seed=8)
    widths = [200, 400, 800]
    matched, plain = [], []
    for N in widths:
        net = ShapedMLP(depth=3, width=N, psi=-0.6)
        series = net.evidence(X, y, beta=5.0, order=1).log_evidence
        matched.append(abs(net.renormalized(X, y, X_test, beta=5.0, matched=True).log_evidence - series))
        plain.append(abs(net.renormalized(X, y, X_test, beta=5.0).log_evidence - series))
    assert slope(widths, matched) <= -1.8 and slope(widths, plain) >= -1.2, (matched, plain)
    linear = ShapedMLP(depth=3, width=20)
    a, b = linear.renormalized(X, y, X_test, beta=5.0), linear.renormalized(X, y, X_test, beta=5.0, matched=True)
    assert b.log_evidence == pytest.approx(a.log_evidence, rel=1e-10)


def test_against_finite_networks_in_the_proportional_regime():
    """``L P / N = 1.5`` (``P = 40``, ``N = 80``, ``L = 3``), the strongly shaped cubic ``psi = +0.6``, noise variance 1:
    against Monte Carlo over 2e4 finite networks (the study ``docs/renormalization/finite_networks.py`` uses 2e5), the
    order-1 series misses by more than 20 standard errors and the loop-corrected Wishart ansatz by more than 5, while
    the matched approximation is within 3, for the log evidence and for the predictive mean."""
    rng = np.random.default_rng(0)
    P, T, N0 = 40, 4, 80
    X = math.sqrt(0.5) * rng.normal(size=(P + T, N0))
    y = X @ rng.normal(size=N0) * math.sqrt(2.0 / N0) + 0.3 * rng.normal(size=P + T)
    X, y, X_test = X[:P], y[:P], X[P:]
    net = ShapedMLP(depth=3, width=80, psi=0.6)
    mc = net.monte_carlo(X, y, X_test, beta=P, samples=20_000, seed=1)

    def deviation(value: float) -> float:
        return abs(value - mc.log_evidence) / mc.log_evidence_se

    matched = net.renormalized(X, y, X_test, beta=P, matched=True)
    assert deviation(net.evidence(X, y, beta=P, order=1).log_evidence) > 20
    assert deviation(net.renormalized(X, y, X_test, beta=P).log_evidence) > 5
    assert deviation(matched.log_evidence) < 3
    assert np.max(np.abs(matched.mean - mc.mean) / mc.mean_se) < 3


# ------------------------------------------------------------------ the predictive results' generalisation error
def test_generalization_error_is_the_posterior_expected_squared_error():
    """Averaged over test targets drawn from the Gaussian-process posterior predictive of noisy labels, the
    generalisation error with ``noisy=True`` is twice the predictive variance of a label, ``2 (var + P/beta)``."""
    X, y, X_test, _ = teacher(10, 20, T=5)
    pr = ShapedMLP(depth=2, width=50).predict(X, y, X_test, beta=5.0)
    rng = np.random.default_rng(0)
    draws = pr.mean + np.sqrt(pr.var + pr.noise_variance) * rng.normal(size=(20000, 5))
    errors = [pr.generalization_error(target, noisy=True) for target in draws]
    assert np.mean(errors) == pytest.approx(np.mean(2 * (pr.var + pr.noise_variance)), rel=0.02)
    kr = ShapedMLP(depth=2, width=50).renormalized(X, y, X_test, beta=5.0)
    assert kr.generalization_error(pr.mean) == pytest.approx(np.mean((pr.mean - kr.mean) ** 2 + kr.var), rel=1e-14)
    with pytest.raises(ValueError, match="shape"):
        kr.generalization_error(np.zeros(4))
    with pytest.raises(ValueError, match="no test points"):
        ShapedMLP(depth=2, width=50).renormalized(X, y).generalization_error(np.zeros(5))


# ------------------------------------------------------------------ bad input
def test_bad_input_is_a_clear_error():
    X, y, X_test, _ = teacher(10, 20)
    net = ShapedMLP(depth=2, width=5)
    with pytest.raises(ValueError, match="ansatz must be one of"):
        net.renormalized(X, y, ansatz="gaussian")
    with pytest.raises(ValueError, match="loop must be True or False"):
        net.renormalized(X, y, loop=1)
    with pytest.raises(ValueError, match="needs ansatz='wishart'"):
        net.renormalized(X, y, ansatz="nested", mixture=True)
    with pytest.raises(ValueError, match="odd"):
        ShapedMLP(depth=2, width=50, activation=NON_ODD).renormalized(X, y, mixture=True)
    with pytest.raises(ValueError, match="fewer training points than input dimensions"):
        net.renormalized(np.vstack([X, X, X]), np.tile(y, 3))  # P = 30 >= N0 = 20 at beta = inf
    with pytest.raises(ValueError, match=r"no saddle point.*alpha = P/N_l = 2 >= 1"):
        net.renormalized(X, np.zeros(10))  # y = 0 and P = 10 > N = 5: the evidence diverges
    with pytest.raises(ValueError, match="not positive definite"):
        net.renormalized(np.vstack([X[:9], X[:1]]), y)  # a repeated training input at beta = inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for ansatz in ("wishart", "nested"):
            kr = net.renormalized(X, y, X_test, beta=2.0, ansatz=ansatz)
            assert np.all(np.isfinite(kr.cov)) and math.isfinite(kr.log_evidence)


def test_narrow_layers_warn_with_the_size_of_the_fluctuation():
    """The saddle point says when it stops being trustworthy: the standard deviation of ``log S`` at the saddle."""
    X, y, _, _ = teacher(10, 20)
    with pytest.warns(RuntimeWarning, match=r"fluctuates by a factor exp\(.*standard deviation of log S"):
        kr = ShapedMLP(depth=3, width=4).renormalized(X, y, beta=3.0)
    assert kr.fluctuation > 0.5
    assert ShapedMLP(depth=3, width=400).renormalized(X, y, beta=3.0).fluctuation < 0.2
