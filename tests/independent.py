"""Independent reference implementations used only by the tests.

They share no code with the package: Gauss-Hermite quadrature (exact for
polynomials of degree < 2 * nodes) instead of symbolic Wick moments, and dense
linear algebra instead of Cholesky solves.
"""
from __future__ import annotations

import math

import numpy as np


def gauss_hermite_pair(phi, Saa: float, Sbb: float, Sab: float, nodes: int = 12) -> float:
    """``E[phi(z_a) phi(z_b)]`` for ``(z_a, z_b) ~ N(0, [[Saa, Sab], [Sab, Sbb]])``."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / math.sqrt(2 * math.pi)
    g1, g2 = np.meshgrid(x, x, indexing="ij")
    za = math.sqrt(Saa) * g1
    zb = Sab / math.sqrt(Saa) * g1 + math.sqrt(max(Sbb - Sab**2 / Saa, 0.0)) * g2
    return float(np.sum(np.outer(w, w) * phi(za) * phi(zb)))


def kernel_by_quadrature(X: np.ndarray, phi, depth: int, sigma_w2: float) -> np.ndarray:
    """``K_L`` by iterating the Gauss-Hermite mean map entry by entry."""
    K = sigma_w2 * X @ X.T / X.shape[1]
    for _ in range(depth):
        K = np.array(
            [[sigma_w2 * gauss_hermite_pair(phi, K[a, a], K[b, b], K[a, b]) for b in range(len(K))] for a in range(len(K))]
        )
    return K


def gp_regression(K: np.ndarray, y: np.ndarray, P: int, noise: float):
    """Log evidence, predictive mean and covariance with explicit inverses."""
    K_DD, K_xD, K_xx = K[:P, :P], K[P:, :P], K[P:, P:]
    C = K_DD + noise * np.eye(P)
    Cinv = np.linalg.inv(C)
    _, logdet = np.linalg.slogdet(C)
    log_evidence = -0.5 * y @ Cinv @ y - 0.5 * logdet - 0.5 * P * math.log(2 * math.pi)
    return log_evidence, K_xD @ Cinv @ y, K_xx - K_xD @ Cinv @ K_xD.T
