"""The jet of ``log det(I + A E)`` as a plan of traces: few matrix products, planned once per box and support.

For a matrix jet ``E`` without constant term (coefficients ``E_beta``, ``beta`` in its support) and ``B = A E``,

    log det(I + B)_alpha = sum_{j = 1}^{|alpha|} (-1)^(j+1) / j  sum_{beta_1 + .. + beta_j = alpha} tr(B_beta_1 .. B_beta_j),

the inner sum over ordered compositions of ``alpha`` into ``j`` parts of the support. With ``A`` and every ``E_beta``
symmetric a trace is unchanged by rotating its factors and by reversing them (transpose, then rotate), so each
dihedral class of compositions is one trace times its number of compositions. The plan evaluates that trace as
``tr(X Y) = sum_ij X_ij Y_ji`` (``O(P^2)``), with ``X`` and ``Y`` chains ``B_beta_1 ... B_beta_k`` of consecutive
factors of some rotation or reflection, chosen so that as few distinct chains as possible are formed (a greedy
choice, classes in order of length). Each chain costs one ``P^3`` product (``A E_beta``, or its prefix times its
last factor); ``j = 1`` needs none (``tr(A E_alpha)``). For the order-2 patterns of two copies (box ``(2, 2)``)
that is 10 products where the powers ``B^2`` to degree 3 took 20.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .jets import Box, Index, Jet

Chain = tuple[Index, ...]  # B_chain[0] B_chain[1] ...


@dataclass(frozen=True)
class TracePlan:
    """``log det(I + A E)`` for one box and support: ``linear`` the ``alpha`` with a ``tr(A E_alpha)`` term,
    ``traces`` the rows ``(alpha, weight, X, Y)`` adding ``weight tr(X Y)`` to coefficient ``alpha``, ``chains``
    every chain they read, each after its prefix (one matrix product apiece)."""

    linear: tuple[Index, ...]
    traces: tuple[tuple[Index, float, Chain, Chain], ...]
    chains: tuple[Chain, ...]


def _dihedral(sequence: Chain) -> list[Chain]:
    """Every rotation of the sequence and of its reverse (the factor orders with the same trace)."""
    out = []
    for s in (sequence, sequence[::-1]):
        out += [s[k:] + s[:k] for k in range(len(s))]
    return out


def _compositions(alpha: Index, parts: int, support: tuple[Index, ...]) -> list[Chain]:
    """Ordered ``(beta_1, .., beta_parts)`` from ``support`` (no zero index) summing to ``alpha``."""
    if parts == 1:
        return [(alpha,)] if alpha in support else []
    out = []
    for beta in support:
        rest = tuple(a - b for a, b in zip(alpha, beta))
        if min(rest) >= 0 and any(rest):
            out += [(beta,) + tail for tail in _compositions(rest, parts - 1, support)]
    return out


@lru_cache(maxsize=256)
def trace_plan(top: Index, support: tuple[Index, ...]) -> TracePlan:
    """The plan for ``E`` with nonzero coefficients on ``support`` (no zero index) in the box ``0 <= alpha <= top``."""
    box = Box(top)
    classes = []  # (length, alpha, canonical sequence, number of compositions)
    for alpha in box.indices[1:]:
        for j in range(2, sum(alpha) + 1):
            counted = Counter(min(_dihedral(c)) for c in _compositions(alpha, j, support))
            classes += [(j, alpha, sequence, n) for sequence, n in sorted(counted.items())]
    formed: dict[Chain, None] = {}  # insertion-ordered set: a chain after its prefixes
    traces = []
    for j, alpha, sequence, count in sorted(classes, key=lambda c: (c[0], sum(c[1]), c[1], c[2])):
        options = []
        for s in _dihedral(sequence):
            for k in range(1, j):
                needed = [(beta,) for beta in s] + [s[:m] for m in range(2, k + 1)]  # X's prefixes, then Y's
                needed += [s[k:k + m] for m in range(2, j - k + 1)]
                new = list(dict.fromkeys(c for c in needed if c not in formed))
                options.append(((len(new), sum(sum(map(sum, c)) for c in new), abs(j - 2 * k), s, k), new, s, k))
        _, new, s, k = min(options, key=lambda o: o[0])
        formed.update(dict.fromkeys(new))
        traces.append((alpha, (-1.0) ** (j + 1) / j * count, s[:k], s[k:]))
    linear = tuple(alpha for alpha in box.indices[1:] if alpha in support)
    return TracePlan(linear, tuple(traces), tuple(formed))


def log_det(A: np.ndarray, E: Jet) -> Jet:
    """``log det(I + A E)`` for symmetric ``A`` (``(P, P)``) and a symmetric matrix jet ``E`` without constant term
    (coefficients ``(..., P, P)``, batch axes first), by its ``trace_plan``."""
    plan = trace_plan(E.box.top, tuple(alpha for alpha in E.box.indices if alpha in E.coefficients))
    chains: dict[Chain, np.ndarray] = {}
    for chain in plan.chains:
        chains[chain] = A @ E[chain[0]] if len(chain) == 1 else chains[chain[:-1]] @ chains[chain[-1:]]
    out = {alpha: np.einsum("ij,...ij->...", A, E[alpha]) for alpha in plan.linear}  # tr(A E) = sum A * E, symmetric
    for alpha, weight, X, Y in plan.traces:
        term = weight * np.einsum("...ij,...ji->...", chains[X], chains[Y])
        out[alpha] = out[alpha] + term if alpha in out else term
    return Jet(E.box, out)
