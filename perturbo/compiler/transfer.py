"""The one-layer transfer of the fluctuation's cumulants (docs/design.md section 3), derived for any order.

With ``X = S_{l-1} - K_{l-1}`` and ``X' = S_l - K_l``, the conditional cumulants of ``X'`` given ``X`` are

    kappa_1(X'_ab | X)          = mu_ab(X) = (J X)_ab + sum_{|beta| >= 2} c^beta_ab X_aa^beta1 X_bb^beta2 X_ab^beta3,
    kappa_r(X'_{e_1..e_r} | X)  = N^{1-r} sum_alpha Q_{r,alpha}(e_1..e_r) prod_{(p,q) in alpha} X_{l_p l_q},

``Q_{r,alpha}`` the Taylor coefficients of one copy's joint cumulant ``kappa_r(Y; K + X)``
(``moments``), exact for the mean of ``N`` iid copies. The law of total cumulance and the
cumulants of products (Leonov-Shiryaev) give

    kappa_n(X'_1..X'_n) = sum_{pi in Partitions(n)} sum_{t_B} prod_B coef(t_B)
                          sum_{sigma : sigma v rho = 1} prod_{S in sigma} kappa_|S|(X_f : f in S),

``t_B`` one monomial of block ``B``'s conditional cumulant, ``rho`` the grouping of all their
factors by block, and the connectivity condition ``sigma v rho = 1`` void for one block.
Since ``kappa_1(X) = O(1/n)`` and ``kappa_s(X) = O(n^{1-s})`` (``s >= 2``), a term is of order
``sum_B (|B| - 1) + sum_S max(1, |S| - 1)`` at least and is kept while that is ``<= K``.

A term is a tensor network over point indices: its output indices are the entries
``(a_i, b_i)`` of ``X'``; its operands are curvature weights ``c^beta``, noise coefficients
``Q_{r,alpha}`` and state cumulants ``kappa_s`` (the latter with the Jacobian applied on the
axes of the factors ``J X``). ``transfer_terms`` derives the list once per order; the
terms do not depend on the layer, the data or the activation beyond which ``beta`` and
``alpha`` are non-zero.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

Entry = tuple[str, str]
Beta = tuple[int, int, int]
LocalPair = tuple[int, int]


@dataclass(frozen=True)
class Weight:
    """Curvature weight ``c^beta`` on the entry ``(a, b)`` (``|beta| >= 2``)."""

    beta: Beta


@dataclass(frozen=True)
class Noise:
    """``Q_{r,alpha}``: the Taylor coefficient of one copy's joint cumulant over ``r`` entries."""

    r: int
    alpha: tuple[LocalPair, ...]


@dataclass(frozen=True)
class Factor:
    """One factor ``X_entry`` of a conditional cumulant's monomial; ``jacobian``: it is ``(J X)_entry``;
    ``spectator``: it is the entry ``X^(s)_entry`` of an earlier layer ``s`` (``spectator_terms``)."""

    entry: Entry
    jacobian: bool = False
    spectator: bool = False


@dataclass(frozen=True)
class State:
    """The state cumulant ``kappa_s`` over the entries of its factors."""

    factors: tuple[Factor, ...]


@dataclass(frozen=True)
class Term:
    """``multiplicity * prod operands`` on the ``outputs`` indices (an outer product with repeated indices,
    nothing is summed); noise carries ``N^-noise_power``."""

    outputs: tuple[Entry, ...]
    operands: tuple[tuple[Weight | Noise, tuple[str, ...]], ...]
    states: tuple[State, ...]
    noise_power: int
    multiplicity: int = 1

    @property
    def order(self) -> int:
        return self.noise_power + sum(lowest_row(len(s.factors)) for s in self.states)


def lowest_row(s: int) -> int:
    """``kappa_1 = O(1/n)``, ``kappa_s = O(n^{1-s})``: the first power of ``1/n`` a state cumulant can carry."""
    return max(1, s - 1)


