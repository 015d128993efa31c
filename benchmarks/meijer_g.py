"""Exact deep linear evidence at zero temperature as a Meijer G function (mpmath).

For a deep linear network with hidden widths ``N_1..N_L`` the outputs on the training
inputs are ``N(0, s K)``, ``s = prod_l chi2_{N_l}/N_l`` independent (docs/design.md section 4).
At ``beta = inf`` the evidence is the prior density of ``f(X)`` at ``y``:

    evidence = (2 pi)^(-P/2) det(K)^(-1/2) E_s[s^(-P/2) exp(-r/(2s))],   r = y^T K^-1 y.

With ``a_l = N_l/2``, ``s = Y / c``, ``c = prod_l a_l``, ``Y = prod_l Y_l``, ``Y_l ~ Gamma(a_l, 1)``,
so ``E[Y^t] = prod_l Gamma(a_l + t)/Gamma(a_l)``. Writing ``exp(-x) = (1/2 pi i) int Gamma(u) x^-u du``
(contour to the right of every pole) with ``x = z/Y``, ``z = r c / 2``, and exchanging the integrals,

    E[Y^(-P/2 + k) exp(-z/Y)] = (1/2 pi i) int Gamma(u) prod_l Gamma(a_l - P/2 + k + u) z^-u du / prod_l Gamma(a_l)
                              = G^{L+1,0}_{0,L+1}(z | -; 0, a_1 - P/2 + k, ..., a_L - P/2 + k) / prod_l Gamma(a_l),

the Meijer G function (``G^{q,0}_{0,q}(z | b) = (1/2 pi i) int prod_j Gamma(b_j + u) z^-u du``). Hence,
with ``G_k = G^{L+1,0}_{0,L+1}(z | -; 0, {a_l - P/2 + k})`` and ``z = (r/2) prod_l (N_l/2)``,

    log evidence = -(P/2) log(2 pi) - (1/2) log det K + (P/2) log c + log G_0 - sum_l log Gamma(a_l).

``L = 1`` gives ``G^{2,0}_{0,2}(z | 0, b) = 2 z^(b/2) K_b(2 sqrt z)``, the modified-Bessel closed form.
The posterior of ``s`` has weight ``s^(-P/2) exp(-r/(2s)) p(s)``, so the mean is the Gaussian-process
mean and the variance at a test point is ``v0 E_post[s]`` with ``v0 = k_xx - k^T K^-1 k`` and

    E_post[s] = E[s^(1 - P/2) exp(-r/(2s))] / E[s^(-P/2) exp(-r/(2s))] = G_1 / (c G_0).

``mpmath.meijerg`` sums residue series (``0F_L`` functions) that cancel massively at large ``z``.
When a lower parameter ``1 + b_k - b_j`` is a large negative non-integer (``P`` odd, equal even
widths, e.g. ``L = 4``, ``N = 512``) its summation can stop early and silently return a value off by
``e^100``, identical at 15 to 30 digits. So by default the result is certified: ``G`` is also
computed as its Mellin-Barnes integral on the vertical line through the saddle point (``mpmath.quad``),
and the digits of ``meijerg`` are doubled until both agree.
"""
from __future__ import annotations

from collections.abc import Sequence

import mpmath
import numpy as np

DIGITS = 15
"""Decimal digits asked of ``mpmath.meijerg`` first (it raises the working precision where its series cancel)."""

MAX_DIGITS = 960
"""Digits of ``meijerg`` are doubled from ``DIGITS`` up to this when certifying."""

MAX_BITS = 100_000
"""Working-precision cap for those series: wide layers (``z`` about ``prod_l N_l``) cancel thousands of bits."""

WORKING_DIGITS = 20
"""Digits of the Mellin-Barnes integral and of the assembly around ``log G`` (sums of terms of size ``N L log N``)."""

QUAD_DIGITS = 15
"""Target digits of ``mpmath.quad`` for the O(1) peak integral (its integrand is evaluated at ``WORKING_DIGITS``)."""

CERTIFY_TOL = 1e-10
"""Largest accepted difference of ``log G`` between ``meijerg`` and the Mellin-Barnes integral."""


def _log_g_series(z: mpmath.mpf, b: list[mpmath.mpf]) -> mpmath.mpf:
    """``log G^{q,0}_{0,q}(z | b)`` by ``mpmath.meijerg``."""
    return mpmath.log(mpmath.meijerg([[], []], [b, []], z, maxprec=MAX_BITS))


