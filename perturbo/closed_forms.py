"""Closed forms of the deep linear network's 1/N series, with ``P`` and the data invariants symbolic.

The law is the one of the scale lowering (``compiler/scale.py``): ``f(X) = sqrt(s) g`` in law, with
``g ~ N(0, K_L)`` and ``s = prod_l chi2_{N_l} / N_l``. With ``delta = s - 1``, ``W = K A`` and
``A = (K + (P/beta) I)^-1`` on the training points, and ``k`` the kernel column of a test point:

    log z(delta) = 1/2 sum_{m >= 1} (-delta)^m (t_m / m - q_m),    t_m = tr W^m,  q_m = y^T A W^m y,
    m(delta)     = (1 + delta) sum_{m >= 0} (-delta)^m e_m,        e_m = k^T A W^m y,
    C(delta)     = (1 + delta) kxx - (1 + delta)^2 sum_{m >= 0} (-delta)^m f_m,   f_m = k^T A W^m k.

At ``beta = inf`` ``W = I``: ``t_m = P``, ``q_m = r = y^T K^-1 y``, the mean is exactly the GP mean and
``C = s v0``. The moments of ``delta`` come from ``E[s^k] = prod_l prod_{i<k} (1 + 2i / N_l)``, written
with the width power sums ``p_a = sum_l N_l^-a`` (``log E[s^k] = sum_a (-1)^(a+1) S_a(k) p_a / a``,
``S_a(k) = sum_{i<k} (2i)^a``); for equal widths ``p_a = L / N^a``. ``E[F] = sum_{j <= 2K} F_j E[delta^j]``
is exact at order ``K`` since ``E[delta^j] = O(N^-ceil(j/2))``.
"""
from __future__ import annotations

import math
from functools import cached_property, lru_cache

import sympy as sp
from sympy import QQ
from sympy.polys.rings import ring

from .symbolic.width_moments import central_moments, log_raw_moment_coefficients

QUANTITIES = ("log_evidence", "mean", "var")
LARGEST_ORDER = 4

eps = sp.Symbol("epsilon")  # grades the width power sums: p_a carries eps^a
delta = sp.Symbol("delta")
P, L, r, v0, m0, kxx = sp.symbols("P L r v0 m0 kxx", positive=True)


def t(m: int) -> sp.Symbol:
    return sp.Symbol(f"t{m}")


def q(m: int) -> sp.Symbol:
    return sp.Symbol(f"q{m}")


def e(m: int) -> sp.Symbol:
    return sp.Symbol(f"e{m}")


def f(m: int) -> sp.Symbol:
    return sp.Symbol(f"f{m}")


def p(a: int) -> sp.Symbol:
    return sp.Symbol(f"p{a}", positive=True)


def symbol_table(order: int) -> dict[str, sp.Symbol]:
    """Every symbol a closed form of order ``<= order`` can hold, by name (for parsing them back)."""
    J = 2 * order
    symbols = [P, L, r, v0, m0, kxx] + [p(a) for a in range(1, order + 1)]
    symbols += [s for m in range(J + 1) for s in (t(m), q(m), e(m), f(m))]
    return {str(s): s for s in symbols}


class _Ring:
    """Polynomials over QQ in ``eps``, ``delta`` and the symbols of one order (``sympy.polys.rings``: fast),
    truncated in ``eps`` at ``order`` and in ``delta`` at ``2 order``."""

    def __init__(self, order: int) -> None:
        J = 2 * order
        self.order, self.J = order, J
        self.symbols = [eps, delta, P, r, m0, v0, kxx] + [p(a) for a in range(1, order + 1)]
        self.symbols += [t(m) for m in range(1, J + 1)] + [q(m) for m in range(1, J + 1)]
        self.symbols += [e(m) for m in range(J + 1)] + [f(m) for m in range(J + 1)]
        self.ring, *self.gens = ring(self.symbols, QQ)
        self.of = dict(zip(self.symbols, self.gens))

    def truncate(self, x):
        """Drop ``eps^k``, ``k > order``, and ``delta^j``, ``j > 2 order``."""
        return self.ring({m: c for m, c in x.items() if m[0] <= self.order and m[1] <= self.J})

    def times(self, x, y):
        return self.truncate(x * y)

    def exp(self, x):
        """``exp(x)`` for ``x`` without a constant term (truncated)."""
        out, power = self.ring.one, self.ring.one
        for n in range(1, self.order + self.J + 1):
            power = self.times(power, x)
            if not power:
                break
            out += power * QQ(1, math.factorial(n))
        return out

    def log(self, x):
        """``log(x)`` for ``x = 1 + O(eps)`` (no ``delta`` left)."""
        y, out, power = x - 1, self.ring.zero, self.ring.one
        for n in range(1, self.order + 1):
            power = self.times(power, y)
            out += power * QQ((-1) ** (n + 1), n)
        return out

    def inverse(self, x):
        y, out, power = x - 1, self.ring.one, self.ring.one
        for _ in range(self.order):
            power = self.times(-power, y)
            out += power
        return out

    @cached_property
    def delta_moments(self) -> list:
        """``E[delta^j]``, ``j = 0..2 order``, in ``eps`` and the power sums ``p_a`` (``symbolic.width_moments``)."""
        E, order = self.of[eps], self.order
        raw = []
        for k in range(self.J + 1):
            coefficients = log_raw_moment_coefficients(k, order)
            exponent = sum((QQ(c.numerator, c.denominator) * self.of[p(a)] * E**a
                            for a, c in enumerate(coefficients, start=1)), self.ring.zero)
            raw.append(self.exp(exponent))
        return central_moments(raw)

    def expectation(self, F):
        """``E[F(delta)]``: ``delta^j -> E[delta^j]``."""
        out = self.ring.zero
        moments = self.delta_moments
        for monomial, c in F.items():
            j = monomial[1]
            rest = self.ring({monomial[:1] + (0,) + monomial[2:]: c})
            out += self.times(rest, moments[j])
        return out


