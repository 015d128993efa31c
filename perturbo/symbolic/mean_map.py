"""The infinite-width layer map ``m(S)_ab = sigma_w2 E[phi(z_a) phi(z_b)]``.

For ``(z_a, z_b) ~ N(0, [[S_aa, S_ab], [S_ab, S_bb]])`` and polynomial ``phi``
the expectation is a polynomial in ``S_aa, S_bb, S_ab`` (Wick). The diagonal
entry is the same polynomial at ``S_aa = S_bb = S_ab``, so one elementwise
formula evaluates ``m`` on a whole Gram matrix.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np
import sympy as sp

from ..activation import t
from .gaussian_moments import expect_polynomial

S_aa, S_bb, S_ab = sp.symbols("S_aa S_bb S_ab", real=True)
_z_a, _z_b = sp.symbols("z_a z_b", real=True)


def mean_map_expr(phi: sp.Expr, sigma_w2: sp.Expr) -> sp.Expr:
    """``sigma_w2 E[phi(z_a) phi(z_b)]`` as a polynomial in ``S_aa, S_bb, S_ab``."""
    cov = sp.Matrix([[S_aa, S_ab], [S_ab, S_bb]])
    product = phi.subs(t, _z_a) * phi.subs(t, _z_b)
    return sp.expand(sigma_w2 * expect_polynomial(product, (_z_a, _z_b), lambda a, b: cov[a, b]))


@lru_cache(maxsize=64)
def numeric_mean_map(phi: sp.Expr, sigma_w2: float) -> Callable[[np.ndarray], np.ndarray]:
    """Vectorised ``S -> m(S)`` on a symmetric Gram matrix (exact polynomial evaluation)."""
    expr = mean_map_expr(phi, sp.nsimplify(sigma_w2, rational=True))
    elementwise = sp.lambdify((S_aa, S_bb, S_ab), expr, modules="numpy")

    def m(S: np.ndarray) -> np.ndarray:
        d = np.diagonal(S)
        return np.broadcast_to(elementwise(d[:, None], d[None, :], S), S.shape).copy()

    return m
