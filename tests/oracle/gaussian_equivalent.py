"""The one-hidden-layer Gaussian-equivalent model with a mean, integrated exactly: the oracle for the non-odd
kernel renormalisation.

Replace the hidden features ``phi(z_i)`` (``i = 1..N``) by Gaussian vectors with the same mean ``mu/sqrt(sigma_w2)``
and covariance ``Kc / sigma_w2`` (``Kc = K_1 - mu mu^T``). With read-out weights ``v = sqrt(sigma_w2/N) omega``,
``omega ~ N(0, I_N)``, split into ``nu = omega.1/sqrt(N) ~ N(0, 1)`` and the ``N - 1`` orthogonal components:

    f | (nu, w) ~ N(nu mu, (w + nu^2/N) Kc),      w = chi2_{N-1} / N,

so the evidence is the two-dimensional integral ``E_{nu, w}[N(y; nu mu_D, (w + nu^2/N) Kc_DD + sigma2 I)]``,
evaluated here on a tensor grid: the exact log-density of ``log w`` on the lattice of ``deep_linear.log_scale_grid``
(its widest window) and a trapezoid rule in ``nu`` around the peak of the integrand. It shares with the renormalisation code only
the kernel (no saddle point, no expansion), and is what the Wishart ansatz with one layer approximates.
"""
from __future__ import annotations

import math

import numpy as np

from perturbo.reference.deep_linear import MAX_WINDOW_NATS, log_scale_grid

NU_POINTS = 401
NU_HALF_WIDTH = 14.0
"""The ``nu`` grid spans this many posterior standard deviations either side of the peak."""


def gaussian_equivalent_log_evidence(Kc: np.ndarray, mu: np.ndarray, y: np.ndarray, width: int, sigma2: float) -> float:
    """``log E_{nu, w}[N(y; nu mu, (w + nu^2/N) Kc + sigma2 I)]`` on the training points (module docstring)."""
    P = len(y)
    lam, U = np.linalg.eigh(Kc)
    y_hat, mu_hat = U.T @ y, U.T @ mu
    u, log_prior, h = log_scale_grid([width - 1], max_step=min(0.02, math.sqrt(2.0 / P) / 4), window=MAX_WINDOW_NATS)
    w = np.exp(u) * (width - 1) / width  # chi2_{N-1}/N

    # the integrand is close to Gaussian in nu at fixed s: centre the grid on its peak at s = 1
    d = lam + sigma2
    precision = 1.0 + mu_hat @ (mu_hat / d)
    centre = (mu_hat @ (y_hat / d)) / precision
    nu = centre + np.linspace(-NU_HALF_WIDTH, NU_HALF_WIDTH, NU_POINTS) / math.sqrt(precision)
    nu_step = nu[1] - nu[0]

    total = []
    for n in nu:  # (grid in w) x P per node
        s = w + n * n / width
        D = s[:, None] * lam + sigma2
        log_likelihood = -0.5 * (np.sum(np.log(D) + (y_hat - n * mu_hat) ** 2 / D, axis=1) + P * math.log(2 * math.pi))
        total.append(log_prior + log_likelihood - 0.5 * n * n - 0.5 * math.log(2 * math.pi))
    log_integrand = np.array(total)
    top = log_integrand.max()
    return float(top + math.log(h * nu_step * np.exp(log_integrand - top).sum()))
