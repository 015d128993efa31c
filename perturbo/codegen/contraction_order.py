"""Contraction order: split networks into shared components and plan each one.

A network is a product of *connected components* (operands linked by summed
indices). Components recur across networks and outputs (the evidence part of
``z m_x`` is the evidence network times ``m_x``), so each distinct component is
evaluated once and networks combine the values over their free indices.

Each component is evaluated by variable elimination (``elimination_program``):
factors on the same points are first multiplied elementwise, then the summed
indices are eliminated one at a time in the cheapest order (exhaustive: at most
four indices), each step a matrix product (``@``, BLAS) where it is one, else an
``einsum`` (``step_expression``). Eliminating an index with two summed neighbours is a
matrix product, ``O(n^3)``.

A component whose summed indices form the complete graph on four points (treewidth 3;
the cubic's noise covariance creates these) is *sliced*: one index ``a`` is taken a block
of values at a time, and the first index ``b`` eliminated is a *star*
``sum_b prod (operands touching b)``, an ``(a, c, d)`` array from one matrix product per
block: the ``O(n^4)`` part, in ``O(n^2)`` memory. Many complete-graph components differ
only away from ``b``, so they are grouped by a common star (``shared_stars``) and evaluated
together (``shared_star_program``): per block, the star once and each component's sum over
``a`` (one ``O(n^3)`` pass), accumulated over the blocks; after the loop, each component's
remaining ``O(n^2)`` elimination of ``c`` and ``d``.

Components also repeat each other's steps (``C1 * y.A`` starts hundreds of them): a step
that more than one component computes is hoisted into a named *shared step*
(``share_steps``), evaluated once per layer on first use.
"""
from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..ir.networks import Network, Operand, canonical, normal_operand

PLANNING_SIZES = {"summed": 200, "free": 10}
"""Sizes at which elimination orders are compared: data points and test points."""

SLICE_ENTRIES = 2**18
"""A sliced loop takes ``max(1, SLICE_ENTRIES // n^2)`` values of its index per step (arrays of 2 MB)."""


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


def connected_groups(operands: Iterable[Operand]) -> list[list[Operand]]:
    """Operands linked by shared summed (lower-case) indices; one without summed indices is a group alone."""
    groups: list[tuple[set[str], list[Operand]]] = []
    for operand in operands:
        summed = {i for i in operand[1] if not i.isupper()}
        joined = [g for g in groups if g[0] & summed]
        merged_indices, merged_ops = set(summed), [operand]
        for g in joined:
            merged_indices |= g[0]
            merged_ops += g[1]
            groups.remove(g)
        groups.append((merged_indices, merged_ops))
    return [ops for _, ops in groups]


def components(network: Network) -> list[Component]:
    """The connected components of a network, each in canonical form."""
    groups = connected_groups(network.operands)
    return [Component(canonical(Network(Fraction(1), tuple(ops))).operands) for ops in groups]