def set_partitions(items: Sequence) -> Iterator[list[list]]:
    if not items:
        yield []
        return
    first, rest = items[0], list(items[1:])
    for smaller in set_partitions(rest):
        yield [[first]] + smaller
        for k in range(len(smaller)):
            yield smaller[:k] + [[first] + smaller[k]] + smaller[k + 1 :]


def bounded_partitions(n: int, budget: int) -> Iterator[list[list[int]]]:
    """Set partitions of ``range(n)`` whose blocks cost at most ``budget`` in all (block of size s: max(1, s-1))."""
    def rec(items: list[int], left: int) -> Iterator[list[list[int]]]:
        if not items:
            yield []
            return
        first, rest = items[0], items[1:]
        for size in range(len(rest) + 1):
            cost = max(1, size)
            if cost > left:
                break
            for partners in itertools.combinations(rest, size):
                others = [x for x in rest if x not in partners]
                if (len(others) + 1) // 2 > left - cost:
                    continue
                for tail in rec(others, left - cost):
                    yield [[first, *partners], *tail]
    yield from rec(list(range(n)), budget)


def _connected(sigma: list[list[int]], group_of: list[int], groups: int) -> bool:
    """Do the blocks of ``sigma`` link every group (``sigma v rho = 1``)?"""
    parent = list(range(groups))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for block in sigma:
        roots = {find(group_of[f]) for f in block}
        first = roots.pop()
        for r in roots:
            parent[r] = first
    return len({find(g) for g in range(groups)}) == 1


def _block_monomials(
    block: list[int], entries: list[Entry], curvatures: Sequence[Beta], noise_inputs: dict[int, Sequence[tuple]],
    budget: int,
) -> Iterator[tuple[tuple | None, list[Factor]]]:
    """Monomials of one block's conditional cumulant: ``(operand or None, factors)``; at most ``2 budget`` factors."""
    if len(block) == 1:
        a, b = entries[block[0]]
        yield None, [Factor((a, b), jacobian=True)]
        for beta in curvatures:
            if sum(beta) <= 2 * budget:
                factors = [Factor((a, a))] * beta[0] + [Factor((b, b))] * beta[1] + [Factor((a, b))] * beta[2]
                yield (Weight(beta), (a, b)), factors
        return
    r = len(block)
    labels = tuple(i for k in block for i in entries[k])
    for alpha in ((),) + tuple(noise_inputs.get(r, ())):
        if len(alpha) <= 2 * budget:
            yield (Noise(r, alpha), labels), [Factor((labels[p], labels[q])) for p, q in alpha]


SPECTATOR = Factor(("e0", "e1"), spectator=True)
"""The earlier layer's entry in a mixed cumulant ``kappa(X^(s)_e, X'_1..X'_n)``."""


@lru_cache(maxsize=None)
def transfer_terms(
    n: int, order: int, curvatures: tuple[Beta, ...], noise_inputs: tuple[tuple[int, tuple], ...],
    spectator: bool = False,
) -> tuple[Term, ...]:
    """The terms of ``kappa_n(X')`` of order ``<= order`` (module docstring).

    ``noise_inputs``: for each ``r``, the non-empty ``alpha`` with ``Q_{r,alpha} != 0``.

    ``spectator``: the terms of the mixed cumulant ``kappa(X^(s)_e, X'_1..X'_n)`` with an entry ``e`` of an
    earlier layer ``s`` instead. Given ``X^(s)`` and ``X`` (the chain is Markov) ``X^(s)_e`` is a constant, so
    its conditional cumulants are ``X^(s)_e`` alone, and it is one more group of one factor (``SPECTATOR``,
    output entry ``(e0, e1)``) that the state cumulants must connect to the others. A state cumulant holding
    it is a mixed cumulant of the previous layer; its order counts as for ``|S|`` factors.
    """
    inputs = dict(noise_inputs)
    entries = [(f"a{i}", f"b{i}") for i in range(n)]
    outputs = ((SPECTATOR.entry,) if spectator else ()) + tuple(entries)
    terms = []
    for pi in set_partitions(list(range(n))):
        groups = len(pi) + spectator
        noise_power = sum(len(block) - 1 for block in pi)
        budget = order - noise_power
        if budget < 0 or (groups > 1 and budget < 1):
            continue
        choices = [list(_block_monomials(block, entries, curvatures, inputs, budget)) for block in pi]
        for picked in itertools.product(*choices):
            factors = [f for _, fs in picked for f in fs] + ([SPECTATOR] if spectator else [])
            if (len(factors) + 1) // 2 > budget:
                continue
            group_of = [g for g, (_, fs) in enumerate(picked) for _ in fs] + ([len(pi)] if spectator else [])
            if groups > 1 and any(not fs for _, fs in picked):
                continue  # a constant has no joint cumulant with anything
            operands = tuple(op for op, _ in picked if op is not None)
            for sigma in bounded_partitions(len(factors), budget):
                states = tuple(State(tuple(factors[f] for f in block)) for block in sigma)
                term = Term(outputs, operands, states, noise_power)
                if term.order > order:
                    continue
                if groups > 1 and not _connected(sigma, group_of, groups):
                    continue
                terms.append(term)
    return merge(terms)


