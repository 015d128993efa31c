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

The test suite's pull-back oracle (``tests/oracle/pullback``) Taylor-expands these polynomials;
``perturbo derive`` prints them.
"""
from __future__ import annotations

import itertools
import math
from functools import lru_cache

import sympy as sp
from sympy.polys.rings import PolyElement, ring

from ..activation import t
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
    callers keep what they need.
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
