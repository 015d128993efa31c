"""Elementwise ("local") polynomial maps of a Gram matrix, evaluated by one compiled loop.

A local map sends a symmetric ``S`` to the matrix with entries

    f(S)_ab = sum_m c_m S_aa^i_m S_bb^j_m S_ab^k_m,

the same polynomial on and off the diagonal (the layer map of a polynomial activation, the mean part
``sigma_w2 mu(S_aa) mu(S_bb)`` of a non-odd one, a Taylor coefficient of either). The monomials come from
SymPy as a table (``local_polynomial``); ``apply`` runs one ``@njit(parallel=True)`` loop, each entry
summing its monomials in registers, so a layer costs one pass over ``M^2`` entries instead of one NumPy
temporary per monomial. A symmetric ``f`` (``f(x, y, z) = f(y, x, z)``) is evaluated on the upper triangle
and mirrored.

``iterate`` composes a symmetric map with itself, ``K_l = f(K_{l-1})`` (the infinite-width kernel recursion),
fusing all layers into one pass: the diagonal evolves on its own (``K_aa' = f(K_aa, K_aa, K_aa)``), so its
trajectory is computed first, and then each entry runs through every layer in registers, reading ``S_0`` once
and writing only the layers asked for. The monomials are summed in symmetric pairs,
``w (x^i y^j + x^j y^i) z^k``, so entry ``(a, b)`` and ``(b, a)`` get bitwise the same value and the diagonal
entries the same value as the diagonal trajectory.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import sympy as sp


@numba.njit(parallel=True, cache=True)
def _apply(S: np.ndarray, exponents: np.ndarray, top: int, coefficients: np.ndarray, symmetric: bool,
           out: np.ndarray) -> None:
    """``out = f(S)``; ``top`` is one more than the largest exponent (given: ``max`` costs a second to compile)."""
    M = S.shape[0]
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


@numba.njit(cache=True)
def _diagonal_trajectory(S0: np.ndarray, depth: int, pairs: np.ndarray, top: int, weights: np.ndarray) -> np.ndarray:
    """``powers[l, p, a] = (K_l)_aa^p`` for ``l = 0..depth``, ``p < top``, with the arithmetic of ``_iterate``."""
    M = S0.shape[0]
    powers = np.ones((depth + 1, top, M))
    for a in range(M):
        s = S0[a, a]
        for layer in range(depth + 1):
            for p in range(1, top):
                powers[layer, p, a] = powers[layer, p - 1, a] * s
            if layer == depth:
                break
            total = 0.0
            for g in range(weights.shape[0]):
                i, j, k = pairs[g, 0], pairs[g, 1], pairs[g, 2]
                total += weights[g] * (powers[layer, i, a] * powers[layer, j, a]
                                       + powers[layer, j, a] * powers[layer, i, a]) * powers[layer, k, a]
            s = total
    return powers


@numba.njit(parallel=True, cache=True)
def _iterate(S0: np.ndarray, powers: np.ndarray, pairs: np.ndarray, weights: np.ndarray, out: np.ndarray,
             overflow: np.ndarray) -> None:
    """``out[-n:]`` = the last ``n`` layers ``K_l``: row by row, every layer in turn on a row held in cache
    (the inner loops run along the row and vectorise). ``overflow[a]``: the first layer at which row ``a`` is
    not finite (checked while the row is in cache), else 0."""
    M = S0.shape[0]
    depth, top = powers.shape[0] - 1, powers.shape[1]
    first_kept = depth - out.shape[0]
    for a in numba.prange(M):  # scalar loops throughout: array expressions in a parallel loop compile slowly
        overflow[a] = 0
        row = np.ones((top, M))  # powers of the row's entries at the current layer
        total = np.empty(M)
        for b in range(M):
            row[1, b] = S0[a, b]
        for layer in range(depth):
            for p in range(2, top):
                for b in range(M):
                    row[p, b] = row[p - 1, b] * row[1, b]
            for b in range(M):
                total[b] = 0.0
            for g in range(weights.shape[0]):
                i, j, k = pairs[g, 0], pairs[g, 1], pairs[g, 2]
                w, x_i, x_j = weights[g], powers[layer, i, a], powers[layer, j, a]
                for b in range(M):
                    total[b] += w * (x_i * powers[layer, j, b] + x_j * powers[layer, i, b]) * row[k, b]
            row_sum = 0.0
            for b in range(M):
                row[1, b] = total[b]
                row_sum += total[b]
            if overflow[a] == 0 and not np.isfinite(row_sum):  # the sum is the cheap test; the entries decide
                for b in range(M):
                    if not np.isfinite(total[b]):
                        overflow[a] = layer + 1
                        break
            if layer >= first_kept:
                for b in range(M):
                    out[layer - first_kept, a, b] = total[b]


@dataclass(frozen=True)
class LocalPolynomial:
    """``f(S_aa, S_bb, S_ab)`` as monomial exponents ``(i, j, k)`` and float coefficients."""

    exponents: np.ndarray  # (monomials, 3) int64
    coefficients: np.ndarray  # (monomials,)
    symmetric: bool  # f(x, y, z) == f(y, x, z)

    def __call__(self, S: np.ndarray) -> np.ndarray:
        return self.apply(S)

    def symmetric_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows ``(i, j, k)``, ``i <= j``, and weights ``w`` with ``f = sum w (x^i y^j + x^j y^i) z^k``."""
        if not self.symmetric:
            raise ValueError("only a symmetric map f(x, y, z) = f(y, x, z) can be iterated on a Gram matrix")
        keep = self.exponents[:, 0] <= self.exponents[:, 1]
        halve = np.where(self.exponents[keep, 0] == self.exponents[keep, 1], 0.5, 1.0)
        return np.ascontiguousarray(self.exponents[keep]), self.coefficients[keep] * halve

    def iterate(self, S0: np.ndarray, depth: int, kept: int) -> tuple[np.ndarray, int | None]:
        """The last ``kept`` of ``K_1 .. K_depth`` (``K_l = f(K_{l-1})``, ``K_0 = S0``) as one ``(kept, M, M)``
        array, and the first layer ``0..depth`` with an entry that is not finite (overflow), ``None`` if none (see
        the module docstring). After an overflow in a diagonal the array is not computed."""
        S0 = np.ascontiguousarray(S0, dtype=float)
        pairs, weights = self.symmetric_pairs()
        powers = _diagonal_trajectory(S0, depth, pairs, max(int(pairs.max(initial=0)), 1) + 1, weights)
        out = np.empty((kept,) + S0.shape)
        finite = np.all(np.isfinite(powers[:, 1, :]), axis=1)
        if not np.all(finite):
            return out, int(np.argmin(finite))
        overflow = np.empty(len(S0), dtype=np.int64)
        _iterate(S0, powers, pairs, weights, out, overflow)
        late = overflow[overflow > 0]
        return out, int(late.min()) if len(late) else None

    def apply(self, S: np.ndarray) -> np.ndarray:
        """``f(S)`` on a symmetric ``M x M`` matrix."""
        S = np.ascontiguousarray(S, dtype=float)
        out = np.empty_like(S)
        if len(self.coefficients) == 0:
            out[...] = 0.0
        else:
            _apply(S, self.exponents, int(self.exponents.max()) + 1, self.coefficients, self.symmetric, out)
        return out


def local_polynomial(expr: sp.Expr, variables: tuple[sp.Symbol, sp.Symbol, sp.Symbol]) -> LocalPolynomial:
    """The monomial table of ``expr`` in ``(S_aa, S_bb, S_ab) = variables`` (the one step that needs SymPy)."""
    expr = sp.expand(expr)
    x, y, _ = variables
    symmetric = sp.expand(expr - expr.subs({x: y, y: x}, simultaneous=True)) == 0
    terms = sp.Poly(expr, *variables).terms() if expr != 0 else []
    exponents = np.array([monomial for monomial, _ in terms], dtype=np.int64).reshape(-1, 3)
    return LocalPolynomial(exponents, np.array([float(c) for _, c in terms]), bool(symmetric))
