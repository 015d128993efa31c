"""The exact deep-linear-network reference against independent quadratures and exact moments.

References used here share no code with ``perturbo.reference.deep_linear``:
the one-layer Bessel closed form and ``mpmath.quad`` at 40 digits, a tensor-product
Gauss-Legendre rule over the two layer variables ``(w1, w2)`` with dense batched
linear solves, closed-form moments of products of chi-square variables, and the
small-``1/N`` expansion of the evidence around the Gaussian process.
"""
from __future__ import annotations

import math
import warnings

import mpmath as mp
import numpy as np
import pytest

from perturbo.reference.deep_linear import deep_linear_exact, log_scale_grid

TOL = 1e-10
"""Absolute on the log evidence (i.e. relative on the evidence) and relative on mean and variance;
the references are good to about 1e-13, the implementation agrees to about 1e-14."""


def _problem(P: int, T: int, seed: int, y_scale: float = 1.0):
    """A positive definite kernel on ``P + T`` points and targets drawn from ``N(0, K_DD)``."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(P + T, P + T + 3))
    K = X @ X.T / X.shape[1]
    y = y_scale * np.linalg.cholesky(K[:P, :P]) @ rng.normal(size=P)
    return K[:P, :P], K[P:, :P], K[P:, P:], y


def _log_chi2_log_density(w: np.ndarray, n: int) -> np.ndarray:
    """Log density of ``w = log(g/n)``, ``g ~ chi2_n``: change of variables ``g = n e^w``."""
    return 0.5 * n * math.log(0.5 * n) + 0.5 * n * w - 0.5 * n * np.exp(w) - math.lgamma(0.5 * n)


def _mp_eigen(K: np.ndarray, y: np.ndarray):
    """Eigenvalues of ``K`` and the components of ``y`` in its eigenbasis, at mpmath precision."""
    lam, Q = mp.eigsy(mp.matrix(K.tolist()))
    z = Q.T * mp.matrix(y.tolist())
    return [lam[i] for i in range(len(y))], [z[i] for i in range(len(y))]


# --- one hidden layer, beta = inf: Bessel closed form ------------------------------------


def _one_layer_noise_free_log_evidence(K: np.ndarray, y: np.ndarray, N: int) -> mp.mpf:
    """Exact log evidence from ``E = E[s^{-P/2} e^{-r/2s}]``, ``s = chi2_N / N``, in closed form:

    E = N^{P/2} / (2^{N/2} Gamma(N/2)) * 2 (rN)^{nu/2} K_nu(sqrt(rN)),   nu = (N - P)/2,
    log Z = -P/2 log(2 pi) - 1/2 log det K + log E,   r = y^T K^{-1} y.
    """
    with mp.workdps(40):
        P = len(y)
        lam, z = _mp_eigen(K, y)
        r = mp.fsum(zi**2 / li for zi, li in zip(z, lam))
        logdet = mp.fsum(mp.log(li) for li in lam)
        nu = mp.mpf(N - P) / 2
        log_E = (
            mp.mpf(P) / 2 * mp.log(N)
            - mp.mpf(N) / 2 * mp.log(2)
            - mp.loggamma(mp.mpf(N) / 2)
            + mp.log(2)
            + nu / 2 * mp.log(r * N)
            + mp.log(mp.besselk(nu, mp.sqrt(r * N)))
        )
        return -mp.mpf(P) / 2 * mp.log(2 * mp.pi) - logdet / 2 + log_E


@pytest.mark.parametrize(
    "P, N",
    [(3, 1), (5, 1), (5, 2), (8, 3), (10, 4), (4, 10), (20, 7), (6, 100), (3, 1000), (5, 10**4), (40, 2)],
)
def test_one_layer_noise_free_matches_bessel_closed_form(P, N):
    K, _, _, y = _problem(P, 0, seed=100 * P + N)
    exact = _one_layer_noise_free_log_evidence(K, y, N)
    assert abs(deep_linear_exact(K, y, [N], math.inf).log_evidence - float(exact)) < TOL


# --- one hidden layer, finite beta: mpmath.quad over s --------------------------------------


@pytest.mark.parametrize("P, N, beta", [(4, 1, 2.0), (6, 3, 10.0), (5, 20, 0.5), (3, 500, 5.0), (7, 2, 300.0)])
def test_one_layer_finite_beta_matches_mpmath_quad(P, N, beta):
    K, _, _, y = _problem(P, 0, seed=7 * P + N)
    with mp.workdps(40):
        sigma2 = mp.mpf(P) / beta
        lam, z = _mp_eigen(K, y)
        half_n = mp.mpf(N) / 2

        def integrand(g):  # chi2_N density of g times N(y; 0, (g/N) K + sigma2 I)
            d = [g / N * li + sigma2 for li in lam]
            log_lik = -mp.fsum(mp.log(2 * mp.pi * di) + zi**2 / di for di, zi in zip(d, z)) / 2
            return mp.exp((half_n - 1) * mp.log(g) - g / 2 - half_n * mp.log(2) - mp.loggamma(half_n) + log_lik)

        spread = math.sqrt(2.0 * N)
        breaks = [0] + [N + k * spread for k in (-8, -4, -2, -1, 0, 1, 2, 4, 8) if N + k * spread > 0] + [mp.inf]
        exact = mp.log(mp.quad(integrand, breaks))
    assert abs(deep_linear_exact(K, y, [N], beta).log_evidence - float(exact)) < TOL


# --- two hidden layers: tensor Gauss-Legendre over (w1, w2) ---------------------------------


def _layer_rule(n: int, nats: float = 60.0, order: int = 12):
    """Gauss-Legendre nodes and log(weight * density) for ``w = log(chi2_n/n)`` on the region where
    its log density is within ``nats`` of the maximum, in panels no wider than its spread."""
    scan = np.linspace(-300.0, 8.0, 308_001)
    log_p = _log_chi2_log_density(scan, n)
    inside = scan[log_p >= log_p.max() - nats]
    panel = min(0.5, math.sqrt(2.0 / n))
    edges = np.linspace(inside[0], inside[-1], math.ceil((inside[-1] - inside[0]) / panel) + 1)
    x, wts = np.polynomial.legendre.leggauss(order)
    half = 0.5 * np.diff(edges)
    nodes = (0.5 * (edges[1:] + edges[:-1])[:, None] + half[:, None] * x).ravel()
    return nodes, np.log((half[:, None] * wts).ravel()) + _log_chi2_log_density(nodes, n)


def _two_layer_reference(K_DD, y, widths, sigma2, K_xD, K_xx):
    """Log evidence, predictive mean and variance by direct 2-d quadrature with ``s = e^{w1 + w2}``,
    ``m_s = s K_xD C^{-1} y``, ``C_s = s K_xx - s^2 K_xD C^{-1} K_Dx``, ``C = s K_DD + sigma2 I``."""
    (w1, lw1), (w2, lw2) = (_layer_rule(n) for n in widths)
    log_prior = (lw1[:, None] + lw2[None, :]).ravel()
    keep = log_prior > log_prior.max() - 60.0
    log_prior = log_prior[keep]
    s = np.exp((w1[:, None] + w2[None, :]).ravel()[keep])
    P = len(y)
    C = s[:, None, None] * K_DD + sigma2 * np.eye(P)
    rhs = np.broadcast_to(np.column_stack([y, K_xD.T]), (len(s), P, 1 + len(K_xD)))
    sol = np.linalg.solve(C, rhs)
    _, logdet = np.linalg.slogdet(C)
    log_w = log_prior - 0.5 * (sol[:, :, 0] @ y + logdet + P * math.log(2 * math.pi))
    top = log_w.max()
    weight = np.exp(log_w - top)
    post = weight / weight.sum()
    m = s[:, None] * (sol[:, :, 0] @ K_xD.T)
    c = s[:, None] * np.diag(K_xx) - s[:, None] ** 2 * np.einsum("tp,gpt->gt", K_xD, sol[:, :, 1:])
    mean = post @ m
    var = post @ c + post @ (m - mean) ** 2
    return top + math.log(weight.sum()), mean, var


@pytest.mark.parametrize("widths", [(1, 6), (3, 40), (1000, 2)])
@pytest.mark.parametrize("beta", [math.inf, 4.0])
def test_two_layers_match_direct_2d_quadrature(widths, beta):
    P, T = 5, 3
    K_DD, K_xD, K_xx, y = _problem(P, T, seed=sum(widths))
    sigma2 = 0.0 if math.isinf(beta) else P / beta
    log_z, mean, var = _two_layer_reference(K_DD, y, widths, sigma2, K_xD, K_xx)
    result = deep_linear_exact(K_DD, y, list(widths), beta, K_xD, K_xx)
    assert abs(result.log_evidence - log_z) < TOL
    np.testing.assert_allclose(result.mean, mean, rtol=TOL, atol=0)
    np.testing.assert_allclose(result.var, var, rtol=TOL, atol=0)
    np.testing.assert_allclose(result.cov.diagonal(), result.var, rtol=0, atol=0)


# --- exact moments of s = prod chi2_{N_l} / N_l -------------------------------------------

MOMENT_WIDTHS = [
    [1] * 10,
    [2] * 10,
    [10**4] * 10,
    [1, 10, 100, 1000, 10**4, 2, 20, 200, 2000, 5],
    [7, 3, 1, 40, 9, 2, 1, 15, 4, 6],
]


@pytest.mark.parametrize("widths", MOMENT_WIDTHS)
def test_scale_grid_reproduces_exact_moments(widths):
    """``E[1] = E[s] = 1`` and ``E[s^2] = prod(1 + 2/N_l)``."""
    u, log_p, h = log_scale_grid(widths)
    p = np.exp(log_p)
    assert np.all(np.diff(u) > 0) and np.allclose(np.diff(u), h, rtol=1e-9, atol=0)
    assert h * p.sum() == pytest.approx(1.0, rel=1e-12, abs=0)
    assert h * p @ np.exp(u) == pytest.approx(1.0, rel=1e-12, abs=0)
    assert h * p @ np.exp(2 * u) == pytest.approx(math.prod(1 + 2 / n for n in widths), rel=1e-12, abs=0)


def _inverse_moment(widths, k: float) -> float:
    """``E[s^{-k}] = prod_l (N_l/2)^k Gamma(N_l/2 - k) / Gamma(N_l/2)``."""
    return math.exp(sum(k * math.log(n / 2) + math.lgamma(n / 2 - k) - math.lgamma(n / 2) for n in widths))


@pytest.mark.parametrize("P", [2, 4])
def test_zero_targets_give_inverse_moments(P):
    """At ``y = 0``, ``beta = inf`` the likelihood is ``s^{-P/2}`` times a constant, so
    ``Z = N(0; 0, K_DD) E[s^{-P/2}]``, ``E_post[s] = E[s^{1-P/2}] / E[s^{-P/2}]``, the mean
    vanishes and ``cov = E_post[s] (K_xx - K_xD K_DD^{-1} K_Dx)``."""
    widths = [16, 20, 50, 3000, 10**4]
    K_DD, K_xD, K_xx, _ = _problem(P, 3, seed=P)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = deep_linear_exact(K_DD, np.zeros(P), widths, math.inf, K_xD, K_xx)
    _, logdet = np.linalg.slogdet(K_DD)
    gaussian = -0.5 * P * math.log(2 * math.pi) - 0.5 * logdet
    assert abs(result.log_evidence - gaussian - math.log(_inverse_moment(widths, P / 2))) < TOL
    post_s = _inverse_moment(widths, P / 2 - 1) / _inverse_moment(widths, P / 2)
    schur = K_xx - K_xD @ np.linalg.solve(K_DD, K_xD.T)
    np.testing.assert_allclose(result.cov, post_s * schur, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(result.mean, 0.0, rtol=0, atol=1e-15)


# --- large-width limit --------------------------------------------------------------------


@pytest.mark.parametrize("beta", [math.inf, 3.0])
def test_large_width_gap_to_gaussian_process_is_order_one_over_n(beta):
    """``log Z(N) - log Z_GP = (L/N) F''(1)/F(1) + O(1/N^2)`` with ``F(s) = N(y; 0, s K + sigma2 I)``,
    because ``E[s] = 1`` and ``Var[s] = prod(1 + 2/N) - 1 = 2L/N + O(1/N^2)``; with
    ``l = log F``, ``F''/F = l'' + l'^2``."""
    P, L = 6, 3
    K, _, _, y = _problem(P, 0, seed=11)
    sigma2 = 0.0 if math.isinf(beta) else P / beta
    lam, U = np.linalg.eigh(K)
    z = U.T @ y
    d = lam + sigma2
    _, logdet = np.linalg.slogdet(K + sigma2 * np.eye(P))
    log_z_gp = -0.5 * (P * math.log(2 * math.pi) + logdet + z**2 @ (1 / d))
    dl = np.sum(-lam / (2 * d) + z**2 * lam / (2 * d**2))
    d2l = np.sum(lam**2 / (2 * d**2) - z**2 * lam**2 / d**3)
    coefficient = L * (d2l + dl**2)

    Ns = np.array([500, 1000, 2000, 4000, 8000])
    gaps = np.array([deep_linear_exact(K, y, [N] * L, beta).log_evidence - log_z_gp for N in Ns])
    ratios = gaps[:-1] / gaps[1:]
    assert np.all(np.abs(ratios - 2) < 20 / Ns[:-1])  # 2 (1 + O(1/N))
    assert np.all(np.diff(np.abs(ratios - 2)) < 0)
    scaled = Ns * gaps  # coefficient + a/N + b/N^2 + ...
    first = 2 * scaled[1:] - scaled[:-1]  # Richardson: coefficient - b/(2 N^2) + ...
    second = (4 * first[1:] - first[:-1]) / 3  # coefficient + O(1/N^3)
    assert second[-1] == pytest.approx(coefficient, rel=1e-6)


# --- interface ---------------------------------------------------------------------------


def test_without_test_points_only_the_evidence_is_returned():
    K, _, _, y = _problem(4, 0, seed=3)
    result = deep_linear_exact(K, y, [5, 5], 2.0)
    assert result.mean is None and result.var is None and result.cov is None
    assert math.isfinite(result.log_evidence)


def test_atypical_targets_warn_that_the_grid_does_not_reach():
    K, _, _, y = _problem(4, 0, seed=3, y_scale=1e6)
    with pytest.warns(RuntimeWarning, match="far tail"):
        deep_linear_exact(K, y, [50, 50], math.inf)
