"""Independent 1/N series of the deep linear network at zero temperature (docs/design.md section 4).

Shares no code with perturbo. With ``f ~ N(0, s K)``, ``s = prod_l chi2_{N_l}/N_l``,
``u = log s`` and ``r = y^T K^{-1} y``, ``v0`` the GP variance at a test point:

    log evidence = log N(y; 0, K) + log E[exp(g(u))],   g(u) = -P u/2 - (r/2)(e^{-u} - 1),
    var          = v0 E[exp(g(u) + u)] / E[exp(g(u))],   mean = GP mean (exactly).

The cumulants of ``u`` are ``sum_l [psi(N_l/2) - log(N_l/2)]`` and
``sum_l psi^{(j-1)}(N_l/2)``; with ``N_l = c_l / eps`` SymPy expands them in ``eps``,
moments follow from cumulants, and ``E[F(u)] = sum_j F^{(j)}(0) E[u^j] / j!``
(``E[u^j] = O(eps^ceil(j/2))``, so ``j <= 2K`` suffices at order ``K``).
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import sympy as sp

eps = sp.Symbol("eps", positive=True)
P, r, L, N = sp.symbols("P r L N", positive=True)


def _cumulant_series(widths: Sequence[sp.Expr], j: int, order: int) -> sp.Expr:
    total = 0
    for c in widths:
        x = c / (2 * eps)
        k = sp.polygamma(0, x) - sp.log(x) if j == 1 else sp.polygamma(j - 1, x)
        total += sp.series(k, eps, 0, order + 1).removeO()
    return sp.expand(total)


def _moments(widths: Sequence[sp.Expr], order: int) -> list[sp.Expr]:
    """``E[u^j]``, ``j = 0..2 order``, truncated at ``eps^order``."""
    kappa = [0] + [_cumulant_series(widths, j, order) for j in range(1, 2 * order + 1)]
    m = [sp.Integer(1)]
    for n in range(1, 2 * order + 1):
        m.append(_truncate(sum(sp.binomial(n - 1, k - 1) * kappa[k] * m[n - k] for k in range(1, n + 1)), order))
    return m


def _truncate(expr: sp.Expr, order: int) -> sp.Expr:
    poly = sp.Poly(sp.expand(expr), eps)
    return sum(c * eps**k for (k,), c in poly.terms() if k <= order)


def _expectation(F: sp.Expr, u: sp.Symbol, moments: list[sp.Expr], order: int) -> sp.Expr:
    taylor = sp.series(F, u, 0, 2 * order + 1).removeO()
    return _truncate(sum(taylor.coeff(u, j) * moments[j] for j in range(2 * order + 1)), order)


def _coefficients(expr: sp.Expr, order: int) -> list[sp.Expr]:
    expr = sp.expand(expr)
    return [sp.factor(expr.coeff(eps, k)) for k in range(order + 1)]


@lru_cache(maxsize=None)
def zero_temperature_series(widths: tuple, order: int) -> tuple[list[sp.Expr], list[sp.Expr]]:
    """``(log-evidence terms beyond log N(y; 0, K), variance terms / v0)`` for ``k = 0..order``.

    ``widths`` may be symbols (``(N,) * L`` for closed forms) or numbers; with numbers the
    ``k``-th entry is the ``n^-k`` term at those widths.
    """
    u = sp.Symbol("u")
    g = -P * u / 2 - r / 2 * (sp.exp(-u) - 1)
    m = _moments(widths, order)
    Z = _expectation(sp.exp(g), u, m, order)
    S = _expectation(sp.exp(g + u), u, m, order)
    log_Z = sp.series(sp.log(Z), eps, 0, order + 1).removeO()
    ratio = sp.series(S / Z, eps, 0, order + 1).removeO()
    return _coefficients(log_Z, order), _coefficients(ratio, order)
