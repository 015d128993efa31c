"""One copy's noise moments as dense tensors over the points: the ``Copy`` nodes' operands.

A copy at layer ``l`` is ``Y = sigma_w2 phi(z) phi(z)^T`` with ``z ~ N(0, K)``, ``K = K_{l-1}``.
Its central moment over ``a`` entries, ``M_a = E[prod_i (Y_{p_i q_i} - E Y_{p_i q_i})]``, is a
polynomial in the covariance entries of the ``2a`` labels (``symbolic.copy_moments``); a
``Copy`` node with inputs ``alpha`` needs its Taylor coefficient ``d^alpha M_a / alpha!`` at
``K`` on every tuple of labels. Without inputs it is cheaper through the raw moments
``mu_n = E[prod_{k<n} phi(z_{i_k})]``, symmetric in all ``n`` labels:

    M_a = sum_{B subset [a]} sigma_w2^|B| mu_{2|B|}(labels of B) prod_{i not in B} (-m_{p_i q_i}).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp
from sympy.polys.rings import PolyElement

from perturbo.activation import t
from perturbo.symbolic.copy_moments import copy_moment, covariance_ring, local_pairs
from tests.oracle.pullback.tables import taylor_table
from perturbo.symbolic.gaussian_moments import gaussian_moments
from tests.oracle.tables_kernels import polynomial_on_tuples, symmetric_polynomial_on_tuples

LocalPair = tuple[int, int]


@dataclass(frozen=True)
class Table:
    """A polynomial in the local covariance entries of ``n_labels`` labels (``kernels`` module)."""

    n_labels: int
    factors: np.ndarray  # (terms, degree) int64, pad = number of local pairs
    values: np.ndarray

    @classmethod
    def from_poly(cls, poly: PolyElement, n_labels: int) -> Table:
        n_vars = len(local_pairs(n_labels))
        terms = poly.terms()
        width = max((sum(m) for m, _ in terms), default=0)
        factors = np.full((len(terms), max(width, 1)), n_vars, dtype=np.int64)
        values = np.empty(len(terms))
        for row, (monomial, value) in enumerate(terms):
            variables = [v for v, power in enumerate(monomial) for _ in range(power)]
            factors[row, : len(variables)] = variables
            values[row] = float(value)
        return cls(n_labels, factors, values)

    def on_tuples(self, K: np.ndarray, symmetric: bool = False) -> np.ndarray:
        """The tensor ``(M,) * n_labels`` of the polynomial at the kernel ``K`` (``kernels`` module)."""
        M = len(K)
        pairs = local_pairs(self.n_labels)
        pair_p = np.array([p for p, _ in pairs], dtype=np.int64)
        pair_q = np.array([q for _, q in pairs], dtype=np.int64)
        out = np.zeros(M**self.n_labels)
        kernel = symmetric_polynomial_on_tuples if symmetric else polynomial_on_tuples
        if len(self.values):
            kernel(np.ascontiguousarray(K), self.n_labels, pair_p, pair_q, self.factors, self.values, out)
        return out.reshape((M,) * self.n_labels)


def raw_moment(phi: sp.Expr, n: int) -> PolyElement:
    """``mu_n = E[prod_{k<n} phi(z_k)]`` in ``covariance_ring(n)`` (exact rationals)."""
    R, s = covariance_ring(n)
    moment = gaussian_moments(lambda a, b: s[(min(a, b), max(a, b))])
    coefficients = [R.domain.from_sympy(c) for c in reversed(sp.Poly(phi, t).all_coeffs())]
    total = R.zero
    for powers in itertools.product(range(len(coefficients)), repeat=n):
        c = math.prod(coefficients[k] for k in powers)
        if c:
            total += c * moment(tuple(powers))
    return total


class CopyMoments:
    """Tables for one activation: raw moments ``mu_n`` and Taylor terms of central moments ``M_a``."""

    def __init__(self, phi: sp.Expr, sigma_w2: sp.Rational) -> None:
        self.phi, self.sigma_w2 = phi, sigma_w2

    @lru_cache(maxsize=None)
    def raw(self, n: int) -> Table:
        return Table.from_poly(raw_moment(self.phi, n), n)

    @lru_cache(maxsize=None)
    def taylor(self, a: int, degree: int) -> dict[tuple[LocalPair, ...], Table]:
        """``alpha -> d^alpha M_a / alpha!`` for ``1 <= |alpha| <= degree``, non-zero ones only."""
        pairs = local_pairs(2 * a)
        table = taylor_table(copy_moment(self.phi, self.sigma_w2, a), degree)
        return {tuple(pairs[v] for v in alpha): Table.from_poly(c, 2 * a) for alpha, c in table if alpha and c}

    def inputs(self, a: int, degree: int) -> list[tuple[LocalPair, ...]]:
        return sorted(self.taylor(a, degree))

    def tensor(self, K: np.ndarray, a: int, alpha: tuple[LocalPair, ...]) -> np.ndarray:
        """``d^alpha M_a / alpha!`` at ``K`` on all ``2a``-tuples of points, axes = labels."""
        if alpha:
            return self.taylor(a, len(alpha))[alpha].on_tuples(K)
        s2 = float(self.sigma_w2)
        mean = s2 * self.raw(2).on_tuples(K)  # m_pq
        M = len(K)
        total = np.zeros((M,) * (2 * a))
        letters = "abcdefghijklmnopqrstuvwxyz"
        for size in range(a + 1):
            for block in itertools.combinations(range(a), size):
                factors, subscripts = [], []
                if block:
                    factors.append(s2**size * self.raw(2 * size).on_tuples(K, symmetric=True))
                    subscripts.append("".join(letters[2 * i] + letters[2 * i + 1] for i in block))
                for i in set(range(a)) - set(block):
                    factors.append(-mean)
                    subscripts.append(letters[2 * i] + letters[2 * i + 1])
                out = letters[: 2 * a]
                total += np.einsum(",".join(subscripts) + "->" + out, *factors) if factors else 1.0
        return total


