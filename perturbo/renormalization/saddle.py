"""The saddle point of the order parameters' action and the Gaussian fluctuations around it (one loop).

Coordinates ``theta = (t_l, kappa_l)`` with ``s_l = e^t_l`` and ``c_l = e^kappa_l = 1/(1 + Q_l)``. The action is

    Phi = sum_l (N_l/2) (s_l Q_l - log(1 + Q_l)) + G(s, c),    G = log N(y; 0, K^R_DD(s, c) + sigma2 I),

whose ``Q_l`` integrals run along the imaginary axis (the Fourier form of the width-``N_l`` chi-square law of
``s_l``). For an odd activation ``G`` does not depend on ``c``, the ``Q_l`` equations give ``c_l = s_l``, and
``Phi`` becomes the log density of the ``t_l = log s_l`` plus ``G``:

    Phi(t) = sum_l (N_l/2) (t_l - e^t_l + 1) + G(e^t),        dPhi/dt_l = 0:  N_l (1 - s_l) = -2 s dG/ds,

a maximum problem. For the Wishart ansatz ``G`` depends on ``S = prod s_l`` alone, so ``s_l = 1 - alpha_l B``
with one scalar ``B = -(2/P) S G'(S)`` (Li & Sompolinsky): ``wishart_roots`` brackets every root of
``B - h(S(B))`` (at ``beta = inf`` there is one: the action is concave). Otherwise the saddle is a
stationary point of ``Phi(theta)``, found by Newton's method from several starts (``maximum`` for odd
activations, ``stationary_point`` for non-odd ones).

**One loop.** Laplace's method over ``theta``, with Stirling's approximation of the chi-square normalisations
(which makes the result exact when the data carry no information, ``G = const``):

    log Z ~ Phi* - (1/2) [log det H_kk + log det(-H_tt + H_tk H_kk^-1 H_kt)] + sum_l [log(N_l/2) + t_l - kappa_l],

``H`` the Hessian of ``Phi`` in ``theta`` at the saddle (a maximum over ``t``, with ``H_kk`` positive definite).
For an odd activation this is ``Phi* - (1/2) sum_l log s_l - (1/2) log(1 - C sum_l 2/(N_l s_l))``,
``C = S G' + S^2 G''``, for the Wishart ansatz.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from .ansatz import Ansatz, Wishart
from .taylor import Taylor

GRID_STEP = 0.01
"""Spacing in ``log S`` of the grid that brackets the roots of the Wishart saddle equation: the read-out's
features sit at ``S lambda_i ~ sigma2``, each about one unit of ``log S`` wide."""

MAX_LOG_SCALE = 700.0
"""The renormalised scale ``S`` is sought in ``exp(-700) .. exp(700)`` (the floating-point range)."""

SAME_SADDLE = 1e-6
"""Stationary points closer than this (max norm in ``theta``) are one."""


@dataclass(frozen=True)
class Saddle:
    """The order parameters at the saddle (``c`` equals ``s`` for an odd activation), the action there, its Hessian
    in ``theta`` and the number of distinct saddle points (maxima over ``t``) that were found."""

    s: np.ndarray
    c: np.ndarray
    action: float
    hessian: np.ndarray  # (2L, 2L) in theta = (t, kappa)
    count: int

    def curvature(self) -> np.ndarray:
        """``H_tt - H_tk H_kk^-1 H_kt``: the Hessian over ``t`` with ``kappa`` at its stationary point (the profile's)."""
        L = len(self.s)
        H = self.hessian
        return H[:L, :L] - H[:L, L:] @ np.linalg.solve(H[L:, L:], H[L:, :L])

    def fluctuation(self) -> float:
        """The standard deviation of ``log S = sum_l t_l`` in the Gaussian approximation at the saddle."""
        ones = np.ones(len(self.s))
        return float(math.sqrt(max(ones @ np.linalg.solve(-self.curvature(), ones), 0.0)))

    def loop(self, widths: tuple[int, ...]) -> float:
        """The one-loop term (module docstring); ``ValueError`` if the saddle is not a maximum over ``t``."""
        L = len(widths)
        eig_kk, eig_schur = np.linalg.eigvalsh(self.hessian[L:, L:]), np.linalg.eigvalsh(self.curvature())
        if eig_kk[0] <= 0 or eig_schur[-1] >= 0:
            raise ValueError(
                "the saddle point is not a maximum of the action over the order parameters (largest curvature "
                f"{eig_schur[-1]:.3g} >= 0), so the one-loop (Gaussian) correction does not exist here: use loop=False, "
                "or mixture=True for the Wishart ansatz"
            )
        widths_ = np.asarray(widths, dtype=float)
        return float(-0.5 * (np.sum(np.log(eig_kk)) + np.sum(np.log(-eig_schur)))
                     + np.sum(np.log(widths_ / 2.0) + np.log(self.s) - np.log(self.c)))


def prior_action(t: list[Taylor], kappa: list[Taylor] | None, widths: tuple[int, ...]) -> Taylor:
    """``sum_l (N_l/2)(e^(t - kappa) - e^t + kappa)``; with ``kappa = None`` the odd profile ``(N_l/2)(t - e^t + 1)``."""
    total = 0.0
    for l, N in enumerate(widths):
        if kappa is None:
            total = total + (t[l] - t[l].exp() + 1.0) * (0.5 * N)
        else:
            total = total + ((t[l] - kappa[l]).exp() - t[l].exp() + kappa[l]) * (0.5 * N)
    return total


def action(ansatz: Ansatz, theta: np.ndarray, second: bool) -> Taylor:
    """``Phi`` with its derivatives in ``theta`` (``t`` alone for an odd activation, else ``(t, kappa)``)."""
    L = len(ansatz.widths)
    variables = Taylor.variables(theta, second)
    kappa = None if ansatz.odd else variables[L:]
    G = ansatz.log_evidence(theta[:L], None if ansatz.odd else theta[L:], second)
    return prior_action(variables[:L], kappa, ansatz.widths) + G


def full_hessian(ansatz: Ansatz, theta: np.ndarray, phi: Taylor) -> np.ndarray:
    """The Hessian of ``Phi`` in ``(t, kappa)``. For an odd activation ``phi`` is the profile ``Phi(t)`` at
    ``kappa = t``, whose Hessian is the Schur complement ``H_tt - H_tk H_kk^-1 H_kt``, with the prior's blocks
    ``H_tk = -(N/2) I`` and ``H_kk = (N/2) I`` (``G`` does not depend on ``kappa``)."""
    if not ansatz.odd:
        return phi.hess
    L, half = len(ansatz.widths), 0.5 * np.asarray(ansatz.widths, dtype=float)
    H = np.zeros((2 * L, 2 * L))
    H[:L, :L] = phi.hess + np.diag(half)
    H[:L, L:] = H[L:, :L] = -np.diag(half)
    H[L:, L:] = np.diag(half)
    return H


def _saddle(ansatz: Ansatz, theta: np.ndarray, count: int) -> Saddle:
    phi = action(ansatz, theta, second=True)
    L = len(ansatz.widths)
    s = np.exp(theta[:L])
    c = s if ansatz.odd else np.exp(theta[L:])
    return Saddle(s, c, float(phi.value), full_hessian(ansatz, theta, phi), count)


def newton(ansatz: Ansatz, theta: np.ndarray, steps: int = 50, tolerance: float = 1e-13) -> tuple[np.ndarray, bool]:
    """Newton's method on ``grad Phi = 0`` with the exact Hessian, halving steps that do not reduce ``|grad Phi|``."""
    phi = action(ansatz, theta, second=True)
    for _ in range(steps):
        step = -np.linalg.solve(phi.hess, phi.grad)
        if np.max(np.abs(step)) < tolerance:
            return theta, True
        for _ in range(60):
            trial = action(ansatz, theta + step, second=True)
            if np.all(np.isfinite(trial.grad)) and np.linalg.norm(trial.grad) < np.linalg.norm(phi.grad):
                break
            step = 0.5 * step
        else:
            return theta, False
        theta, phi = theta + step, trial
    return theta, bool(np.linalg.norm(phi.grad) < 1e-8 * max(1.0, abs(float(phi.value))))


# --------------------------------------------------------------------------- the Wishart saddle, odd activations
def wishart_roots(ansatz: Wishart) -> list[np.ndarray]:
    """Every root ``t`` of the Wishart saddle equation ``B = h(S(B))``, ``h(S) = -(2/P) S G'(S)``,
    ``S(B) = prod_l (1 - alpha_l B)``, ``t_l = log(1 - alpha_l B)``.

    The roots are sought in ``x = log(1 - max(alpha) B)``, in which ``B`` and ``log S`` are explicit and ``log S``
    increases, at least as fast as ``x`` (``x`` to ``L x``). ``h`` lies in ``[-|y|^2/(4 P sigma2), 1)``, so the
    roots have ``B`` in that range, and ``|h(S)| <= S sum_i lam_i (1 + y_hat_i^2/sigma2) / (P sigma2)`` bounds them
    away from ``S = 0``: the equation is scanned on a grid of spacing ``GRID_STEP / L`` in ``x`` for sign changes,
    and where it turns and comes closer to zero than twice its variation between neighbouring grid points, its
    extremum is located, to catch a pair of close roots. At ``beta = inf``, ``h = 1 - r0/S`` and the one root is
    bracketed by expansion. ``ValueError`` where there is none (``y = 0`` with ``max alpha >= 1``).
    """
    P, sigma2, family, L = ansatz.n_train, ansatz.sigma2, ansatz.family, len(ansatz.widths)
    alpha = P / np.asarray(ansatz.widths, dtype=float)
    ratio = alpha / alpha.max()
    with np.errstate(divide="ignore"):
        log_rest = np.log1p(-ratio)  # -inf for the layers of largest alpha

    def log_S(x: np.ndarray) -> np.ndarray:
        """``sum_l log(1 - alpha_l B) = sum_l log((1 - r_l) + r_l e^x)``, ``r_l = alpha_l / max(alpha)``."""
        return np.sum(np.logaddexp(log_rest, np.log(ratio) + np.asarray(x)[..., None]), axis=-1)

    def F(x: np.ndarray | float) -> np.ndarray | float:
        """``B - h(S)``, vectorised over ``x`` (the read-out broadcasts a column of scales against the spectrum)."""
        x = np.asarray(x, dtype=float)
        S = np.exp(log_S(x))
        G = family.readout(Taylor(S[..., None], np.ones((1,) + S.shape + (1,)), None), 1.0, False).log_evidence
        return -np.expm1(x) / alpha.max() + 2.0 / P * S * G.grad[0]

    def scalar(x: float) -> float:
        return float(F(x))

    if sigma2 == 0.0:
        r0 = float(np.sum(family.y_hat**2 / family.lam)) / P
        if r0 <= 0.0 and alpha.max() >= 1.0:
            raise ValueError(
                f"no saddle point: the targets are zero (r0 = y^T K^-1 y / P = {r0:.3g}) and alpha = P/N_l = "
                f"{alpha.max():.3g} >= 1, where the evidence diverges (E[s^(-P/2)] is infinite for N_l <= P): "
                "use wider layers, fewer points or non-zero targets"
            )
        # F decreases in x, from +inf (S -> 0) to -inf: expand a bracket around 0
        low, high = -1.0, 1.0
        while scalar(high) > 0 and high < MAX_LOG_SCALE:
            high += 1.0
        while scalar(low) < 0 and low > -MAX_LOG_SCALE:
            low -= 1.0
        if not scalar(low) > 0 > scalar(high):
            raise ValueError(f"the saddle point lies beyond S = exp(+-{MAX_LOG_SCALE}): rescale the targets y")
        roots = [optimize.brentq(scalar, low, high, xtol=1e-15)]
    else:
        h_min = -float(np.sum(family.y_hat**2)) / (4.0 * P * sigma2)
        x_high = math.log1p(-alpha.max() * min(h_min, 0.0)) + GRID_STEP
        # below x_low no root: there B >= 1/(2 max alpha) > |h(S)|, as |h(S)| <= S c and S <= e^x for x <= 0
        c = float(np.sum(family.lam * (1.0 + family.y_hat**2 / sigma2))) / (P * sigma2)
        x_low = min(math.log(0.5), math.log(0.5 / (alpha.max() * c))) - GRID_STEP
        grid = np.arange(x_low, x_high + GRID_STEP / L, GRID_STEP / L)
        chunk = max(1, 2**22 // len(family.lam))
        values = np.concatenate([F(grid[k:k + chunk]) for k in range(0, len(grid), chunk)])
        roots = [optimize.brentq(scalar, grid[k], grid[k + 1], xtol=1e-15)
                 for k in np.flatnonzero(np.sign(values[:-1]) != np.sign(values[1:]))]
        steps = np.diff(values)
        turns = np.flatnonzero(np.sign(steps[:-1]) != np.sign(steps[1:])) + 1
        for k in turns:  # F turns near grid[k]: a pair of roots may hide there if F comes as close to 0 as it varies
            if np.sign(values[k - 1]) != np.sign(values[k + 1]) or abs(values[k]) > 2 * (abs(steps[k - 1]) + abs(steps[k])):
                continue
            sign = np.sign(values[k])
            extremum = optimize.minimize_scalar(lambda x: sign * scalar(x), bounds=(grid[k - 1], grid[k + 1]),
                                                method="bounded", options={"xatol": 1e-12})
            if np.sign(scalar(extremum.x)) != sign:
                roots.append(optimize.brentq(scalar, grid[k - 1], extremum.x, xtol=1e-15))
                roots.append(optimize.brentq(scalar, extremum.x, grid[k + 1], xtol=1e-15))
    return [np.logaddexp(log_rest, np.log(ratio) + x) for x in sorted(roots)]


def wishart_saddle(ansatz: Wishart) -> Saddle:
    """Of the roots that are maxima of the action (they alternate with minima), the one of largest action."""
    maxima = []
    for t in wishart_roots(ansatz):
        phi = action(ansatz, t, second=True)
        if np.linalg.eigvalsh(phi.hess)[-1] < 0:
            maxima.append((t, float(phi.value)))
    return _best(ansatz, maxima)


# --------------------------------------------------------------------------- general ansätze
def _distinct(points: list[tuple[np.ndarray, float]]) -> list[tuple[np.ndarray, float]]:
    out: list[tuple[np.ndarray, float]] = []
    for theta, value in points:
        if all(np.max(np.abs(theta - other)) > SAME_SADDLE for other, _ in out):
            out.append((theta, value))
    return out


def maximum(ansatz: Ansatz, starts: list[np.ndarray]) -> Saddle:
    """The largest maximum of ``Phi(t)`` (odd activations) reached from ``starts`` by a trust-region Newton method
    with the exact Hessian (``scipy.optimize``, ``trust-exact``), which handles indefinite curvature far from it."""
    cache: dict[bytes, Taylor] = {}

    def negative(t: np.ndarray) -> Taylor:
        key = t.tobytes()
        if key not in cache:
            cache.clear()
            cache[key] = -action(ansatz, t, second=True)
        return cache[key]

    found = []
    for start in starts:
        result = optimize.minimize(lambda t: float(negative(t).value), start, jac=lambda t: negative(t).grad,
                                   hess=lambda t: negative(t).hess, method="trust-exact", options={"gtol": 1e-10})
        theta, converged = newton(ansatz, result.x)
        if converged and np.linalg.eigvalsh(action(ansatz, theta, second=True).hess)[-1] < 0:
            found.append((theta, float(action(ansatz, theta, second=False).value)))
    return _best(ansatz, _distinct(found))


def stationary_point(ansatz: Ansatz, starts: list[np.ndarray]) -> Saddle:
    """Stationary points of ``Phi(t, kappa)`` (non-odd activations) reached by Newton's method from ``starts``; of
    those that are a maximum over ``t`` and a minimum over ``kappa`` (the ``Q`` contour), the one of largest action."""
    found = []
    for start in starts:
        theta, converged = newton(ansatz, start)
        if not converged:
            continue
        candidate = _saddle(ansatz, theta, 1)
        try:
            candidate.loop(ansatz.widths)
        except ValueError:
            continue
        found.append((theta, candidate.action))
    return _best(ansatz, _distinct(found))


def _best(ansatz: Ansatz, found: list[tuple[np.ndarray, float]]) -> Saddle:
    if not found:
        raise ValueError(
            f"no saddle point of the {ansatz.name} ansatz was found (Newton's method did not converge to a maximum from "
            "the infinite-width point or the Wishart solution): the proportional theory may not apply to these "
            "data; try the other ansatz, wider layers or a finite beta"
        )
    theta, _ = max(found, key=lambda item: item[1])
    return _saddle(ansatz, theta, len(found))


def warn_if_several(saddle: Saddle, name: str) -> None:
    if saddle.count > 1:
        warnings.warn(
            f"the {name} action has {saddle.count} saddle points; the one of largest action is used (with several of "
            "similar action the saddle-point approximation is poor: compare mixture=True)",
            RuntimeWarning, stacklevel=3,
        )