def _log_g_integral(z: mpmath.mpf, b: list[mpmath.mpf]) -> mpmath.mpf:
    """``log G^{q,0}_{0,q}(z | b)`` from ``(1/2 pi i) int_{c - i inf}^{c + i inf} exp(phi(u)) du``.

    ``phi(u) = sum_j log Gamma(b_j + u) - u log z`` is convex on ``u > -min b``; ``c`` is its minimum
    (``sum_j digamma(b_j + c) = log z``, by Newton's method from the left, which cannot overshoot for
    the concave increasing ``phi'``). With ``u = c + i t`` the integrand is conjugate-symmetric, so
    ``G = (e^phi(c)/pi) int_0^inf Re exp(phi(c + i t) - phi(c)) dt``: a peak of width ``w = phi''(c)^(-1/2)``
    whose factors ``|Gamma(x_j + i t)|``, ``x_j = b_j + c``, fall on scales up to ``sqrt(x_j)`` and then like
    ``e^(-pi t/2)``; ``mpmath.quad`` gets breakpoints ``w 4^k`` up to ``10 sqrt(max x_j)``.
    """
    log_z = mpmath.log(z)
    c = -min(b) + mpmath.mpf(1) / 1000
    for _ in range(200):
        slope = mpmath.fsum(mpmath.digamma(bj + c) for bj in b) - log_z
        step = slope / mpmath.fsum(mpmath.psi(1, bj + c) for bj in b)
        c -= step
        if abs(step) < 1e-6 * (1 + abs(c)):
            break
    width = 1 / mpmath.sqrt(mpmath.fsum(mpmath.psi(1, bj + c) for bj in b))

    def phi(u: mpmath.mpc) -> mpmath.mpc:
        return mpmath.fsum(mpmath.loggamma(bj + u) for bj in b) - u * log_z

    def peak(t: mpmath.mpf) -> mpmath.mpf:
        with mpmath.workdps(WORKING_DIGITS):
            return mpmath.re(mpmath.exp(phi(c + 1j * t) - top))

    top = phi(c)
    with mpmath.workdps(QUAD_DIGITS):
        reach = 10 * mpmath.sqrt(max(1, c + max(b)))
        points = [0] + [width * 4**k for k in range(int(mpmath.log(reach / width, 4)) + 2)] + [mpmath.inf]
        rest = mpmath.quad(peak, points)
    return top + mpmath.log(rest / mpmath.pi)


def _log_g(z: mpmath.mpf, b: list[mpmath.mpf], certify: bool) -> mpmath.mpf:
    """``log G^{q,0}_{0,q}(z | b)`` by ``mpmath.meijerg`` at ``DIGITS``; with ``certify``, digits doubled until
    it agrees with the Mellin-Barnes integral to ``CERTIFY_TOL``."""
    with mpmath.workdps(WORKING_DIGITS):
        reference = _log_g_integral(z, b) if certify else None
    digits = DIGITS
    while digits <= MAX_DIGITS:
        with mpmath.workdps(digits):
            try:
                value = _log_g_series(z, b)
            except ValueError:  # mpmath's series did not converge within MAX_BITS
                value = mpmath.nan
        if reference is None:
            if not isinstance(value, mpmath.mpf) or mpmath.isnan(value):
                raise ValueError(f"mpmath.meijerg failed (no convergence or G <= 0: log G = {value}); use certify=True")
            return value
        if abs(value - reference) < CERTIFY_TOL:
            return value
        digits *= 2
    raise RuntimeError(f"mpmath.meijerg disagrees with the Mellin-Barnes integral up to {MAX_DIGITS} digits")


def _log_expectation(K: np.ndarray, y: np.ndarray, widths: Sequence[int], k: int, certify: bool) -> mpmath.mpf:
    """``log E[s^(k - P/2) exp(-r/(2s))] = log G_k - (k - P/2) log c - sum_l log Gamma(N_l/2)``."""
    P = len(y)
    r = float(y @ np.linalg.solve(K, y))
    halves = [mpmath.mpf(n) / 2 for n in widths]
    log_c = mpmath.fsum(mpmath.log(a) for a in halves)
    b = [mpmath.mpf(0)] + [a - mpmath.mpf(P) / 2 + k for a in halves]
    log_g = _log_g(mpmath.mpf(r) / 2 * mpmath.exp(log_c), b, certify)
    return log_g - (k - mpmath.mpf(P) / 2) * log_c - mpmath.fsum(mpmath.loggamma(a) for a in halves)


def deep_linear_log_evidence_meijer_g(
    K: np.ndarray, y: np.ndarray, widths: Sequence[int], certify: bool = True
) -> float:
    """Log evidence at ``beta = inf`` of a deep linear network with kernel ``K`` on the training inputs."""
    K, y = np.asarray(K, dtype=float), np.asarray(y, dtype=float)
    with mpmath.workdps(WORKING_DIGITS):
        log_mean = _log_expectation(K, y, widths, 0, certify)
    return float(-len(y) / 2 * np.log(2 * np.pi) - np.linalg.slogdet(K)[1] / 2 + log_mean)


def deep_linear_posterior_scale_meijer_g(
    K: np.ndarray, y: np.ndarray, widths: Sequence[int], certify: bool = True
) -> float:
    """``E_post[s] = G_1 / (c G_0)``: the posterior variance at ``beta = inf`` is ``v0`` times this."""
    K, y = np.asarray(K, dtype=float), np.asarray(y, dtype=float)
    with mpmath.workdps(WORKING_DIGITS):
        log_ratio = _log_expectation(K, y, widths, 1, certify) - _log_expectation(K, y, widths, 0, certify)
        return float(mpmath.exp(log_ratio))
