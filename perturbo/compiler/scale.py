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
from math import comb

import numpy as np
import sympy as sp

from ..activation import t
from ..backends import Moments, Problem
from ..runtime import series


def linear_slope(phi: sp.Expr) -> float | None:
    """``lambda`` if ``phi(t) = lambda t``, else ``None``."""
    poly = sp.Poly(phi, t)
    return float(poly.coeff_monomial(t)) if poly.monoms() == [(1,)] else None


def delta_moments(widths: tuple[int, ...], order: int) -> np.ndarray:
    """``E[delta^j]`` for ``j = 0..2 order`` as rows ``k = 0..order`` of the ``1/n`` series: ``(2 order + 1, order + 1)``.

    Exact rational arithmetic (the central moments cancel their low orders exactly), floats at the end.
    """
    J = 2 * order

    def times(p: list[Fraction], q: list[Fraction]) -> list[Fraction]:
        return [sum((p[i] * q[k - i] for i in range(k + 1)), Fraction(0)) for k in range(order + 1)]

    raw = []  # E[s^k] as a series truncated at eps^order
    power = [Fraction(1)] + [Fraction(0)] * order
    for k in range(J + 1):
        raw.append(power)
        for width in widths:  # E[s^(k+1)] = E[s^k] prod_l (1 + 2k / N_l)
            power = times(power, [Fraction(1), Fraction(2 * k, width)] + [Fraction(0)] * (order - 1))
    central = [[sum((comb(j, k) * (-1) ** (j - k) * raw[k][row] for k in range(j + 1)), Fraction(0))
                for row in range(order + 1)] for j in range(J + 1)]
    return np.array([[float(c) for c in row] for row in central])


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
