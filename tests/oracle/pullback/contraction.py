"""The Bayesian read-out as a polynomial in the last layer's Gram fluctuation ``D``.

Given ``S_L = K + D`` on the ``M = P + T`` stacked points, the outputs are
``N(0, S_L)`` and Gaussian-process regression is exact. With the training block
``A = (K_DD + sigma2 I)^{-1}`` (never the full ``M x M`` inverse) and the Neumann series

    (K_DD + sigma2 I + D_DD)^{-1} = sum_j (-A D_DD)^j A,
    log det(I + A D_DD)           = sum_{j>=1} (-1)^{j+1} tr((A D_DD)^j) / j,

the read-outs, relative to the Gaussian process with kernel ``K``, are

    z(D)     = Z(K + D)/Z(K) = exp(-(1/2)[y^T (A(D) - A) y] - (1/2) log det(I + A D_DD)),
    m_x(D)   = S_xD A(D) y,
    C_xx'(D) = S_xx' - S_xD A(D) S_Dx'.

Truncated at degree ``2K`` in ``D`` these are the heat-equation/Stein contraction of
docs/design.md section 3 summed in closed form: ``E[z]`` is the evidence ratio, ``E[z m_x]``
and ``E[z (C_xx' + m_x m_x')]`` the unnormalised posterior moments.
"""
from __future__ import annotations

import math

import numpy as np

from .truncated_poly import GramEntries, TruncatedPoly, linear_combination


def readout_polynomials(
    K: np.ndarray, P: int, y: np.ndarray, sigma2: float, entries: GramEntries, degree: int
) -> list[TruncatedPoly]:
    """``[z, z m_x (x < T), z (C_xx' + m_x m_x') (x <= x')]`` as polynomials in ``D``."""
    M = K.shape[0]
    T = M - P

    def fluctuation(a: int, b: int) -> TruncatedPoly:
        return TruncatedPoly.variable(entries.index[a, b], degree)

    def gram(a: int, b: int) -> TruncatedPoly:
        return fluctuation(a, b) + K[a, b]

    A = np.linalg.inv(K[:P, :P] + sigma2 * np.eye(P))
    D_DD = [[fluctuation(a, b) for b in range(P)] for a in range(P)]
    zero = TruncatedPoly({}, degree)

    def dot(u: list[TruncatedPoly], v: list[TruncatedPoly]) -> TruncatedPoly:
        """``sum_b u_b v_b`` for vectors of polynomials."""
        return sum((ub * vb for ub, vb in zip(u, v)), zero)

    def solve(v: list[TruncatedPoly]) -> list[TruncatedPoly]:
        """``A(D) v = sum_j (-A D_DD)^j A v``."""
        term = [linear_combination(A[a], v, degree) for a in range(P)]
        total = term
        for _ in range(degree):
            D_term = [dot(D_DD[a], term) for a in range(P)]
            term = [linear_combination(-A[a], D_term, degree) for a in range(P)]
            total = [x + u for x, u in zip(total, term)]
        return total

    def log_det_change() -> TruncatedPoly:
        """``log det(I + A D_DD) = sum_j (-1)^{j+1} tr(B^j)/j``, ``B = A D_DD``, ``tr(B^j) = sum B^{j-1}_ab B_ba``."""
        B = [[linear_combination(A[a], [D_DD[b][c] for b in range(P)], degree) for c in range(P)] for a in range(P)]
        total = sum((B[a][a] for a in range(P)), zero)
        power = B  # B^{j-1}
        for j in range(2, degree + 1):
            trace = sum((dot(power[a], [B[b][a] for b in range(P)]) for a in range(P)), zero)
            total = total + trace * ((-1) ** (j + 1) / j)
            if j < degree:
                power = [[dot(power[a], [B[b][c] for b in range(P)]) for c in range(P)] for a in range(P)]
        return total

    y_poly = [TruncatedPoly.constant(v, degree) for v in y]
    solved_y = solve(y_poly)
    quadratic_change = linear_combination(y, solved_y, degree) - float(y @ A @ y)
    exponent = quadratic_change * -0.5 + log_det_change() * -0.5
    z = TruncatedPoly.constant(1.0, degree)
    power = TruncatedPoly.constant(1.0, degree)
    for j in range(1, degree + 1):
        power = power * exponent
        z = z + power * (1.0 / math.factorial(j))

    test = range(P, M)
    means = [dot([gram(x, b) for b in range(P)], solved_y) for x in test]
    solved_columns = [solve([gram(b, x) for b in range(P)]) for x in test]
    outputs = [z] + [z * m for m in means]
    for i, x in enumerate(test):
        for j in range(i, T):
            x2 = P + j
            cov = gram(x, x2) - dot([gram(x, b) for b in range(P)], solved_columns[j])
            outputs.append(z * (cov + means[i] * means[j]))
    return outputs
