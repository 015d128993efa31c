"""Exact Bayesian inference for a deep linear network, by one-dimensional quadrature.

For a linear network with hidden widths ``N_1..N_L`` the output on all inputs is
``f ~ N(0, s K)``: a Gaussian process whose kernel is rescaled by the random factor

    s = prod_l g_l / N_l,   g_l ~ chi2_{N_l} independent,   E[s] = 1.

Conditionally on ``s`` everything is Gaussian-process regression, so the evidence
and the posterior moments are expectations over the single variable ``u = log s``.
Its density is the convolution of the densities of ``w_l = log(g_l / N_l)``, built
on a uniform grid by ``log_scale_grid``; ``deep_linear_exact`` then integrates the
Gaussian-process formulas against it. With the eigendecomposition
``K_DD = U diag(lam) U^T`` the ``s`` dependence enters only through the scalars
``s / (s lam_i + sigma2)``, which are evaluated on the whole grid at once.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

WINDOW_NATS = 80.0
"""Each density is kept where its log is within this many nats of its maximum (first try)."""

MAX_WINDOW_NATS = 640.0
"""The window is doubled up to this while the posterior of ``u`` reaches past the resolved part of the grid (data
for which the posterior scale sits far from the prior's, as in the proportional regime ``P ~ N``); ``e^-640`` is
still a normal double."""

MAX_STEP = 0.02
"""Default upper bound on the grid step in ``u``."""

RESOLVED_FRACTION = 0.5
"""Where ``log p(u)`` is within this fraction of the window of its maximum the trimmed convolution is
accurate to about 1e-11 relative; further out it may underestimate ``p(u)``."""

STEPS_PER_STD = 2
"""Grid points per standard deviation: the trapezoid error on a density of width ``std`` is
about ``exp(-2 pi^2 (std/h)^2) = exp(-79)``."""


def _trigamma(x: float) -> float:
    """``psi'(x)``, ``x > 0``: recurrence ``psi'(x) = psi'(x + 1) + 1/x^2`` up to ``x >= 10``, then
    the asymptotic series ``1/x + 1/(2x^2) + 1/(6x^3) - 1/(30x^5) + 1/(42x^7) - 1/(30x^9)``."""
    shift = 0.0
    while x < 10.0:
        shift += 1.0 / x**2
        x += 1.0
    return shift + 1 / x + 1 / (2 * x**2) + 1 / (6 * x**3) - 1 / (30 * x**5) + 1 / (42 * x**7) - 1 / (30 * x**9)


def _bisect(f: Callable[[float], float], lo: float, hi: float) -> float:
    """Root of ``f`` in ``[lo, hi]`` where ``f(lo)`` and ``f(hi)`` have opposite signs."""
    f_lo = f(lo)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if (f(mid) > 0) == (f_lo > 0):
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _layer_window(n: int, window: float) -> tuple[float, float]:
    """Interval where ``log p(w) >= log p(0) - window``, i.e. ``w - e^w + 1 >= -c`` with
    ``c = 2 window / n``; the left root lies in ``[-(c + 2), 0]``, the right in
    ``[0, log(2c + 4)]``."""
    c = 2.0 * window / n

    def excess(w: float) -> float:
        return w - math.expm1(w) + c

    return _bisect(excess, -(c + 2.0), 0.0), _bisect(excess, 0.0, math.log(2.0 * c + 4.0))


def _log_peak_density(x: float) -> float:
    """``x log x - x - lgamma(x)``, the log density of ``w`` at ``w = 0`` for ``n = 2x``; for
    ``x >= 15`` from Stirling's series ``(1/2) log(x / 2 pi) - 1/(12x) + 1/(360x^3) - 1/(1260x^5)
    + 1/(1680x^7) - 1/(1188x^9)`` (error below 1e-15), which avoids the cancellation of the direct form."""
    if x < 15.0:
        return x * math.log(x) - x - math.lgamma(x)
    series = -1 / (12 * x) + 1 / (360 * x**3) - 1 / (1260 * x**5) + 1 / (1680 * x**7) - 1 / (1188 * x**9)
    return 0.5 * math.log(x / (2.0 * math.pi)) + series


def _layer_log_density(w: np.ndarray, n: int) -> np.ndarray:
    """``log p(w) = (n/2) log(n/2) - n/2 - lgamma(n/2) - (n/2)(e^w - 1 - w)`` for ``w = log(chi2_n / n)``."""
    x = 0.5 * n
    return _log_peak_density(x) - x * (np.expm1(w) - w)


def _sampled_layer(n: int, h: float, window: float) -> tuple[np.ndarray, int]:
    """``p(k h)`` for ``k = start, start + 1, ...`` covering the window of ``_layer_window(n, window)``."""
    lo, hi = _layer_window(n, window)
    start = math.floor(lo / h)
    k = np.arange(start, math.ceil(hi / h) + 1)
    return np.exp(_layer_log_density(k * h, n)), start


def _trim(density: np.ndarray, start: int, window: float) -> tuple[np.ndarray, int]:
    """Drop the (log-concave, hence contiguous) tails below ``max * exp(-window)``."""
    kept = np.flatnonzero(density >= density.max() * math.exp(-window))
    return density[kept[0] : kept[-1] + 1], start + int(kept[0])


def log_scale_grid(
    widths: Sequence[int], max_step: float = MAX_STEP, window: float = WINDOW_NATS
) -> tuple[np.ndarray, np.ndarray, float]:
    """Grid ``u_k = k h``, ``log p(u_k)`` and ``h`` for ``u = log s = sum_l w_l``.

    Each ``w_l = log(g_l / N_l)``, ``g_l ~ chi2_{N_l}``, has the exact density

        log p_l(w) = (n/2) log(n/2) + (n/2) w - (n/2) e^w - lgamma(n/2),   n = N_l,

    with variance ``psi'(n/2)``. The density of ``u`` is the convolution
    ``p_1 * ... * p_L``, evaluated on the common lattice by the trapezoid rule
    ``(p * q)(u_k) = h sum_j p(u_j) q(u_k - u_j)`` (``np.convolve``, a direct sum of
    positive terms, so the tails keep their relative accuracy). The integrands are
    analytic, so the rule converges geometrically in ``1/h``; the step is
    ``h = min(max_step, min_l sqrt(psi'(N_l/2)) / STEPS_PER_STD)``; ``max_step`` has to resolve
    the functions later integrated against ``p(u)`` as well. Each factor, and
    each partial convolution, is kept where it is within ``window`` nats of its
    maximum. Expectations are then ``E[F(e^u)] = h sum_k p(u_k) F(e^{u_k})``.
    """
    assert len(widths) >= 1 and all(int(n) == n and n >= 1 for n in widths)
    std_min = min(math.sqrt(_trigamma(0.5 * n)) for n in widths)
    h = min(max_step, std_min / STEPS_PER_STD)
    density, start = _sampled_layer(int(widths[0]), h, window)
    for n in widths[1:]:
        layer, layer_start = _sampled_layer(int(n), h, window)
        density, start = _trim(h * np.convolve(density, layer), start + layer_start, window)
    u = (start + np.arange(len(density))) * h
    return u, np.log(density), h


@dataclass(frozen=True)
class DeepLinearExact:
    """Log evidence and posterior moments of the latent ``f(x)`` at the test points.

    ``mean`` and ``var`` have shape ``(T,)``, ``cov`` ``(T, T)``; all three are
    ``None`` when no test block was given.
    """

    log_evidence: float
    mean: np.ndarray | None
    var: np.ndarray | None
    cov: np.ndarray | None


def deep_linear_exact(
    K_DD: np.ndarray,
    y: np.ndarray,
    widths: Sequence[int],
    beta: float,
    K_xD: np.ndarray | None = None,
    K_xx: np.ndarray | None = None,
) -> DeepLinearExact:
    """Exact evidence and predictive moments of a deep linear network with widths ``widths``.

    With ``sigma2 = P/beta`` (0 at ``beta = inf``), ``K_DD = U diag(lam) U^T``,
    ``z = U^T y``, ``A = K_xD U`` and ``a_i(s) = s / (s lam_i + sigma2)``:

        log N(y; 0, s K_DD + sigma2 I) = -(1/2) sum_i [log(2 pi d_i) + z_i^2 / d_i],   d_i = s lam_i + sigma2,
        log_evidence = log E_s[N(y; 0, s K_DD + sigma2 I)],
        m_s = A (a(s) * z),   C_s = s K_xx - s A diag(a(s)) A^T,
        mean = E_post[m_s],   cov = E_post[C_s] + Cov_post[m_s],   var = diag(cov),

    where the posterior weight of ``s`` is ``p(s) N(y; 0, s K_DD + sigma2 I)``. At
    ``beta = inf`` (``K_DD`` positive definite) ``a_i = 1/lam_i``, so ``m_s`` does not
    depend on ``s`` and ``C_s = s (K_xx - K_xD K_DD^{-1} K_Dx)``.
    """
    K_DD = np.asarray(K_DD, dtype=float)
    y = np.asarray(y, dtype=float)
    P = len(y)
    assert K_DD.shape == (P, P)
    assert (K_xD is None) == (K_xx is None)
    sigma2 = 0.0 if math.isinf(beta) else P / beta
    lam, U = np.linalg.eigh(K_DD)
    if sigma2 > 0.0:
        lam = np.clip(lam, 0.0, None)  # round-off below a positive semi-definite kernel
    z = U.T @ y

    # in u the likelihood is at least as wide as s^{-P/2} e^{-r/2s}, i.e. about sqrt(2/P)
    step = min(MAX_STEP, math.sqrt(2.0 / P) / STEPS_PER_STD)
    window = WINDOW_NATS
    while True:
        u, log_prior, h = log_scale_grid(widths, max_step=step, window=window)
        s = np.exp(u)
        d = s[:, None] * lam + sigma2  # eigenvalues of s K_DD + sigma2 I, shape (G, P)
        log_likelihood = -0.5 * (P * math.log(2.0 * math.pi) + np.sum(np.log(d) + z**2 / d, axis=1))
        log_weight = log_prior + log_likelihood
        top = log_weight.max()
        weight = np.exp(log_weight - top)
        post = weight / weight.sum()
        far_tail = post[log_prior < log_prior.max() - RESOLVED_FRACTION * window].sum()
        if far_tail <= 1e-10 or window >= MAX_WINDOW_NATS:
            break
        window *= 2.0
    log_evidence = float(top + math.log(h * weight.sum()))
    if far_tail > 1e-10:
        warnings.warn(
            f"a posterior fraction {far_tail:.1e} of the kernel scale s lies in the far tail of its prior (more than "
            f"{RESOLVED_FRACTION * window:.0f} nats below its peak), where the grid density is not accurate: the data are "
            "atypical for this network",
            RuntimeWarning,
            stacklevel=2,
        )
    if K_xD is None:
        return DeepLinearExact(log_evidence, None, None, None)

    K_xD = np.asarray(K_xD, dtype=float)
    K_xx = np.asarray(K_xx, dtype=float)
    T = K_xD.shape[0]
    assert K_xD.shape == (T, P) and K_xx.shape == (T, T)
    a = s[:, None] / d
    a_mean = post @ a
    A = K_xD @ U
    mean = A @ (a_mean * z)
    spread = (np.sqrt(post)[:, None] * (a - a_mean) * z) @ A.T  # rows: sqrt(post) (m_s - mean)
    cov = (post @ s) * K_xx - (A * (post @ (s[:, None] * a))) @ A.T + spread.T @ spread
    cov = 0.5 * (cov + cov.T)
    return DeepLinearExact(log_evidence, mean, np.diag(cov).copy(), cov)
