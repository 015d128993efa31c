"""Joint moments of one neuron's contribution to the next Gram matrix.

One layer maps ``S`` to the sample mean ``S' = (1/N) sum_i Y_i`` of ``N`` iid copies
of ``Y = sigma_w2 phi(z) phi(z)^T``, ``z ~ N(0, S)``. Everything the 1/N
expansion needs from a layer is a joint moment of entries of one copy, over
``2r`` abstract point labels (entry ``i`` of the block joins labels ``2i, 2i+1``):

    r = 1:   M_1(s)  = sigma_w2 E[phi(z_0) phi(z_1)]                (the mean map m)
    r >= 2:  M_r(s)  = E[prod_{i<r} (Y_i - E Y_i)],  Y_i = sigma_w2 phi(z_2i) phi(z_2i+1)

polynomials in the local covariance entries ``s_pq`` (Wick). Labels may later
coincide (a repeated data point): Wick's theorem holds for degenerate
covariances, so one formula serves every pattern of coincidences.

``taylor_table`` expands such a polynomial about a base point,
``M(b + delta) = sum_alpha c_alpha(b) delta^alpha``, and ``LocalPolynomial``
evaluates the coefficients ``c_alpha`` numerically.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp
from sympy.polys.rings import PolyElement, ring

from ..activation import t
from ..progress import progress
from .gaussian_moments import gaussian_moments


def local_pairs(n_labels: int) -> list[tuple[int, int]]:
    """The local covariance entries ``(p, q)``, ``p <= q``, in generator order."""
    return [(p, q) for p in range(n_labels) for q in range(p, n_labels)]


@lru_cache(maxsize=None)
def covariance_ring(n_labels: int, parameters: tuple[sp.Symbol, ...] = ()):
    """The ring ``F[s_pq]`` over the entries of an ``n_labels``-point covariance.

    ``F`` is ``QQ``, or the rational functions in ``parameters`` (e.g. ``psi``, ``L``) for
    derivations that keep them symbolic.
    """
    names = ",".join(f"s_{p}_{q}" for p, q in local_pairs(n_labels))
    domain = sp.QQ.frac_field(*parameters) if parameters else sp.QQ
    R, *gens = ring(names, domain)
    return R, dict(zip(local_pairs(n_labels), gens))


def copy_moment(phi: sp.Expr, sigma_w2: sp.Expr, r: int) -> PolyElement:
    """``M_r`` of the module docstring, an element of ``covariance_ring(2r, parameters)``.

    ``parameters`` are the symbols of ``phi`` other than ``t`` and those of ``sigma_w2``.
    Not memoised: ``M_4`` of the cubic has 6.4 million terms (gigabytes as SymPy objects);
    callers keep what they need (``LocalPolynomial`` tables, cached by ``codegen.reference_moments``).
    """
    parameters = tuple(sorted((phi.free_symbols - {t}) | sp.sympify(sigma_w2).free_symbols, key=str))
    R, s = covariance_ring(2 * r, parameters)
    moment = gaussian_moments(lambda a, b: s[(min(a, b), max(a, b))])
    coefficients = [R.domain.from_sympy(c) for c in reversed(sp.Poly(phi, t).all_coeffs())]

    def raw(block: tuple[int, ...]) -> PolyElement:
        """``E[prod_{i in block} Y_i]`` by expanding each ``phi`` into monomials."""
        labels = [label for i in block for label in (2 * i, 2 * i + 1)]
        total = R.zero
        for powers in itertools.product(range(len(coefficients)), repeat=len(labels)):
            c = math.prod(coefficients[k] for k in powers)
            if c:
                exponents = [0] * (2 * r)
                for label, k in zip(labels, powers):
                    exponents[label] += k
                total += c * moment(tuple(exponents))
        return total * R.domain.from_sympy(sp.sympify(sigma_w2)) ** len(block)

    if r == 1:
        return raw((0,))
    means = [raw((i,)) for i in range(r)]
    central = R.zero
    for size in range(r + 1):
        for block in itertools.combinations(range(r), size):
            term = raw(block) if block else R.one
            for i in set(range(r)) - set(block):
                term *= -means[i]
            central += term
    return central


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
class LocalPolynomial:
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
    def from_poly(cls, poly: PolyElement, n_labels: int, degree: int) -> LocalPolynomial:
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
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> LocalPolynomial:
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


def layer_moments(phi: sp.Expr, sigma_w2: sp.Rational, order: int) -> dict[int, LocalPolynomial]:
    """``{r: M_r}`` for ``r = 1..order+1``, Taylor-expanded as far as order ``order`` needs.

    A block of ``r`` noise entries carries ``N^{1-r}``, so it may multiply at most
    ``2(order - r + 1)`` powers of the Gram fluctuation; the mean map (``r = 1``)
    enters through products, so it is kept to degree ``2 order``.
    """
    degrees = {1: 2 * order} | {r: 2 * (order - r + 1) for r in range(2, order + 2)}
    moments = {}
    with progress(len(degrees), f"one-copy moments for order {order}", enabled=order >= 2) as bar:
        for r, degree in degrees.items():
            moments[r] = LocalPolynomial.from_poly(copy_moment(phi, sigma_w2, r), 2 * r, degree)
            bar.update()
    return moments
