"""The one-copy moments ``M_r`` (``perturbo.symbolic.copy_moments``) as numeric Taylor tables about the layer
kernel, for the pull-back oracle, derived once and kept in perturbo's derivation cache (order 3 takes minutes).

``taylor_table`` expands a polynomial about a base point, ``M(b + delta) = sum_alpha c_alpha(b) delta^alpha``, and
``TaylorTable`` evaluates the coefficients ``c_alpha`` numerically.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp
from sympy.polys.rings import PolyElement

from perturbo.codegen import derivation_inputs
from perturbo.codegen.cache import load_derived_arrays
from perturbo.progress import progress
from perturbo.symbolic.copy_moments import copy_moment, local_pairs


def taylor_table(poly: PolyElement, degree: int) -> list[tuple[tuple[int, ...], PolyElement]]:
    """``[(alpha, c_alpha)]`` with ``poly(b + delta) = sum c_alpha(b) delta^alpha``, ``|alpha| <= degree``.

    ``alpha`` is a sorted tuple of generator indices (a multiset), and
    ``c_alpha = d^alpha poly / alpha!``, built one derivative at a time:
    ``c_{alpha + v} = d_v c_alpha / (alpha_v + 1)``.
    """
    gens = poly.ring.gens
    table = []
    pending = [((), poly)]
    while pending:
        alpha, c = pending.pop()
        table.append((alpha, c))
        if len(alpha) == degree:
            continue
        for v in range(alpha[-1] if alpha else 0, len(gens)):
            derivative = c.diff(gens[v])
            if derivative:
                pending.append((alpha + (v,), derivative * poly.ring.domain(1, alpha.count(v) + 1)))
    return sorted(table)


@dataclass(frozen=True)
class TaylorTable:
    """Numeric Taylor coefficients of a polynomial in the local entries ``s_pq`` of ``n_labels`` points.

    ``coefficients(base)`` returns ``[(alpha, c_alpha(base))]`` for a vector of base
    values in the order of ``local_pairs(n_labels)``. All coefficient polynomials are
    stacked term by term: ``factors`` lists each term's variables (with repetition),
    ``starts`` where each alpha's terms begin.
    """

    n_labels: int
    alphas: tuple[tuple[int, ...], ...]
    factors: np.ndarray  # (terms, max degree) uint8: variable index of each factor, n_vars pads with a 1
    values: np.ndarray  # (terms,) float coefficients
    starts: np.ndarray  # (len(alphas),) first term of each alpha

    @classmethod
    def from_poly(cls, poly: PolyElement, n_labels: int, degree: int) -> TaylorTable:
        n_vars = len(local_pairs(n_labels))
        table = taylor_table(poly, degree)
        n_terms = sum(len(c) for _, c in table)
        width = max((sum(m) for _, c in table for m in c.itermonoms()), default=0)
        factors = np.full((n_terms, width), n_vars, dtype=np.uint8)  # up to 21 labels (order 4 needs 10)
        values, starts, row = np.empty(n_terms), [], 0
        for _, c in table:
            starts.append(row)
            for monomial, value in c.terms():
                variables = [v for v, power in enumerate(monomial) for _ in range(power)]
                factors[row, : len(variables)] = variables
                values[row] = float(value)
                row += 1
        return cls(n_labels, tuple(alpha for alpha, _ in table), factors, values, np.array(starts, dtype=np.intp))

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """Plain arrays (for the derivation cache), names starting with ``prefix``."""
        return {
            f"{prefix}n_labels": np.array(self.n_labels),
            f"{prefix}alpha_lengths": np.array([len(a) for a in self.alphas], dtype=np.intp),
            f"{prefix}alpha_variables": np.array([v for a in self.alphas for v in a], dtype=np.intp),
            f"{prefix}factors": self.factors,
            f"{prefix}values": self.values,
            f"{prefix}starts": self.starts,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> TaylorTable:
        """The inverse of ``to_arrays``."""
        lengths = arrays[f"{prefix}alpha_lengths"].tolist()
        flat = arrays[f"{prefix}alpha_variables"].tolist()
        ends = itertools.accumulate(lengths)
        alphas = tuple(tuple(flat[end - n : end]) for n, end in zip(lengths, ends))
        return cls(
            int(arrays[f"{prefix}n_labels"]), alphas, arrays[f"{prefix}factors"], arrays[f"{prefix}values"],
            arrays[f"{prefix}starts"],
        )

    def coefficients(self, base: np.ndarray) -> list[tuple[tuple[int, ...], float]]:
        """``[(alpha, c_alpha(base))]``; one factor column at a time, so no (terms, degree) temporary."""
        extended = np.append(base, 1.0)
        terms = self.values.copy()
        for column in self.factors.T:
            terms *= extended[column]
        return list(zip(self.alphas, np.add.reduceat(terms, self.starts).tolist()))


def layer_moments(phi: sp.Expr, sigma_w2: sp.Rational, order: int) -> dict[int, TaylorTable]:
    """``{r: M_r}`` for ``r = 1..order+1``, Taylor-expanded as far as order ``order`` needs.

    A block of ``r`` noise entries carries ``N^{1-r}``, so it may multiply at most
    ``2(order - r + 1)`` powers of the Gram fluctuation; the mean map (``r = 1``)
    enters through products, so it is kept to degree ``2 order``.
    """
    degrees = {1: 2 * order} | {r: 2 * (order - r + 1) for r in range(2, order + 2)}
    moments = {}
    with progress(len(degrees), f"one-copy moments for order {order}", enabled=order >= 2) as bar:
        for r, degree in degrees.items():
            moments[r] = TaylorTable.from_poly(copy_moment(phi, sigma_w2, r), 2 * r, degree)
            bar.update()
    return moments


@lru_cache(maxsize=32)
def cached_layer_moments(phi: sp.Expr, sigma_w2: sp.Expr, order: int) -> dict[int, TaylorTable]:
    """``layer_moments(phi, sigma_w2, order)``, from the cache when another process derived them."""
    inputs = derivation_inputs(phi, sigma_w2, f"order {order}")

    def derive() -> dict[str, np.ndarray]:
        moments = layer_moments(phi, sigma_w2, order)
        return {k: v for r, poly in moments.items() for k, v in poly.to_arrays(f"M{r}_").items()}

    arrays = load_derived_arrays("moments", inputs, derive)
    return {r: TaylorTable.from_arrays(arrays, f"M{r}_") for r in range(1, order + 2)}
