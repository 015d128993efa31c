"""Contraction order: split networks into shared components and plan each one.

A network is a product of *connected components* (operands linked by summed
indices). Components recur across networks and outputs (the evidence part of
``z m_x`` is the evidence network times ``m_x``), so each distinct component is
evaluated once and networks combine the values over their free indices.

Each component is evaluated by variable elimination (``elimination_program``):
factors on the same points are first multiplied elementwise, then the summed
indices are eliminated one at a time in the cheapest order (exhaustive: at most
four indices), each step one ``einsum`` that NumPy hands to BLAS. Eliminating an
index with two summed neighbours is a matrix product, ``O(n^3)``. A component whose
summed indices form the complete graph on four points (treewidth 3; the cubic's
noise covariance creates these) is *sliced*: a loop over one index of triangle
contractions, ``O(n^4)`` time in ``O(n^2)`` memory, instead of an ``O(n^3)`` intermediate.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..ir.networks import Network, Operand, canonical

PLANNING_SIZES = {"summed": 200, "free": 10}
"""Sizes at which elimination orders are compared: data points and test points."""


@dataclass(frozen=True)
class Component:
    operands: tuple[Operand, ...]

    @property
    def free(self) -> tuple[str, ...]:
        return Network(Fraction(1), self.operands).free

    @property
    def summed(self) -> tuple[str, ...]:
        return Network(Fraction(1), self.operands).summed

    @property
    def subscripts(self) -> str:
        return ",".join("".join(idx) for _, idx in self.operands) + "->" + "".join(self.free)

    @property
    def is_complete_on_four(self) -> bool:
        summed = self.summed
        pairs = {frozenset(p) for _, idx in self.operands for p in itertools.combinations(idx, 2)}
        return len(summed) == 4 and all(frozenset(p) in pairs for p in itertools.combinations(summed, 2))


def components(network: Network) -> list[Component]:
    """The connected components of a network, each in canonical form."""
    groups: list[tuple[set[str], list[Operand]]] = []
    for operand in network.operands:
        summed = {i for i in operand[1] if not i.isupper()}
        joined = [g for g in groups if g[0] & summed]
        merged_indices, merged_ops = set(summed), [operand]
        for g in joined:
            merged_indices |= g[0]
            merged_ops += g[1]
            groups.remove(g)
        groups.append((merged_indices, merged_ops))
    return [Component(canonical(Network(Fraction(1), tuple(ops))).operands) for _, ops in groups]


def scalar_operands(network: Network, constants: set[str]) -> Network:
    """Drop the indices of operands that are constant matrices (e.g. a linear layer's ``G^(1,1)``).

    A constant matrix carries no graph edge, so removing it lowers the contraction cost.
    """
    return Network(
        network.coefficient,
        tuple((name, ()) if name in constants else (name, idx) for name, idx in network.operands),
    )


def _step_cost(eliminated: str, neighbours: set[str]) -> int:
    cost = PLANNING_SIZES["summed"]
    for i in neighbours:
        cost *= PLANNING_SIZES["free" if i.isupper() else "summed"]
    return cost


def elimination_order(operands: list[tuple[str, tuple[str, ...]]], free: tuple[str, ...]) -> tuple[str, ...]:
    """The order of summed indices with the least total cost (exhaustive search)."""
    summed = sorted({i for _, idx in operands for i in idx if i not in free})
    best, best_cost = (), None
    for order in itertools.permutations(summed):
        index_sets = [set(idx) for _, idx in operands]
        cost = 0
        for v in order:
            touching = [s for s in index_sets if v in s]
            neighbours = set().union(*touching) - {v}
            cost += _step_cost(v, neighbours)
            index_sets = [s for s in index_sets if v not in s] + [neighbours]
        if best_cost is None or cost < best_cost:
            best, best_cost = order, cost
    return best


def elimination_program(
    operands: list[tuple[str, tuple[str, ...]]], free: tuple[str, ...], prefix: str
) -> tuple[list[str], str]:
    """Python lines evaluating ``sum prod operands`` (expressions with index tuples) and the result variable.

    Step 1 fuses operands on the same index set; step 2 eliminates summed indices
    in ``elimination_order``; step 3 multiplies what remains into the free indices.
    """
    lines: list[str] = []
    counter = itertools.count()

    def emit(inputs: list[tuple[str, tuple[str, ...]]], out: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
        name = f"{prefix}{next(counter)}"
        subscripts = ",".join("".join(idx) for _, idx in inputs) + "->" + "".join(out)
        args = ", ".join(expr for expr, _ in inputs)
        summing = len(inputs) > 1 and set().union(*(set(idx) for _, idx in inputs)) - set(out)
        optimize = ", optimize=True" if summing else ""  # NumPy hands summed pairs to BLAS only when optimising
        lines.append(f"{name} = np.einsum({subscripts!r}, {args}{optimize})")
        return name, out

    fused: dict[frozenset[str], list[tuple[str, tuple[str, ...]]]] = {}
    for expr, idx in operands:
        fused.setdefault(frozenset(idx), []).append((expr, idx))
    current = []
    for key, group in fused.items():
        if len(group) == 1 or not key:
            current += group
        else:
            current.append(emit(group, group[0][1]))
    for v in elimination_order(current, free):
        touching = [op for op in current if v in op[1]]
        rest = [op for op in current if v not in op[1]]
        kept = tuple(sorted({i for _, idx in touching for i in idx} - {v}))
        new = emit(touching, kept)
        same = [op for op in rest if set(op[1]) == set(kept) and op[1]]
        if same:
            rest = [op for op in rest if op not in same]
            new = emit([new] + same, kept)
        current = rest + [new]
    result = emit(current, free) if len(current) > 1 or current[0][1] != free else current[0]
    return lines, result[0]
