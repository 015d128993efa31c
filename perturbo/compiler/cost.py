"""Which lowering, at what cost: the plan of one compiled evaluation.

Costs are estimates from the term counts and array sizes, calibrated on this 2-core machine:

    dense     time  ~ 2e-8 s * L * sum_n (terms of kappa_n) * M^(2n),
              memory ~ 32 bytes * (order + 1) * M^(2 order + 2)   (state, next state, temporaries);
    factored  order 1 only, from ``FACTORED_FROM_POINTS`` points (or when requested); time ~ L * M^4 flops at BLAS speed,
              memory O(M^2), plus a generated module per activation (cached on disk);
    scale     phi linear, every order: one eigendecomposition and series in one scalar, O(P^3 + P T^2 K).
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..problem import Problem
from .layer_maps import LocalMap
from .scale import linear_slope
from .transfer import transfer_terms_for

DENSE_MEMORY_LIMIT = 4e9
"""Bytes; a dense evaluation above this is refused with a clear message."""

FACTORED_FROM_POINTS = 12
"""Order 1 on fewer points runs dense: it needs no generated module (a degree-7 activation's module takes
about two minutes to derive and compile the first time) and takes well under a second there."""

LOWERINGS = ("dense", "factored", "scale")

SECONDS_PER_ELEMENT = 2e-8
FLOPS = 1.5e10


@dataclass(frozen=True)
class Plan:
    lowering: str  # "dense" | "factored" | "scale"
    seconds: float
    memory: float

    def describe(self) -> str:
        return f"{self.lowering} lowering, about {self.seconds:.2g} s and {self.memory / 1e6:.3g} MB"


@dataclass(frozen=True)
class Size:
    """What the cost depends on: the activation, the number of points (training plus test), the order, the depth."""

    phi: sp.Expr
    sigma_w2: sp.Rational
    points: int
    order: int
    depth: int

    @classmethod
    def of(cls, problem: Problem) -> Size:
        return cls(problem.phi, problem.sigma_w2, len(problem.kernels[-1]), problem.order, len(problem.widths))


def term_classes(size: Size) -> list[tuple[int, int, float]]:
    """``(n, terms, elements)`` per output cumulant ``kappa_n``: its derived transfer terms, each an outer
    product over ``M^(2n)`` entries per layer (the dense lowering's work)."""
    terms = transfer_terms_for(size.phi, LocalMap(size.phi, size.sigma_w2), size.order)
    return [(n, len(terms[n]), float(size.points) ** (2 * n)) for n in sorted(terms)]


def dense_cost(size: Size) -> tuple[float, float]:
    """``(seconds, bytes)`` of the dense lowering."""
    seconds = SECONDS_PER_ELEMENT * size.depth * sum(count * elements for _, count, elements in term_classes(size))
    return seconds, 32.0 * (size.order + 1) * float(size.points) ** (2 * size.order + 2)


def check_lowering(lowering: str | None, size: Size) -> None:
    """A requested lowering must exist and apply: ``factored`` is the first order's, ``scale`` linear maps'."""
    if lowering is None:
        return
    if lowering not in LOWERINGS:
        raise ValueError(f"lowering must be None (chosen by cost) or one of {', '.join(LOWERINGS)}, not {lowering!r}")
    if lowering == "factored" and size.order != 1:
        raise ValueError(f"the factored lowering is the first order's: order {size.order} needs 'dense' (or None)")
    if lowering == "scale" and linear_slope(size.phi) is None:
        raise ValueError(f"the scale lowering needs a linear activation, not phi(t) = {size.phi}: use 'dense' or None")


def plan_for(size: Size, lowering: str | None = None) -> Plan:
    """The lowering for ``size`` (the cheapest, or the one requested); ``ValueError`` (with the numbers) when it
    is not practical."""
    check_lowering(lowering, size)
    M, order, L = size.points, size.order, size.depth
    if lowering == "scale" or (lowering is None and linear_slope(size.phi) is not None):
        return Plan("scale", 1e-3 + float(M) ** 3 / FLOPS, 8.0 * (2 * order + 3) * M * M)
    seconds, memory = dense_cost(size)
    if lowering == "factored" or (lowering is None and order == 1 and M >= FACTORED_FROM_POINTS):
        return Plan("factored", 2.0 * L * float(M) ** 4 / FLOPS, 64.0 * M * M)
    if memory > DENSE_MEMORY_LIMIT:
        raise ValueError(
            f"an exact order-{order} evaluation on {M} points (training plus test) needs about "
            f"{memory / 1e9:.3g} GB and {seconds:.3g} s: use a lower order, fewer points, or predict fewer test "
            "points at a time"
        )
    return Plan("dense", seconds, memory)


def plan(problem: Problem) -> Plan:
    """``plan_for`` the problem's size and requested lowering."""
    return plan_for(Size.of(problem), problem.lowering)
