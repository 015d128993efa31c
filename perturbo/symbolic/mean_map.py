"""The infinite-width layer map ``m(S)_ab = sigma_w2 E[phi(z_a) phi(z_b)]``.

For ``(z_a, z_b) ~ N(0, [[S_aa, S_ab], [S_ab, S_bb]])`` and polynomial ``phi``
the expectation is a polynomial in ``S_aa, S_bb, S_ab`` (Wick). The diagonal
entry is the same polynomial at ``S_aa = S_bb = S_ab``, so one elementwise
formula evaluates ``m`` on a whole Gram matrix (``runtime.local_map``).

For a non-odd activation the features have a mean, ``mu(S_aa) = E[phi(z_a)]``, a polynomial in the
variance; ``mean_part_expr`` is the part ``sigma_w2 mu(S_aa) mu(S_bb)`` of ``m`` it accounts for.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from ..activation import t
from ..runtime.local_map import LocalPolynomial, local_polynomial
from .gaussian_moments import expect_polynomial

S_aa, S_bb, S_ab = sp.symbols("S_aa S_bb S_ab", real=True)
_z_a, _z_b = sp.symbols("z_a z_b", real=True)


def mean_map_expr(phi: sp.Expr, sigma_w2: sp.Expr) -> sp.Expr:
    """``sigma_w2 E[phi(z_a) phi(z_b)]`` as a polynomial in ``S_aa, S_bb, S_ab``."""
    cov = sp.Matrix([[S_aa, S_ab], [S_ab, S_bb]])
    product = phi.subs(t, _z_a) * phi.subs(t, _z_b)
    return sp.expand(sigma_w2 * expect_polynomial(product, (_z_a, _z_b), lambda a, b: cov[a, b]))


def activation_mean_expr(phi: sp.Expr) -> sp.Expr:
    """``mu(S_aa) = E[phi(z_a)]``, ``z_a ~ N(0, S_aa)``, a polynomial in ``S_aa``: zero exactly when ``phi`` is odd."""
    return expect_polynomial(phi.subs(t, _z_a), (_z_a,), lambda a, b: S_aa)


def mean_part_expr(phi: sp.Expr, sigma_w2: sp.Expr) -> sp.Expr:
    """``sigma_w2 mu(S_aa) mu(S_bb)``, the features' mean part of ``m``."""
    mean = activation_mean_expr(phi)
    return sp.expand(sigma_w2 * mean * mean.subs(S_aa, S_bb))


@lru_cache(maxsize=64)
def numeric_derivative_map(phi: sp.Expr, sigma_w2: float) -> LocalPolynomial:
    """``S -> sigma_w2 E[phi'(z_a) phi'(z_b)]``: the layer map of the derivative, which carries the neural tangent
    kernel from one layer to the next."""
    return numeric_mean_map(sp.diff(phi, t), sigma_w2)


@lru_cache(maxsize=64)
def numeric_mean_map(phi: sp.Expr, sigma_w2: float) -> LocalPolynomial:
    """``S -> m(S)`` on a symmetric Gram matrix (exact polynomial, one compiled pass; ``iterate`` for the
    recursion over layers)."""
    return local_polynomial(mean_map_expr(phi, sp.nsimplify(sigma_w2, rational=True)), (S_aa, S_bb, S_ab))
