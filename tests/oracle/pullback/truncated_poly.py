"""Polynomials in the Gram fluctuations ``d_e``, truncated at a total degree.

A monomial is a sorted tuple of variable indices (a multiset), e.g. ``(0, 0, 3)``
is ``d_0^2 d_3``. Variables are the entries ``(a, b)``, ``a <= b``, of the
symmetric fluctuation ``D`` on ``M`` points, numbered by ``GramEntries``.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np

Monomial = tuple[int, ...]


class GramEntries:
    """Numbering of the entries ``(a, b)``, ``a <= b``, of an ``M x M`` symmetric matrix."""

    def __init__(self, M: int) -> None:
        self.M = M
        self.pairs = [(a, b) for a in range(M) for b in range(a, M)]
        self.index = np.zeros((M, M), dtype=np.intp)
        for e, (a, b) in enumerate(self.pairs):
            self.index[a, b] = self.index[b, a] = e


def merge(m1: Monomial, m2: Monomial) -> Monomial:
    return tuple(sorted(m1 + m2)) if m1 and m2 else m1 or m2


class TruncatedPoly:
    """``sum_alpha c_alpha d^alpha`` with ``|alpha| <= max_degree`` (higher terms are dropped)."""

    __slots__ = ("terms", "max_degree")

    def __init__(self, terms: dict[Monomial, float] | None = None, max_degree: int = 0) -> None:
        self.max_degree = max_degree
        self.terms = {m: c for m, c in (terms or {}).items() if len(m) <= max_degree and c != 0.0}

    @classmethod
    def _trusted(cls, terms: dict[Monomial, float], max_degree: int) -> TruncatedPoly:
        """Wrap ``terms`` already known to respect ``max_degree`` (no copy, no filtering)."""
        poly = cls.__new__(cls)
        poly.terms, poly.max_degree = terms, max_degree
        return poly

    @classmethod
    def constant(cls, c: float, max_degree: int) -> TruncatedPoly:
        return cls({(): float(c)}, max_degree)

    @classmethod
    def variable(cls, e: int, max_degree: int) -> TruncatedPoly:
        return cls({(e,): 1.0}, max_degree)

    def __add__(self, other: TruncatedPoly | float) -> TruncatedPoly:
        if not isinstance(other, TruncatedPoly):
            other = TruncatedPoly.constant(other, self.max_degree)
        terms = dict(self.terms)
        for m, c in other.terms.items():
            terms[m] = terms.get(m, 0.0) + c
        return TruncatedPoly(terms, min(self.max_degree, other.max_degree))

    __radd__ = __add__

    def __neg__(self) -> TruncatedPoly:
        return TruncatedPoly({m: -c for m, c in self.terms.items()}, self.max_degree)

    def __sub__(self, other: TruncatedPoly | float) -> TruncatedPoly:
        return self + (-other)

    def __mul__(self, other: TruncatedPoly | float) -> TruncatedPoly:
        if not isinstance(other, TruncatedPoly):
            return TruncatedPoly._trusted({m: c * other for m, c in self.terms.items()}, self.max_degree)
        degree = min(self.max_degree, other.max_degree)
        by_degree: list[list[tuple[Monomial, float]]] = [[] for _ in range(degree + 1)]
        for m2, c2 in other.terms.items():
            if len(m2) <= degree:
                by_degree[len(m2)].append((m2, c2))
        terms: dict[Monomial, float] = defaultdict(float)
        for m1, c1 in self.terms.items():
            for group in by_degree[: degree - len(m1) + 1]:
                for m2, c2 in group:
                    terms[merge(m1, m2)] += c1 * c2
        return TruncatedPoly._trusted(dict(terms), degree)

    __rmul__ = __mul__

    def truncate(self, max_degree: int) -> TruncatedPoly:
        if max_degree >= self.max_degree:
            return self
        return TruncatedPoly._trusted({m: c for m, c in self.terms.items() if len(m) <= max_degree}, max_degree)


def linear_combination(weights: Iterable[float], polys: Iterable[TruncatedPoly], max_degree: int) -> TruncatedPoly:
    """``sum_i w_i p_i``."""
    terms: dict[Monomial, float] = defaultdict(float)
    for w, p in zip(weights, polys):
        if w != 0.0:
            for m, c in p.terms.items():
                terms[m] += w * c
    return TruncatedPoly(terms, max_degree)
