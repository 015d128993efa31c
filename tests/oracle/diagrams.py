"""Diagrams: the terms of one insertion pattern, as wirings of noise copies, curvature and read-out.

With ``X^(l) = S_l(delta) - K_l`` and the layer map split into its Jacobian ``J_l`` and its
curvature ``R_l`` (the terms of degree >= 2 of its Taylor series),

    X^(l) = J_l X^(l-1) + R_l(X^(l-1)) + sum_{c at l} delta_c xi_c(K_{l-1} + X^(l-1))
          = sum_{s <= l} P_{l<-s} [ R_s(X^(s-1)) + sum_{c at s} delta_c xi_c(K_{s-1} + X^(s-1)) ],

``P_{l<-s} = J_l ... J_{s+1}`` the *propagator* (the identity for ``s = l``). Expanding the
read-out ``F(K_L + X^(L))`` recursively, every term of ``coef_{prod delta_c^{a_c}}`` is a
*diagram*: nodes, each with input positions and outputs, and an assignment of a source node
to every *consumer position* (a read-out letter or a node input), such that

- a **copy** node ``c`` (its noise at layer ``l_c``) feeds exactly ``a_c`` positions and has
  input positions at a multiset ``alpha`` of local label pairs: the Taylor term
  ``(d^alpha M_{a_c} / alpha!)(K_{l_c - 1})`` of its central moment, which is the expectation
  over the copy of its ``a_c`` noise factors, ``M_a(K + X) = E[prod_i xi_i]`` (the copy's law
  depends on the earlier copies only through ``X^(l_c - 1)``). Output ``i`` sits at labels
  ``(2i, 2i + 1)``.
- a **curvature** node at layer ``l`` with multi-index ``beta`` (``|beta| >= 2``) is the term
  ``c^beta_ab X_aa^beta1 X_bb^beta2 X_ab^beta3`` of ``R_l(X)_ab`` (labels ``a = 0``, ``b = 1``);
  it feeds one position.
- every source lies at a layer strictly below its consumer (the read-out takes any layer);
  copies of one group share a layer, groups are in increasing layer order.

Consumer positions are distinct (each factor of a product is expanded on its own), so each
labelled wiring is one term, with coefficient ``1``: the Taylor coefficients sit in the
operands. The weight ``w_pi`` (with its ``1/prod m_k!``) counts copies as labelled. Layers
are bound only at evaluation (``placements``), so a diagram serves every depth.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

from .patterns import Pattern

LocalPair = tuple[int, int]
Position = tuple[int, int]
"""A consumer position: ``(-1, k)`` is read-out letter ``k``; ``(n, k)`` is input ``k`` of node ``n``."""

LETTER = -1


@dataclass(frozen=True)
class Copy:
    """The noise of pattern copy ``copy`` with the Taylor term ``alpha`` of its central moment."""

    copy: int
    size: int
    alpha: tuple[LocalPair, ...]

    @property
    def inputs(self) -> tuple[LocalPair, ...]:
        return self.alpha

    @property
    def outputs(self) -> int:
        return self.size


@dataclass(frozen=True)
class Curvature:
    """The term ``c^beta X_aa^beta1 X_bb^beta2 X_ab^beta3`` of the layer map's curvature (labels a = 0, b = 1)."""

    beta: tuple[int, int, int]

    @property
    def inputs(self) -> tuple[LocalPair, ...]:
        return ((0, 0),) * self.beta[0] + ((1, 1),) * self.beta[1] + ((0, 1),) * self.beta[2]

    @property
    def outputs(self) -> int:
        return 1


Node = Copy | Curvature


@dataclass(frozen=True)
class Diagram:
    """One wiring of a pattern: ``sources[p]`` is the node feeding consumer position ``p``."""

    pattern: Pattern
    letters: int
    nodes: tuple[Node, ...]
    sources: tuple[tuple[Position, int], ...]

    @cached_property
    def source_of(self) -> dict[Position, int]:
        return dict(self.sources)

    @cached_property
    def consumers(self) -> tuple[tuple[Position, ...], ...]:
        """For every node, the positions it feeds, in canonical order: output ``i`` feeds the ``i``-th."""
        fed: list[list[Position]] = [[] for _ in self.nodes]
        for position, node in sorted(self.sources):
            fed[node].append(position)
        return tuple(tuple(p) for p in fed)

    @cached_property
    def order_of_evaluation(self) -> tuple[int, ...]:
        """Nodes with every source before its consumers (sources have lower layers)."""
        done: list[int] = []
        pending = list(range(len(self.nodes)))
        while pending:
            for n in pending:
                inputs = [self.source_of[(n, k)] for k in range(len(self.nodes[n].inputs))]
                if all(s in done for s in inputs):
                    done.append(n)
                    pending.remove(n)
                    break
        return tuple(done)

    def layer_constraints(self) -> list[tuple[int, int]]:
        """``(source, consumer)`` node pairs with ``layer(source) < layer(consumer)``."""
        return sorted({(s, n) for (n, _), s in self.sources if n != LETTER})


