"""Gaussian-process regression: the order-0 (infinite-width) posterior.

With kernel blocks ``K_DD, K_xD, K_xx`` and noise variance ``sigma2 = P/beta``
(``0`` at ``beta = inf``), ``A = (K_DD + sigma2 I)^{-1}``:

    log evidence = log N(y; 0, K_DD + sigma2 I)
    mean = K_xD A y,   cov = K_xx - K_xD A K_Dx
"""
from __future__ import annotations

import math

import numpy as np

MAX_CONDITION = 1e13


def noise_variance(n_train: int, beta: float) -> float:
    """``P/beta``: the Gaussian noise variance implied by the loss ``(1/2P) sum (f - y)^2``."""
    return 0.0 if math.isinf(beta) else n_train / beta


def cholesky_of_training_kernel(K_DD: np.ndarray, sigma2: float) -> np.ndarray:
    """Lower Cholesky factor of ``K_DD + sigma2 I``; ``ValueError`` if it is (numerically) singular."""
    C = K_DD + sigma2 * np.eye(len(K_DD))
    check_condition(np.linalg.eigvalsh(C), sigma2)
    return np.linalg.cholesky(C)


def check_condition(eigenvalues: np.ndarray, sigma2: float) -> None:
    """``ValueError`` unless the eigenvalues of ``K_DD + sigma2 I`` (ascending) make it positive definite to working
    precision (condition number below ``MAX_CONDITION``)."""
    condition = eigenvalues[-1] / eigenvalues[0] if eigenvalues[0] > 0 else math.inf
    if not condition < MAX_CONDITION:
        hint = (
            "remove duplicate or nearly collinear training inputs, or use a finite beta"
            if sigma2 == 0.0
            else "rescale the inputs or lower beta"
        )
        raise ValueError(
            f"the kernel on the training inputs is not positive definite to working precision "
            f"(condition number {condition:.3g}, limit {MAX_CONDITION:.0e}): {hint}"
        )


def gaussian_log_density(y: np.ndarray, chol: np.ndarray) -> float:
    """``log N(y; 0, C)`` from the lower Cholesky factor of ``C``."""
    w = np.linalg.solve(chol, y)
    with np.errstate(over="ignore"):  # an overflow gives -inf, which the caller reports
        return float(-0.5 * w @ w - np.sum(np.log(np.diag(chol))) - 0.5 * len(y) * math.log(2.0 * math.pi))


def gp_log_evidence(K_DD: np.ndarray, y: np.ndarray, sigma2: float) -> float:
    """``log N(y; 0, K_DD + sigma2 I)``."""
    return gaussian_log_density(y, cholesky_of_training_kernel(K_DD, sigma2))


def gp_predict(
    K_DD: np.ndarray, K_xD: np.ndarray, K_xx: np.ndarray, y: np.ndarray, sigma2: float
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean ``K_xD A y`` and covariance ``K_xx - K_xD A K_Dx`` of the latent ``f(x)``."""
    chol = cholesky_of_training_kernel(K_DD, sigma2)
    B = np.linalg.solve(chol, K_xD.T)  # L^{-1} K_Dx
    mean = B.T @ np.linalg.solve(chol, y)
    cov = K_xx - B.T @ B
    return mean, 0.5 * (cov + cov.T)
