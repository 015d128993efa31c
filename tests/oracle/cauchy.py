"""Taylor coefficients by the discrete Cauchy integral, and the Gaussian-process read-out at a complex kernel: the
oracle for the sampled estimator's read-out jets (``pattern_values.Readout``, ``log_det``), which shares no code
with them (dense determinants and solves at complex points instead of jet algebra).
"""
from __future__ import annotations

from collections.abc import Callable
from itertools import product

import numpy as np


def taylor_coefficient(f: Callable[[np.ndarray], np.ndarray], top: tuple[int, ...], radius: float = 0.1,
                       points: int = 16) -> np.ndarray:
    """The coefficient of ``delta^top`` of a function analytic near ``delta = 0`` in ``C^c``:

        f_top = points^-c sum_m f(r w^m) w^(-top . m) / r^|top|,     w = exp(2 pi i / points),

    exact up to the coefficients ``top + points k`` (aliasing, of order ``radius^points``) and rounding (of order
    ``1e-16 / radius^|top|``). Real part: the functions here are real on real ``delta``.
    """
    total = 0.0
    for m in product(range(points), repeat=len(top)):
        angles = 2j * np.pi * np.array(m) / points
        total = total + f(radius * np.exp(angles)) * np.exp(-np.dot(top, angles))
    return np.real(total) / points ** len(top) / radius ** sum(top)


def gaussian_process_readout(K: np.ndarray, E: np.ndarray, n_train: int, y: np.ndarray, sigma2: float) -> np.ndarray:
    """``z``, ``z m`` and ``z (C + m m^T)`` side by side at the kernel ``S = K + E`` (complex allowed), ``z`` relative
    to the Gaussian process at ``K``:

        log z = -1/2 [log det(I + (K_DD + sigma2 I)^-1 E_DD) + y^T (S_DD + sigma2 I)^-1 y - y^T (K_DD + sigma2 I)^-1 y],
        m = S_xD (S_DD + sigma2 I)^-1 y,     C = S_xx - S_xD (S_DD + sigma2 I)^-1 S_Dx,

    the logarithm on its principal branch (``E`` small).
    """
    P = n_train
    S = K + E
    base, noisy = K[:P, :P] + sigma2 * np.eye(P), S[:P, :P] + sigma2 * np.eye(P)
    sign, log_abs = np.linalg.slogdet(np.eye(P) + np.linalg.solve(base, E[:P, :P]))
    log_z = -0.5 * (np.log(sign) + log_abs + y @ np.linalg.solve(noisy, y) - y @ np.linalg.solve(base, y))
    mean = S[P:, :P] @ np.linalg.solve(noisy, y)
    cov = S[P:, P:] - S[P:, :P] @ np.linalg.solve(noisy, S[:P, P:])
    return np.exp(log_z) * np.concatenate([[1.0], mean, (cov + np.outer(mean, mean)).ravel()])