def _feasible(nodes: Sequence[Node], edges: set[tuple[int, int]], pattern: Pattern) -> bool:
    """Some layers satisfy every strict inequality: the graph of groups and curvature nodes is acyclic."""
    def vertex(n: int) -> tuple[str, int]:
        node = nodes[n]
        return ("group", pattern.copies[node.copy][0]) if isinstance(node, Copy) else ("node", n)

    graph: dict[tuple[str, int], set[tuple[str, int]]] = {}
    for g in range(len(pattern.groups) - 1):
        graph.setdefault(("group", g), set()).add(("group", g + 1))
    for s, n in edges:
        u, v = vertex(s), vertex(n)
        if u == v:
            return False
        graph.setdefault(u, set()).add(v)
    state: dict[tuple[str, int], int] = {}

    def acyclic_from(u: tuple[str, int]) -> bool:
        state[u] = 1
        for v in graph.get(u, ()):
            if state.get(v) == 1 or (v not in state and not acyclic_from(v)):
                return False
        state[u] = 2
        return True

    return all(acyclic_from(u) for u in list(graph) if u not in state)


def diagrams(
    pattern: Pattern,
    letters: int,
    curvatures: Sequence[tuple[int, int, int]],
    copy_inputs: dict[int, Sequence[tuple[LocalPair, ...]]],
) -> Iterator[Diagram]:
    """Every diagram of ``pattern`` with ``letters`` read-out letters (module docstring).

    ``curvatures``: the multi-indices ``beta`` with a non-zero curvature weight;
    ``copy_inputs[a]``: the non-empty ``alpha`` with a non-zero Taylor term of ``M_a`` (``()`` is implied).
    """
    sizes = [a for _, a in pattern.copies]
    total_outputs = sum(sizes)

    def search(nodes, sources, fed, opened, queue, edges):
        remaining = total_outputs - sum(fed[: len(sizes)])
        if len(queue) > remaining:
            return
        if not queue:
            if remaining == 0 and all(opened):
                yield Diagram(pattern, letters, tuple(nodes), tuple(sorted(sources.items())))
            return
        position, rest = queue[0], queue[1:]
        consumer = position[0]
        for c, a in enumerate(sizes):  # a copy's noise
            if fed[c] == a:
                continue
            new_edges = edges | ({(c, consumer)} if consumer != LETTER else set())
            if consumer != LETTER and not _feasible(nodes, new_edges, pattern):
                continue
            new_fed = fed[:c] + [fed[c] + 1] + fed[c + 1 :]
            new_sources = {**sources, position: c}
            if opened[c]:
                yield from search(nodes, new_sources, new_fed, opened, rest, new_edges)
                continue
            for alpha in ((),) + tuple(copy_inputs.get(a, ())):
                if len(alpha) + len(rest) > remaining - 1:
                    continue
                new_nodes = nodes[:c] + [Copy(c, a, alpha)] + nodes[c + 1 :]
                new_opened = opened[:c] + [True] + opened[c + 1 :]
                inputs = [(c, k) for k in range(len(alpha))]
                yield from search(new_nodes, new_sources, new_fed, new_opened, rest + inputs, new_edges)
        for beta in curvatures:  # a new curvature node
            n = len(nodes)
            if sum(beta) + len(rest) > remaining:
                continue
            new_nodes = nodes + [Curvature(beta)]
            new_edges = edges | ({(n, consumer)} if consumer != LETTER else set())
            if consumer != LETTER and not _feasible(new_nodes, new_edges, pattern):
                continue
            inputs = [(n, k) for k in range(sum(beta))]
            yield from search(new_nodes, {**sources, position: n}, fed + [1], opened, rest + inputs, new_edges)

    placeholders = [Copy(c, a, ()) for c, a in enumerate(sizes)]
    yield from search(placeholders, {}, [0] * len(sizes), [False] * len(sizes),
                      [(LETTER, k) for k in range(letters)], set())


def placements(diagram: Diagram, group_layers: Sequence[int], depth: int) -> Iterator[tuple[int, ...]]:
    """Layers of all nodes: copies at their group's layer, curvature nodes wherever the constraints allow."""
    nodes = diagram.nodes
    free = [n for n, node in enumerate(nodes) if isinstance(node, Curvature)]
    fixed = {n: group_layers[diagram.pattern.copies[node.copy][0]] for n, node in enumerate(nodes)
             if isinstance(node, Copy)}
    constraints = diagram.layer_constraints()
    for choice in itertools.product(range(1, depth + 1), repeat=len(free)):
        layers = {**fixed, **dict(zip(free, choice))}
        if all(layers[s] < layers[n] for s, n in constraints):
            yield tuple(layers[n] for n in range(len(nodes)))
