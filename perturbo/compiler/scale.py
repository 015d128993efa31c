"""The scale lowering: linear layer maps at every order, on any number of points, in ``O(P^3)``.

For ``phi(t) = lambda t`` Gaussian weights are rotation invariant, and the output on the data is, in law,

    f(X) = sqrt(s) g,   g ~ N(0, K_L),   s = prod_l chi2_{N_l} / N_l   (independent of g):

pulling ``w^T W_L ... W_1`` back one layer at a time multiplies its norm by an independent chi factor.
Every read-out is then a function of one scalar ``s = 1 + delta``. With ``K_DD = Q diag(lambda) Q^T``,
``u = Q^T y``, ``B = Q^T K_DT``, ``a_i = lambda_i / (lambda_i + sigma2)`` and the resolvent
``R_i(delta) = 1 / (s lambda_i + sigma2) = sum_m (-a_i delta)^m / (lambda_i + sigma2)``:

    log z(s)  = -1/2 sum_i [log(1 + a_i delta) + u_i^2 (R_i(delta) - R_i(0))],
    m(s)      = s B^T (R u),
    C(s)      = s K_TT - s^2 B^T diag(R) B,

power series in ``delta`` (``runtime.series``). The moments of ``delta`` are exact rationals in the
widths, ``E[s^k] = prod_l prod_{i<k} (1 + 2 i / N_l)``, and ``E[delta^j] = O(n^-ceil(j/2))``, so

    E[F(s)]_k = sum_{j <= 2K} F_j E[delta^j]_k        (row k: the n^-k part at the actual widths)

is the order-``K`` series exactly, for every ``K``.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import sympy as sp

from ..activation import t
from ..problem import Moments, Problem
from ..runtime import series
from ..symbolic.width_moments import central_moments, log_raw_moment_coefficients


def linear_slope(phi: sp.Expr) -> float | None:
    """``lambda`` if ``phi(t) = lambda t``, else ``None``."""
    poly = sp.Poly(phi, t)
    return float(poly.coeff_monomial(t)) if poly.monoms() == [(1,)] else None


def delta_moments(widths: tuple[int, ...], order: int) -> np.ndarray:
    """``E[delta^j]`` for ``j = 0..2 order`` as rows ``k = 0..order`` of the ``1/n`` series: ``(2 order + 1, order + 1)``.

    ``symbolic.width_moments`` at these widths (row ``a`` collects ``p_a = sum_l N_l^-a``), in exact rational
    arithmetic (the central moments cancel their low orders exactly), floats at the end.
    """
    power_sums = [sum(Fraction(1, width) ** a for width in widths) for a in range(1, order + 1)]
    raw = []  # E[s^k] = exp(sum_a c_a(k) p_a) as a series truncated at the n^-order row
    for k in range(2 * order + 1):
        exponent = [Fraction(0)] + [c * p for c, p in zip(log_raw_moment_coefficients(k, order), power_sums)]
        raw.append(np.array(_exp_series(exponent), dtype=object))
    return np.array([[float(c) for c in row] for row in central_moments(raw)])


def _exp_series(x: list[Fraction]) -> list[Fraction]:
    """``exp(x)`` for a series ``x`` without constant term: ``e_0 = 1``, ``n e_n = sum_m m x_m e_(n-m)``."""
    e = [Fraction(1)]
    for n in range(1, len(x)):
        e.append(sum((m * x[m] * e[n - m] for m in range(1, n + 1)), Fraction(0)) / n)
    return e


def scale_moments(problem: Problem) -> Moments:
    """The backend's moments for a linear layer map (module docstring); ``K_L`` already carries the slope."""
    order, P, T = problem.order, problem.n_train, problem.n_test
    J = 2 * order
    K = problem.kernels[-1]
    lam, Q = np.linalg.eigh(K[:P, :P])
    noise = lam + problem.sigma2
    a = lam / noise
    u = Q.T @ problem.y
    powers = (-a[None, :]) ** np.arange(J + 1)[:, None]  # (J + 1, P): (-a_i)^m
    resolvent = powers / noise  # R_i's coefficients in delta
    m = np.arange(1, J + 1)[:, None]
    log_z = np.zeros(J + 1)
    log_z[1:] = -0.5 * np.sum(-powers[1:] / m + u**2 * resolvent[1:], axis=1)  # log(1 + a delta) = -sum (-a delta)^m / m
    z = series.exp(log_z)
    s = np.zeros(J + 1)
    s[:2] = 1.0  # 1 + delta
    B = Q.T @ K[:P, P:]
    mean = series.multiply(s[:, None], (resolvent * u) @ B)  # (J + 1, T)
    quadratic = np.einsum("mi,ix,iy->mxy", resolvent, B, B)
    linear = np.zeros((J + 1, T, T))
    linear[:2] = K[P:, P:]  # s K_TT
    cov = linear - series.multiply(series.multiply(s, s)[:, None, None], quadratic)
    zm = series.multiply(z[:, None], mean)
    zs = series.multiply(z[:, None, None], cov + series.multiply(mean[:, :, None], mean[:, None, :]))
    moments = delta_moments(tuple(problem.widths), order)  # (J + 1, order + 1)
    return Moments(*(np.tensordot(moments.T, F, axes=1) for F in (z, zm, zs)))