def scalar_operands(network: Network, constants: set) -> Network:
    """Drop the indices of operands that are constant matrices (e.g. a linear layer's ``G^(1,1)``).

    A constant matrix carries no graph edge, so removing it lowers the contraction cost.
    """
    return Network(
        network.coefficient,
        tuple((key, ()) if key in constants else (key, idx) for key, idx in network.operands),
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


def _matmul(inputs: list[tuple[str, tuple[str, ...]]], out: tuple[str, ...]) -> str | None:
    """``X @ Y`` for two matrices or vectors summed over their one shared index, else ``None``."""
    if len(inputs) != 2 or any(len(idx) > 2 for _, idx in inputs):
        return None
    (x, ix), (y, iy) = inputs
    shared = set(ix) & set(iy)
    if len(shared) != 1 or set(out) != (set(ix) | set(iy)) - shared:
        return None
    if len(out) == 2 and out[0] in iy:
        (x, ix), (y, iy) = (y, iy), (x, ix)
    (v,) = shared
    return f"{x if ix[-1] == v else x + '.T'} @ {y if iy[0] == v else y + '.T'}"


def step_expression(inputs: list[tuple[str, tuple[str, ...]]], out: tuple[str, ...]) -> str:
    """NumPy for ``out <- sum prod inputs``: a matrix product, an elementwise product or an ``einsum``.

    ``einsum`` hands summed pairs to BLAS only when optimising, which costs tens of microseconds
    per call: worth it only where its plain loop over all indices would take more than ``O(n^2)``
    and more than one pass over the largest array (a contraction, not a weighted sum).
    """
    product = _matmul(inputs, out)
    if product:
        return product
    if len(inputs) > 1 and all(idx == out for _, idx in inputs):
        return " * ".join(expr for expr, _ in inputs)
    subscripts = ",".join("".join(idx) for _, idx in inputs) + "->" + "".join(out)
    size = lambda indices: np.prod([PLANNING_SIZES["free" if i.isupper() else "summed"] for i in set(indices)])
    largest = max(size(idx) for idx in [out] + [idx for _, idx in inputs])
    loop = size(itertools.chain(*(idx for _, idx in inputs)))
    blas = len(inputs) > 1 and loop > max(largest, PLANNING_SIZES["summed"] ** 2)
    return f"np.einsum({subscripts!r}, {', '.join(expr for expr, _ in inputs)}{', optimize=True' if blas else ''})"


def _hosts(operands: list[tuple[str, tuple[str, ...]]]) -> list[list[tuple[str, tuple[str, ...]]]]:
    """The operands grouped under the first (largest first) whose indices contain their own."""
    hosts: list[list[tuple[str, tuple[str, ...]]]] = []
    for op in sorted(operands, key=lambda op: -len(op[1])):
        host = next((h for h in hosts if set(op[1]) <= set(h[0][1])), None)
        if host is None:
            hosts.append([op])
        else:
            host.append(op)
    return hosts


def elimination_program(
    operands: list[tuple[str, tuple[str, ...]]], free: tuple[str, ...], prefix: str
) -> tuple[list[str], str]:
    """Python lines evaluating ``sum prod operands`` (expressions with index tuples) and the result variable.

    Step 1 fuses operands on the same index set; step 2 eliminates summed indices
    in ``elimination_order`` (where more than two operands touch the index, each is first
    multiplied into one whose indices contain its own, so that most steps are one matrix
    product); step 3 multiplies what remains into the free indices.
    """
    lines: list[str] = []
    counter = itertools.count()

    def emit(inputs: list[tuple[str, tuple[str, ...]]], out: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
        name = f"{prefix}{next(counter)}"
        lines.append(f"{name} = {step_expression(inputs, out)}")
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
        if len(touching) > 2:
            touching = [emit(h, h[0][1]) if len(h) > 1 else h[0] for h in _hosts(touching)]
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


@dataclass(frozen=True)
class SharedStar:
    """Complete-graph components sharing a star, relabelled so that ``a`` is sliced and ``b`` the star's centre.

    ``star``: the operands touching ``b``; ``members``: each component with its other operands.
    """

    star: tuple[Operand, ...]
    members: tuple[tuple[Component, tuple[Operand, ...]], ...]


def _star_options(component: Component) -> dict[tuple[Operand, ...], tuple[Operand, ...]]:
    """Every choice of sliced index, centre and arms ``c``, ``d``: star operands -> remaining operands.

    Only the choices with the fewest free indices on the centre, then on the sliced index, are
    kept: a free index on the star multiplies its cost, and one on ``a`` the memory of its sums.
    """
    options: dict[tuple[int, int], dict[tuple[Operand, ...], tuple[Operand, ...]]] = {}
    summed = component.summed
    for sliced, centre in itertools.permutations(summed, 2):
        arms = [i for i in summed if i not in (sliced, centre)]
        free = [sum(i.isupper() for _, idx in component.operands if v in idx for i in idx) for v in (centre, sliced)]
        for c, d in (arms, arms[::-1]):
            rename = {sliced: "a", centre: "b", c: "c", d: "d"}
            ops = [normal_operand(key, tuple(rename.get(i, i) for i in idx)) for key, idx in component.operands]
            star = tuple(sorted(op for op in ops if "b" in op[1]))
            options.setdefault(tuple(free), {}).setdefault(star, tuple(op for op in ops if "b" not in op[1]))
    return options[min(options)]


def shared_stars(complete: list[Component]) -> list[SharedStar]:
    """Complete-graph components grouped greedily by a common star, the star of most components first (ties: the
    larger star); the counts of the components not yet grouped are kept up to date as groups are taken."""
    options = {component: _star_options(component) for component in complete}
    counts = Counter(star for component in complete for star in options[component])
    having: dict[tuple[Operand, ...], list[Component]] = {}
    for component in complete:
        for star in options[component]:
            having.setdefault(star, []).append(component)
    groups, grouped = [], set()
    while counts:
        star = max(counts, key=lambda s: (counts[s], s))
        members = [c for c in having[star] if c not in grouped]
        groups.append(SharedStar(star, tuple((c, options[c][star]) for c in members)))
        grouped.update(members)
        counts.subtract(s for c in members for s in options[c])
        counts = +counts  # drops the stars no component left offers
    return groups


def _sliced(operands: tuple[Operand, ...]) -> list[tuple[str, tuple[str, ...]]]:
    """Operand expressions of ``o`` with the block ``a_:a_ + step`` of the sliced index ``a``."""
    picks = lambda idx: ", ".join("a_:a_ + step" if i == "a" else ":" for i in idx)
    return [(f"o[{key.name!r}][{picks(idx)}]" if "a" in idx else f"o[{key.name!r}]", idx) for key, idx in operands]


def _without_repeats(lines: list[str]) -> tuple[list[str], dict[str, str]]:
    """Drop each line computing what an earlier line computes; the names of dropped lines -> the kept ones."""
    seen: dict[str, str] = {}
    alias: dict[str, str] = {}
    kept = []
    for line in lines:
        target, expression = line.split(" = ", 1)
        expression = re.sub(r"\b\w+\b", lambda m: alias.get(m.group(0), m.group(0)), expression)
        if expression in seen:
            alias[target] = seen[expression]
        else:
            seen[expression] = target
            kept.append(f"{target} = {expression}")
    return kept, alias


@dataclass(frozen=True)
class StarProgram:
    """A shared star's loop: ``before`` it, ``loop`` (per block of ``a``), ``after`` it; each member's result."""

    before: list[str]
    loop: list[str]
    after: list[str]
    results: list[str]


def shared_star_program(group: SharedStar) -> StarProgram:
    """The star, then for each member the sum over ``a`` of the star times the member's operands on ``a``.

    The loop over blocks of ``a`` computes the star (``O(n^4)``, BLAS) and accumulates each distinct
    sum (one ``O(n^3)`` pass); after the loop each member eliminates ``c`` and ``d`` from its sum.
    A star line independent of the block is hoisted before the loop; a member line repeating an
    earlier one is dropped.
    """
    star_free = tuple(sorted({i for _, idx in group.star for i in idx} - {"b"}))
    star_lines, star = elimination_program(_sliced(group.star), star_free, "star")
    before, loop, dependent = [], [], {"a_"}
    for line in star_lines:
        target, expression = line.split(" = ", 1)
        if any(re.search(rf"\b{v}\b", expression) for v in dependent):
            loop.append(line)
            dependent.add(target)
        else:
            before.append(line)
    products: dict[str, str] = {}
    sums: dict[str, str] = {}
    after: list[str] = []
    results = []
    for k, (component, rest) in enumerate(group.members):
        on_a = _sliced(tuple(sorted(op for op in rest if "a" in op[1])))
        factors = [(star, star_free)]  # operands on the same indices multiplied first: einsum is slow beyond three
        for host in _hosts(on_a):
            product = step_expression(host, host[0][1])
            factors.append((products.setdefault(product, f"e{len(products)}"), host[0][1]) if len(host) > 1 else host[0])
        kept = tuple(sorted({i for _, idx in factors for i in idx} - {"a"}))
        total = sums.setdefault(step_expression(factors, kept), f"u{len(sums)}")
        others = _sliced(tuple(op for op in rest if "a" not in op[1]))
        lines, result = elimination_program([(total, kept)] + others, component.free, f"r{k}_")
        after += lines
        results.append(result)
    loop += [f"{name} = {expression}" for expression, name in products.items()]
    loop += [f"{name} += {expression}" for expression, name in sums.items()]
    before += [f"{name} = 0.0" for name in sums.values()]
    after, alias = _without_repeats(after)
    return StarProgram(before, loop, after, [alias.get(r, r) for r in results])


StepLines = tuple[list[str], str]
"""Python lines ``name = expression`` and the variable holding the result."""


def share_steps(programs: dict[int, StepLines], temporary: str = "t") -> tuple[dict[str, str], dict[int, StepLines]]:
    """Hoist the steps that several programs compute into shared steps ``o['s0']``, ``o['s1']``, ...

    Two lines compute the same thing when their expressions agree once each temporary is
    replaced by the step that defines it (structural keys, interned). Returns the shared
    steps (name -> expression, each using only operands and earlier shared steps) and the
    programs with their shared lines replaced by references ``o['sK']``.
    """
    pattern = re.compile(rf"\b{temporary}\d+\b")
    interned: dict[str, int] = {}
    keyed: dict[int, list[tuple[str, int, str]]] = {}
    users: Counter[int] = Counter()
    for number, (lines, _) in programs.items():
        local: dict[str, int] = {}
        rows = []
        for line in lines:
            target, expression = line.split(" = ", 1)
            key = pattern.sub(lambda m: f"#{local[m.group(0)]}", expression)
            local[target] = interned.setdefault(key, len(interned))
            rows.append((target, local[target], expression))
        keyed[number] = rows
        users.update({key for _, key, _ in rows})
    names: dict[int, str] = {}
    steps: dict[str, str] = {}
    shared: dict[int, StepLines] = {}
    for number, rows in keyed.items():
        rename: dict[str, str] = {}
        kept = []
        for target, key, expression in rows:
            expression = pattern.sub(lambda m: rename[m.group(0)], expression)
            if users[key] > 1:
                if key not in names:
                    names[key] = f"s{len(names)}"
                    steps[names[key]] = expression
                rename[target] = f"o[{names[key]!r}]"
            else:
                rename[target] = target
                kept.append(f"{target} = {expression}")
        result = programs[number][1]
        shared[number] = (kept, rename.get(result, result))
    return steps, shared


def steps_used(lines: list[str], steps: dict[str, str]) -> tuple[str, ...]:
    """The shared steps that ``lines`` need, directly or through other shared steps, in order."""
    needed: set[str] = set()
    pending = [m for line in lines for m in re.findall(r"o\['(s\d+)'\]", line)]
    while pending:
        name = pending.pop()
        if name in steps and name not in needed:
            needed.add(name)
            pending += re.findall(r"o\['(s\d+)'\]", steps[name])
    return tuple(sorted(needed, key=lambda n: int(n[1:])))
