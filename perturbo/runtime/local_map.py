"""Elementwise ("local") polynomial maps of a Gram matrix, evaluated by one compiled loop.

A local map sends a symmetric ``S`` to the matrix with entries

    f(S)_ab = sum_m c_m S_aa^i_m S_bb^j_m S_ab^k_m,

the same polynomial on and off the diagonal (the layer map of a polynomial activation, the mean part
``sigma_w2 mu(S_aa) mu(S_bb)`` of a non-odd one, a Taylor coefficient of either). The monomials come from
SymPy as a table (``LocalPolynomial.of``); ``apply`` runs one ``@njit(parallel=True)`` loop, each entry
summing its monomials in registers, so a layer costs one pass over ``M^2`` entries instead of one NumPy
temporary per monomial. A symmetric ``f`` (``f(x, y, z) = f(y, x, z)``) is evaluated on the upper triangle
and mirrored.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import sympy as sp


@numba.njit(parallel=True, cache=True)
def _apply(S: np.ndarray, exponents: np.ndarray, coefficients: np.ndarray, symmetric: bool, out: np.ndarray) -> None:
    M = S.shape[0]
    top = exponents.max() + 1
    diagonal_powers = np.ones((M, top))
    for a in range(M):
        for p in range(1, top):
            diagonal_powers[a, p] = diagonal_powers[a, p - 1] * S[a, a]
    for a in numba.prange(M):
        entry_powers = np.ones(top)
        for b in range(a if symmetric else 0, M):
            s = S[a, b]
            for p in range(1, top):
                entry_powers[p] = entry_powers[p - 1] * s
            total = 0.0
            for m in range(coefficients.shape[0]):
                total += (coefficients[m] * diagonal_powers[a, exponents[m, 0]] * diagonal_powers[b, exponents[m, 1]]
                          * entry_powers[exponents[m, 2]])
            out[a, b] = total
            if symmetric:
                out[b, a] = total


@dataclass(frozen=True)
class LocalPolynomial:
    """``f(S_aa, S_bb, S_ab)`` as monomial exponents ``(i, j, k)`` and float coefficients."""

    exponents: np.ndarray  # (monomials, 3) int64
    coefficients: np.ndarray  # (monomials,)
    symmetric: bool  # f(x, y, z) == f(y, x, z)

    @classmethod
    def of(cls, expr: sp.Expr, variables: tuple[sp.Symbol, sp.Symbol, sp.Symbol]) -> LocalPolynomial:
        expr = sp.expand(expr)
        x, y, _ = variables
        symmetric = sp.expand(expr - expr.subs({x: y, y: x}, simultaneous=True)) == 0
        terms = sp.Poly(expr, *variables).terms() if expr != 0 else []
        exponents = np.array([monomial for monomial, _ in terms], dtype=np.int64).reshape(-1, 3)
        return cls(exponents, np.array([float(c) for _, c in terms]), bool(symmetric))

    def apply(self, S: np.ndarray) -> np.ndarray:
        """``f(S)`` on a symmetric ``M x M`` matrix."""
        S = np.ascontiguousarray(S, dtype=float)
        out = np.empty_like(S)
        if len(self.coefficients) == 0:
            out[...] = 0.0
        else:
            _apply(S, self.exponents, self.coefficients, self.symmetric, out)
        return out
