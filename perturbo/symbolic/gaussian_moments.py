"""Exact moments of centred Gaussian vectors (Isserlis/Wick theorem).

For ``z ~ N(0, S)`` the moment ``E[prod_a z_a^{k_a}]`` obeys the recursion
(Gaussian integration by parts on one factor ``z_a``)

    E[z_a z^k] = sum_b S_ab k_b E[z^(k - e_b)],

which sums over the perfect matchings of the multiset of factors. ``cov(a, b)``
may return SymPy expressions or elements of a SymPy polynomial ring (much
faster for large products); the moment has the same type.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

import sympy as sp

Covariance = Callable[[int, int], Any]


def gaussian_moment(exponents: tuple[int, ...], cov: Covariance) -> Any:
    """``E[prod_a z_a^exponents[a]]`` for ``z ~ N(0, S)`` with ``S[a, b] = cov(a, b)``."""
    return gaussian_moments(cov)(tuple(exponents))


def gaussian_moments(cov: Covariance) -> Callable[[tuple[int, ...]], Any]:
    """A memoised ``exponents -> E[prod_a z_a^exponents[a]]`` sharing work across calls."""

    @lru_cache(maxsize=None)
    def moment(k: tuple[int, ...]) -> Any:
        a = next((i for i, ki in enumerate(k) if ki), None)
        if a is None:
            return 1
        if sum(k) % 2:
            return 0
        rest = list(k)
        rest[a] -= 1
        total: Any = 0
        for b, kb in enumerate(rest):
            if kb:
                paired = list(rest)
                paired[b] -= 1
                total = total + kb * cov(a, b) * moment(tuple(paired))
        return sp.expand(total) if isinstance(total, sp.Basic) else total

    return moment


def expect_polynomial(poly: sp.Expr, variables: tuple[sp.Symbol, ...], cov: Covariance) -> sp.Expr:
    """``E[poly(z)]`` for a polynomial in ``variables`` with ``z ~ N(0, S)``, by linearity."""
    terms = sp.Poly(sp.expand(poly), *variables).terms()
    return sp.expand(sum(c * gaussian_moment(k, cov) for k, c in terms))