@lru_cache(maxsize=32)
def _series(quantity: str, order: int, zero_temperature: bool) -> sp.Expr:
    """The whole series to ``eps^order`` in the power sums (term 0 excluded for the log evidence).

    At zero temperature ``W = I``: ``t_m = P``, ``q_m = r``, ``e_m = m0``, ``f_m = kxx - v0``; the same formulas.
    """
    R = _Ring(order)
    g, J = R.of, R.J
    if zero_temperature:
        T, Q, E, F = (lambda m: g[P]), (lambda m: g[r]), (lambda m: g[m0]), (lambda m: g[kxx] - g[v0])
    else:
        T, Q, E, F = (lambda m: g[t(m)]), (lambda m: g[q(m)]), (lambda m: g[e(m)]), (lambda m: g[f(m)])
    minus_delta = -g[delta]
    log_z = sum((minus_delta**m * (T(m) * QQ(1, m) - Q(m)) for m in range(1, J + 1)), R.ring.zero)
    z = R.exp(R.truncate(log_z * QQ(1, 2)))
    Ez = R.expectation(z)
    if quantity == "log_evidence":
        return R.log(Ez).as_expr()
    s = 1 + g[delta]
    inverse = R.inverse(Ez)
    mean_d = R.truncate(s * sum((minus_delta**m * E(m) for m in range(J + 1)), R.ring.zero))
    mean = R.times(R.expectation(R.times(z, mean_d)), inverse)
    if quantity == "mean":
        return mean.as_expr()
    cov_d = R.truncate(s * g[kxx] - s**2 * sum((minus_delta**m * F(m) for m in range(J + 1)), R.ring.zero))
    second = R.times(R.expectation(R.times(z, cov_d + R.times(mean_d, mean_d))), inverse)
    return (second - R.times(mean, mean)).as_expr()


def closed_form(quantity: str, order: int, beta: float | str = math.inf, widths: str = "equal") -> sp.Expr:
    """The coefficient of ``1/N^order`` (``widths="equal"``: a polynomial in ``L``, ``P`` and the invariants) or
    the order-``order`` term in the width power sums (``widths="per-layer"``).

    Symbols (SymPy names), for the training points and one test point with kernel column ``k``:

    - ``P`` training points, ``L`` depth; ``beta=math.inf``: ``r = y^T K^-1 y``, ``v0`` the GP variance
      ``kxx - k^T K^-1 k`` (the mean has no corrections: ``closed_form("mean", K) == 0``);
    - ``beta="finite"``: ``t1, t2, ...`` (``t_m = tr W^m``), ``q1, q2, ...`` (``q_m = y^T A W^m y``),
      ``e0, e1, ...`` (``e_m = k^T A W^m y``; ``e0`` the GP mean), ``f0, f1, ...`` (``f_m = k^T A W^m k``)
      and ``kxx``, with ``A = (K + (P/beta) I)^-1`` and ``W = K A``;
    - ``widths="per-layer"``: ``p1, p2, ...`` (``p_a = sum_l N_l^-a``; e.g.
      ``sum_{l<l'} 1/(N_l N_l') = (p1^2 - p2)/2``), in place of ``L/N^a``.

    ``ValueError`` for a quantity, order (1-4), ``beta`` or ``widths`` it cannot give.
    """
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {', '.join(QUANTITIES)}, got {quantity!r}")
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= LARGEST_ORDER:
        raise ValueError(f"order must be an integer from 1 to {LARGEST_ORDER}, got {order!r}")
    if beta != "finite" and not (isinstance(beta, float) and math.isinf(beta) and beta > 0):
        raise ValueError(f"beta must be math.inf or 'finite', got {beta!r}")
    if widths not in ("equal", "per-layer"):
        raise ValueError(f"widths must be 'equal' or 'per-layer', got {widths!r}")
    term = sp.Poly(_series(quantity, order, beta != "finite"), eps).coeff_monomial(eps**order)
    if widths == "equal":
        term = term.subs({p(a): L for a in range(1, order + 1)})
    return sp.factor_terms(sp.expand(term))