def _key(term: Term) -> tuple:
    """Equal keys, equal values: operands and state cumulants are symmetric, so their order does not matter."""
    operands = tuple(sorted(term.operands, key=repr))
    states = tuple(sorted((tuple(sorted(s.factors, key=repr)) for s in term.states), key=repr))
    return term.outputs, operands, states, term.noise_power


def merge(terms: Sequence[Term]) -> tuple[Term, ...]:
    """Add up terms with equal keys (``_key``)."""
    counts: dict[tuple, int] = {}
    for term in terms:
        key = _key(term)
        counts[key] = counts.get(key, 0) + term.multiplicity
    return tuple(
        Term(outputs, operands, tuple(State(f) for f in states), power, count)
        for (outputs, operands, states, power), count in counts.items()
    )


def noise_inputs(r: int, degree: int, phi_degree: int) -> tuple[tuple[LocalPair, ...], ...]:
    """The multisets ``alpha`` of local pairs of ``2r`` labels that can give a non-zero ``Q_{r,alpha}``:
    at most ``degree`` pairs, no label differentiated more than ``phi_degree`` times."""
    pairs = [(p, q) for p in range(2 * r) for q in range(p, 2 * r)]
    out = []
    for k in range(1, degree + 1):
        for alpha in itertools.combinations_with_replacement(pairs, k):
            counts = [0] * (2 * r)
            for p, q in alpha:
                counts[p] += 1
                counts[q] += 1
            if max(counts) <= phi_degree:
                out.append(alpha)
    return tuple(out)


@lru_cache(maxsize=64)
def _terms_by_output(order: int, curvatures: tuple[Beta, ...], phi_degree: int) -> dict[int, tuple[Term, ...]]:
    inputs = tuple((r, noise_inputs(r, 2 * (order - r + 1), phi_degree)) for r in range(2, order + 2))
    return {n: transfer_terms(n, order, curvatures, inputs) for n in range(1, order + 2)}


@lru_cache(maxsize=64)
def _spectator_terms_by_output(order: int, curvatures: tuple[Beta, ...], phi_degree: int) -> dict[int, tuple[Term, ...]]:
    inputs = tuple((r, noise_inputs(r, 2 * (order - r + 1), phi_degree)) for r in range(2, order + 2))
    return {n: transfer_terms(n, order, curvatures, inputs, spectator=True) for n in range(1, order + 1)}


def transfer_terms_for(phi, local_map, order: int, spectator: bool = False) -> dict[int, tuple[Term, ...]]:
    """``n -> transfer terms of kappa_n`` for one activation (its curvature and its degree decide which exist);
    ``spectator``: of the mixed cumulants ``kappa(X^(s)_e, X'_1..X'_n)``, ``n = 1..order``."""
    import sympy as sp

    from ..activation import t

    by_output = _spectator_terms_by_output if spectator else _terms_by_output
    return by_output(order, local_map.curvatures, sp.Poly(phi, t).degree())
