"""Exact moments of centred Gaussian vectors (Isserlis/Wick theorem).

For ``z ~ N(0, S)`` the moment ``E[prod_a z_a^{k_a}]`` obeys the recursion
(Gaussian integration by parts, one factor of ``z_a`` at a time)

    E[z_a^{k_a} R] = sum_b S_ab * dR/dz_b-count * E[... one z_a and one z_b removed ...]

which is the sum over perfect matchings of the multiset of factors.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import sympy as sp

Covariance = Callable[[int, int], sp.Expr]


def gaussian_moment(exponents: tuple[int, ...], cov: Covariance) -> sp.Expr:
    """``E[prod_a z_a^exponents[a]]`` for ``z ~ N(0, S)`` with ``S[a, b] = cov(a, b)``."""

    @lru_cache(maxsize=None)
    def moment(k: tuple[int, ...]) -> sp.Expr:
        a = next((i for i, ki in enumerate(k) if ki), None)
        if a is None:
            return sp.Integer(1)
        if sum(k) % 2:
            return sp.Integer(0)
        rest = list(k)
        rest[a] -= 1
        total = sp.Integer(0)
        for b, kb in enumerate(rest):
            if kb:
                paired = list(rest)
                paired[b] -= 1
                total += kb * cov(a, b) * moment(tuple(paired))
        return sp.expand(total)

    return moment(tuple(exponents))


def expect_polynomial(poly: sp.Expr, variables: tuple[sp.Symbol, ...], cov: Covariance) -> sp.Expr:
    """``E[poly(z)]`` for a polynomial in ``variables`` with ``z ~ N(0, S)``, by linearity."""
    terms = sp.Poly(sp.expand(poly), *variables).terms()
    return sp.expand(sum(c * gaussian_moment(k, cov) for k, c in terms))
