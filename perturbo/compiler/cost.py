"""Which lowering, at what cost: the plan of one compiled evaluation.

Costs are estimates from the term counts and array sizes, calibrated on this 2-core machine:

    dense     time  ~ 2e-8 s * L * sum_n (terms of kappa_n) * M^(2n),
              memory ~ 32 bytes * (order + 1) * M^(2 order + 2)   (state, next state, temporaries);
    factored  order 1 only; time ~ L * M^4 flops at BLAS speed, memory O(M^2);
    words     phi linear; time independent of M once derived (a few closed words, O(M^3) each).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..backends import Problem
from .layer_maps import LocalMap
from .transfer import transfer_terms_for
from .words import linear_slope

DENSE_MEMORY_LIMIT = 4e9
"""Bytes; a dense evaluation above this is refused with a clear message."""

WORD_ORDERS = (1, 2, 3)
"""Orders whose word-algebra derivation is practical (order 3: minutes, once, cached in the process)."""

SECONDS_PER_ELEMENT = 2e-8
FLOPS = 1.5e10


@dataclass(frozen=True)
class Plan:
    lowering: str  # "dense" | "factored" | "words"
    seconds: float
    memory: float

    def describe(self) -> str:
        return f"{self.lowering} lowering, about {self.seconds:.2g} s and {self.memory / 1e6:.3g} MB"


def dense_cost(problem: Problem) -> tuple[float, float]:
    """``(seconds, bytes)`` of the dense lowering."""
    M, order, L = len(problem.kernels[-1]), problem.order, len(problem.widths)
    terms = transfer_terms_for(problem.phi, LocalMap(problem.phi, problem.sigma_w2), order)
    seconds = SECONDS_PER_ELEMENT * L * sum(len(terms[n]) * float(M) ** (2 * n) for n in terms)
    return seconds, 32.0 * (order + 1) * float(M) ** (2 * order + 2)


def plan(problem: Problem) -> Plan:
    """The lowering for ``problem``; ``ValueError`` (with the numbers) when none is practical."""
    M, order, L = len(problem.kernels[-1]), problem.order, len(problem.widths)
    if order == 1:
        return Plan("factored", 2.0 * L * float(M) ** 4 / FLOPS, 64.0 * M * M)
    seconds, memory = dense_cost(problem)
    if linear_slope(problem.phi) is not None and order in WORD_ORDERS and memory > 1e8:
        return Plan("words", 1.0 + 1e-9 * float(M) ** 3, 64.0 * M * M)
    if memory > DENSE_MEMORY_LIMIT:
        raise ValueError(
            f"an exact order-{order} evaluation on {M} points (training plus test) needs about "
            f"{memory / 1e9:.3g} GB and {seconds:.3g} s: use a lower order, fewer points, or predict fewer test "
            "points at a time"
        )
    return Plan("dense", seconds, memory)
