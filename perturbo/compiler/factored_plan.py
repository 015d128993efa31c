"""The factored first order as plain data: its networks, lowered to pairwise steps, rewritten by passes.

``ir.networks`` writes the first order as networks of pair kernels (about 2,000 for the cubic). Lowering them is
a sequence of named passes, each taking plain data and giving plain data (``stages`` returns every form):

1. ``networks``     derive the networks of each read-out (``z``, ``z m_x``, ``z (C + m m^T)``) from the local
                    algebra's shape (``NetworkShape``: which kernels are non-zero, not their values); a constant
                    matrix (a linear map's ``G^(1,1)``) loses its indices (a scalar);
2. ``paths``        split every network into pairwise steps along ``opt_einsum``'s dynamic-programming path,
                    planned for ``PLANNED_SIZES`` (the sizes the first order is used at), and merge equal steps
                    (``readout._PlanBuilder``: canonical subscripts, each distinct step once). The cubic's
                    networks touch four points through a complete graph of ``K``'s, so some steps loop over
                    ``M^4`` entries;
3. ``stars``        rewrite each such step as a canonical *star* ``S_pqr = sum_s X_ps Y_qs Z_rs`` (each spoke the
                    Hadamard product of the matrices meeting at ``s``, sorted; ``K^n/n!`` and ``A`` read in
                    either orientation) followed by its ``O(M^3)`` rest, so that networks sharing a star share
                    its ``M^4`` product (the cubic: 20 distinct ``M^4`` steps before, 15 after);
4. ``slicing``      group every intermediate with three or more point axes (``M^3`` entries) with the steps
                    that make and use it into a loop over blocks of one point axis (``SlicedLoop``), so no such
                    array is ever whole: ``O(block M^2)`` memory.

``FactoredPlan.schedule`` orders the steps and loops, and ``factored.run_networks`` runs them (``pairwise``: each
step lowered once to a matrix product, a broadcast product or ``einsum``).
"""
from __future__ import annotations

import heapq
import json
import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import opt_einsum
import sympy as sp

from ..ir.networks import (Closed, End, Hadamard, Kernel, MeanShift, Network, OperandKey, Run, linear_networks,
                           quadratic_networks, scalar_operands)
from ..ir.words import part_of_degree, readout_words
from ..progress import progress
from ..symbolic.derivative_kernels import local_algebra
from .pairwise import lowered
from .readout import OUTPUTS, _PlanBuilder, released_after

PLANNED_SIZES = {"point": 200, "test": 10}
"""The index sizes the paths are planned for (the first order's use: hundreds of points, a few test points)."""

Step = tuple[int, int, str]  # (left node, right node or -1, canonical subscripts)
OPERAND_KINDS = {kind.__name__: kind for kind in (Kernel, Hadamard, MeanShift, Run, End, Closed)}


@dataclass(frozen=True)
class NetworkShape:
    """What the first order's networks depend on (never the activation's coefficients): the derivative kernels
    ``G^(i,j)`` that can be non-zero, the most derivatives one point of a pair function carries, and the kernels
    that are constants (a linear map's). Every cubic shaping has the same shape, so one plan serves them all."""

    nonzero: tuple[tuple[int, int], ...]
    max_vertex_derivative: int
    constants: tuple[tuple[int, int], ...]


def network_shape(phi: sp.Expr, sigma_w2: sp.Expr) -> NetworkShape:
    algebra = local_algebra(phi, sigma_w2)
    nonzero = set(algebra.kernels)
    if algebra.jacobian[1] != 0:  # U = 0 above every layer when dm_ab/dS_aa = 0 (a linear map)
        nonzero |= {(i, 0) for i in algebra.square_derivatives}
    nonzero |= {(j, i) for i, j in nonzero}
    constants = {key for key, e in algebra.kernels.items() if algebra.map_is_linear and e.is_number}
    return NetworkShape(tuple(sorted(nonzero)), algebra.max_vertex_derivative, tuple(sorted(constants)))


@lru_cache(maxsize=32)
def factored_networks(shape: NetworkShape, tested: bool) -> dict[str, dict[str, list[Network]]]:
    """``output -> {"quadratic": networks of E[Q(J Y)], "linear": networks of g . mu}`` (``ir.networks``) of ``z``
    alone, or of all three read-outs where ``tested``, with the constant matrices as scalars (``scalar_operands``)."""
    constants = {Kernel(i, j) for i, j in shape.constants}
    networks = {}
    words = readout_words(2)
    outputs = OUTPUTS if tested else ("z",)
    with progress(len(outputs), "deriving the first order's networks") as bar:
        for output in outputs:
            poly = words[output]
            quadratic = quadratic_networks(part_of_degree(poly, 2), set(shape.nonzero), shape.max_vertex_derivative)
            networks[output] = {"quadratic": [scalar_operands(net, constants) for net in quadratic],
                                "linear": linear_networks(part_of_degree(poly, 1))}
            bar.update()
    return networks


@dataclass(frozen=True)
class SlicedLoop:
    """Steps run in blocks of one point axis (``slicing``).

    ``axis``: each node made inside the loop -> the position of the sliced axis in its value (never whole);
    ``steps``: the steps, in order; ``letters``: each step's sliced letter in its subscripts; ``exits``: the steps
    whose values leave the loop -> the position of the sliced axis in the value (its blocks are written in place)
    or ``-1`` (the axis is summed: the blocks add up); ``length``: a node outside the loop and the position of the
    sliced axis in it (its length is the loop's)."""

    axis: Mapping[int, int]
    steps: tuple[int, ...]
    letters: Mapping[int, str]
    exits: Mapping[int, int]
    length: tuple[int, int]


@dataclass(frozen=True)
class FactoredPlan:
    """The networks' pairwise steps as plain data (as ``readout.ReadoutPlan``): nodes ``0 .. len(operands) - 1`` are
    the operands (``ir.networks`` keys), with ``axes[k]`` the kind of each of their axes (``M``: a point, ``T``: a
    test point); then one node per step ``(left, right, subscripts)``; ``results``: ``(node, output, coefficient)``,
    ``read-out[OUTPUTS[output]] += coefficient * node``; ``loops``: the sliced loops over some of the steps."""

    operands: tuple[OperandKey, ...]
    axes: tuple[str, ...]
    steps: tuple[Step, ...]
    results: tuple[tuple[int, int, float], ...]
    loops: tuple[SlicedLoop, ...] = ()

    @property
    def first_step(self) -> int:
        return len(self.operands)

    def inputs(self, k: int) -> tuple[list[tuple[int, str]], str]:
        """Step ``k``'s ``[(node, subscripts)]`` and output subscripts."""
        left, right, subscripts = self.steps[k]
        ins, out = subscripts.split("->")
        nodes = (left, right) if right >= 0 else (left,)
        return list(zip(nodes, ins.split(","))), out

    @cached_property
    def node_axes(self) -> tuple[str, ...]:
        """The axis kinds of every node (``M`` or ``T`` per axis)."""
        kinds = list(self.axes)
        for k in range(len(self.steps)):
            ins, out = self.inputs(k)
            kind = {c: kinds[node][i] for node, s in ins for i, c in enumerate(s)}
            kinds.append("".join(kind[c] for c in out))
        return tuple(kinds)

    def loop_points(self, k: int) -> int:
        """How many point axes step ``k`` loops over (its cost is ``M^that`` times test sizes)."""
        ins, _ = self.inputs(k)
        kind = {c: self.node_axes[node][i] for node, s in ins for i, c in enumerate(s)}
        return sum(v == "M" for v in kind.values())

    @cached_property
    def calls(self) -> tuple[tuple[Callable, tuple[int, ...]], ...]:
        """Each step as its lowered function (``pairwise.lowered``) and input nodes."""
        return tuple((lowered(s), (left,) if right < 0 else (left, right)) for left, right, s in self.steps)

    @cached_property
    def loop_calls(self) -> tuple[tuple[tuple[int, Callable, tuple[tuple[int, int], ...]], ...], ...]:
        """For each loop, its steps as ``(step, function, inputs)`` with each input ``(node, where)``: ``where`` the
        position of the sliced axis in a value from outside the loop, ``-1`` a whole value from outside, ``-2`` a
        block made inside the loop."""
        out = []
        for loop in self.loops:
            calls = []
            for k in loop.steps:
                pairs, _ = self.inputs(k)
                letter = loop.letters[k]
                where = tuple((n, -2 if n in loop.axis else s.index(letter) if letter in s else -1) for n, s in pairs)
                calls.append((k, self.calls[k][0], where))
            out.append(tuple(calls))
        return tuple(out)

    @cached_property
    def instructions(self) -> tuple[tuple[tuple[str, int], tuple[tuple[int, int, float], ...], tuple[int, ...]], ...]:
        """The schedule as the runtime reads it: per item, ``(item, results of the nodes it makes as (node, output,
        coefficient), the nodes freed after it)``."""
        out = []
        for (kind, x), released in zip(self.schedule, self.released):
            made = (self.first_step + x,) if kind == "step" else tuple(self.first_step + k for k in self.loops[x].exits)
            results = tuple((node, output, c) for node in made for output, c in self.results_at.get(node, ()))
            out.append(((kind, x), results, released))
        return tuple(out)

    def peak_entries(self, points: int, tests: int, block_rows: int) -> int:
        """The most array entries the schedule holds at once with ``points`` points and ``tests`` test points: the
        operands, the values made and not yet freed, and inside a loop its blocks (one per step)."""
        size = {"M": points, "T": tests}
        entries = [math.prod(size[c] for c in kinds) for kinds in self.node_axes]
        held = set(range(self.first_step))
        live = peak = sum(entries[n] for n in held)
        for t, (kind, x) in enumerate(self.schedule):
            blocks = 0
            made = [self.first_step + x] if kind == "step" else [self.first_step + k for k in self.loops[x].exits]
            if kind == "loop":
                blocks = sum(entries[self.first_step + k] * block_rows // points for k in self.loops[x].steps)
            held.update(made)
            live += sum(entries[n] for n in made)
            peak = max(peak, live + blocks)
            for node in self.released[t]:
                if node in held:
                    held.remove(node)
                    live -= entries[node]
        return peak

    @cached_property
    def results_at(self) -> dict[int, list[tuple[int, float]]]:
        at: dict[int, list[tuple[int, float]]] = {}
        for node, output, coefficient in self.results:
            at.setdefault(node, []).append((output, coefficient))
        return at

    @cached_property
    def schedule(self) -> tuple[tuple[str, int], ...]:
        """Steps (``("step", k)``) and loops (``("loop", g)``) in an order respecting their inputs, each as early as
        its first step (so what a loop makes is used, and freed, soon)."""
        item_of = {k: ("step", k) for k in range(len(self.steps))}
        for g, loop in enumerate(self.loops):
            item_of.update({k: ("loop", g) for k in loop.steps})
        items = list(dict.fromkeys(item_of.values()))
        needs: dict[tuple, set] = {item: set() for item in items}
        users: dict[tuple, set] = defaultdict(set)
        for k, (left, right, _) in enumerate(self.steps):
            for node in (left, right):
                if node >= self.first_step and item_of[node - self.first_step] != item_of[k]:
                    needs[item_of[k]].add(item_of[node - self.first_step])
                    users[item_of[node - self.first_step]].add(item_of[k])

        def first(item: tuple[str, int]) -> int:
            return item[1] if item[0] == "step" else self.loops[item[1]].steps[0]

        waiting = {item: len(n) for item, n in needs.items()}
        ready = [(first(item), item) for item in items if not waiting[item]]
        heapq.heapify(ready)
        order = []
        while ready:
            _, item = heapq.heappop(ready)
            order.append(item)
            for user in users[item]:
                waiting[user] -= 1
                if not waiting[user]:
                    heapq.heappush(ready, (first(user), user))
        if len(order) != len(items):  # a loop needing a step that needs the loop: the slicing pass must not do that
            raise RuntimeError(f"the plan's sliced loops depend on each other in a cycle ({len(items) - len(order)} "
                               "items unscheduled): a bug in factored_plan.slicing_pass")
        return tuple(order)

    @cached_property
    def released(self) -> tuple[tuple[int, ...], ...]:
        """For each item of the schedule, the step nodes whose last use it is (freed after it)."""
        last: dict[int, int] = {}
        for t, (kind, x) in enumerate(self.schedule):
            for k in (x,) if kind == "step" else self.loops[x].steps:
                last[k + self.first_step] = last.get(k + self.first_step, t)  # a node no step uses: after itself
                for node, _ in self.inputs(k)[0]:
                    last[node] = t
        return released_after(last, self.first_step, len(self.schedule))

    def as_arrays(self) -> dict[str, np.ndarray]:
        """Steps and results as arrays (the disk cache's form; the operands follow from the networks)."""
        left, right, subscripts = zip(*self.steps) if self.steps else ((), (), ())
        node, output, coefficient = zip(*self.results) if self.results else ((), (), ())
        return {"left": np.array(left, dtype=np.int64), "right": np.array(right, dtype=np.int64),
                "subscripts": np.array(subscripts, dtype=str), "node": np.array(node, dtype=np.int64),
                "output": np.array(output, dtype=np.int64), "coefficient": np.array(coefficient, dtype=float)}


def _leaves(networks: Sequence[Network]) -> tuple[tuple[OperandKey, ...], tuple[str, ...]]:
    """The distinct operands of ``networks`` in order of appearance, with their axis kinds."""
    axes: dict[OperandKey, str] = {}
    for network in networks:
        for key, indices in network.operands:
            axes.setdefault(key, "".join("T" if i.isupper() else "M" for i in indices))
    return tuple(axes), tuple(axes.values())


def path_pass(networks: Mapping[str, Sequence[Network]]) -> FactoredPlan:
    """Pass 2: each network (``output -> networks``) as pairwise steps along a dynamic-programming path for
    ``PLANNED_SIZES``, equal steps once; equal networks add their coefficients."""
    operands, axes = _leaves([net for nets in networks.values() for net in nets])
    leaf = {key: k for k, key in enumerate(operands)}
    optimizer = opt_einsum.paths.DynamicProgramming(minimize="flops")  # (with outer products: same plans, 3x slower)
    builder = _PlanBuilder(len(operands), PLANNED_SIZES, optimizer)
    totals: dict[tuple[int, int], float] = {}
    for output, nets in networks.items():
        for network in nets:
            arrays = [(leaf[key], "".join(indices)) for key, indices in network.operands]
            key = (builder.contraction(arrays, "".join(network.free)), OUTPUTS.index(output))
            totals[key] = totals.get(key, 0.0) + float(network.coefficient)
    results = tuple((node, output, c) for (node, output), c in totals.items() if c)
    return FactoredPlan(operands, axes, tuple(builder.steps), results)


def _trimmed(plan: FactoredPlan, steps: Sequence[Step], results: Sequence[tuple[int, int, float]]) -> FactoredPlan:
    """``plan`` with ``steps`` (numbered from ``plan.first_step``), only those the ``results`` need, numbered anew;
    equal results merged."""
    first = plan.first_step
    live = {node for node, _, _ in results}
    for k in range(len(steps) - 1, -1, -1):
        if first + k in live:
            live.update(steps[k][:2])
    number = {node: node for node in range(first)} | {-1: -1}
    kept = []
    for k, (left, right, subscripts) in enumerate(steps):
        if first + k in live:
            number[first + k] = first + len(kept)
            kept.append((number[left], number[right], subscripts))
    merged: dict[tuple[int, int], float] = defaultdict(float)
    for node, output, coefficient in results:
        merged[number[node], output] += coefficient
    return FactoredPlan(plan.operands, plan.axes, tuple(kept),
                        tuple((node, output, c) for (node, output), c in merged.items() if c))


def _symmetric(key: OperandKey) -> bool:
    """Operands equal to their transpose whatever the data (``K^n/n!``, the inverse ``A``)."""
    return key.describe()[0] == "Hadamard" or key.describe() == ("Run", ("A",))


def star_pass(plan: FactoredPlan) -> FactoredPlan:
    """Pass 3: every step over ``M^4`` entries summing one point index ``s`` of a product of point matrices on
    ``p, q, r, s`` becomes the star ``sum_s X_ps Y_qs Z_rs`` (spokes: the Hadamard products of the matrices
    meeting at ``s``, factors sorted by node) times the matrices not touching ``s``; equal stars are one step."""
    first = plan.first_step
    kinds = plan.node_axes
    rebuilt = _PlanBuilder(first)
    new = {node: node for node in range(first)}

    def factors(node: int, letters: str) -> list[tuple[int, str]]:
        """A node made by products without summation (all axes points), as its matrix factors."""
        if node >= first and set(kinds[node]) == {"M"} and len(kinds[node]) >= 2:
            (pairs, out) = plan.inputs(node - first)
            if len(pairs) == 2 and {c for _, s in pairs for c in s} == set(out) and all(len(s) >= 2 for _, s in pairs):
                rename = dict(zip(out, letters))
                return [f for n, s in pairs for f in factors(n, "".join(rename[c] for c in s))]
        return [(node, letters)]

    for k in range(len(plan.steps)):
        pairs, out = plan.inputs(k)
        star = None
        if plan.loop_points(k) >= 4 and len(pairs) == 2 and len(out) == 3:
            star = _star(plan, [f for n, s in pairs for f in factors(n, s)], out)
        if star is None:
            new[first + k] = rebuilt.step([(new[n], s) for n, s in pairs], out)
            continue
        spokes, rest = star
        spoke_nodes = {}
        for other, spoke in spokes.items():
            (node, orientation), *more = sorted((new[n], o) for n, o in spoke)
            for factor, factor_orientation in more:  # a Hadamard product, read (other, s)
                node = rebuilt.step([(node, "ps" if orientation else "sp"),
                                     (factor, "ps" if factor_orientation else "sp")], "ps")
                orientation = 1
            spoke_nodes[other] = (node, orientation)
        order = sorted(spoke_nodes, key=lambda x: spoke_nodes[x])
        letters = {x: ("s" + p) if spoke_nodes[x][1] == 0 else (p + "s") for x, p in zip(order, "pqr")}
        (n1, _), (n2, _), (n3, _) = (spoke_nodes[x] for x in order)
        outer = rebuilt.step([(n1, letters[order[0]]), (n2, letters[order[1]])], "pqs")
        value = (rebuilt.step([(outer, "pqs"), (n3, letters[order[2]])], "pqr"), "".join(order))
        for node, s in rest:
            value = (rebuilt.step([value, (new[node], s)], value[1]), value[1])
        new[first + k] = value[0] if value[1] == out else rebuilt.step([value], out)
    return _trimmed(plan, rebuilt.steps, [(new[node], output, c) for node, output, c in plan.results])


def _star(plan: FactoredPlan, factors: list[tuple[int, str]], out: str):
    """``(spokes, rest)`` of a product of point matrices summed over the one index not in ``out`` (``None`` when it
    is not a star): ``spokes[x]`` the factors linking ``x`` to the summed index, each ``(node, orientation)`` with
    orientation 1 when read ``(x, s)`` (or symmetric), sorted; ``rest`` the factors without the summed index."""
    summed = {c for _, s in factors for c in s} - set(out)
    if len(summed) != 1 or len(set(out)) != 3 or any(plan.node_axes[n] != "MM" or len(s) != 2 for n, s in factors):
        return None
    (s_index,) = summed
    spokes: dict[str, list[tuple[int, int]]] = defaultdict(list)
    rest = []
    for node, s in factors:
        if s_index not in s:
            rest.append((node, s))
            continue
        other = s.replace(s_index, "")
        if len(other) != 1:
            return None
        symmetric = node < plan.first_step and _symmetric(plan.operands[node])
        spokes[other].append((node, 1 if symmetric else s.index(s_index)))
    if len(spokes) != 3:
        return None
    return spokes, rest


def slicing_pass(plan: FactoredPlan) -> FactoredPlan:
    """Pass 4: each node with three or more point axes, with the steps that make and use it, in a loop over
    blocks of one of its point axes (``SlicedLoop``) where one axis can be followed through all of them."""
    first = plan.first_step
    kinds = plan.node_axes
    big = {first + k for k in range(len(plan.steps)) if kinds[first + k].count("M") >= 3}
    users: dict[int, list[int]] = defaultdict(list)
    for k in range(len(plan.steps)):
        for node in dict.fromkeys(n for n, _ in plan.inputs(k)[0]):
            users[node].append(k)
    result_nodes = {node for node, _, _ in plan.results}

    def region(start: int, axis: int) -> SlicedLoop | None:
        inside, exits, todo = {start: axis}, {}, [start]

        def join(node: int, position: int) -> bool:
            if inside.get(node, position) != position:
                return False
            if node not in inside:
                inside[node] = position
                todo.append(node)
            return True

        while todo:
            node = todo.pop()
            if node in result_nodes:
                return None
            pairs, out = plan.inputs(node - first)
            letter = out[inside[node]]
            for n, s in pairs:  # what makes it: big inputs along the same letter join
                if letter in s and n in big and not join(n, s.index(letter)):
                    return None
            for k in users[node]:  # what uses it
                pairs, out = plan.inputs(k)
                letters = {s[inside[n]] for n, s in pairs if n == node}
                if len(letters) != 1:
                    return None
                (letter,) = letters
                for n, s in pairs:
                    if n != node and n in big and (letter not in s or not join(n, s.index(letter))):
                        return None
                if first + k in big:
                    if letter not in out or not join(first + k, out.index(letter)):
                        return None
                elif exits.setdefault(k, out.index(letter) if letter in out else -1) != (
                        out.index(letter) if letter in out else -1):
                    return None
        if any(first + k in inside for k in exits):
            return None
        steps = tuple(sorted({n - first for n in inside} | set(exits)))
        letters = {}
        for k in steps:
            pairs, out = plan.inputs(k)
            if first + k in inside:
                letters[k] = out[inside[first + k]]
            else:
                letters[k] = next(s[inside[n]] for n, s in pairs if n in inside)
        length = next(((n, s.index(letters[k])) for k in steps for n, s in plan.inputs(k)[0]
                       if n not in inside and letters[k] in s), None)
        return None if length is None else SlicedLoop(dict(inside), steps, letters, exits, length)

    loops, covered = [], set()
    for node in sorted(big - covered):
        if node in covered:
            continue
        for axis, kind in enumerate(kinds[node]):
            loop = region(node, axis) if kind == "M" else None
            if loop is not None:
                loops.append(loop)
                covered |= set(loop.axis)
                break
    return FactoredPlan(plan.operands, plan.axes, plan.steps, plan.results, tuple(loops))


PLANNER_SOURCES = tuple(Path(__file__).parent.parent / name for name in (
    "compiler/factored_plan.py", "compiler/readout.py", "ir/networks.py", "ir/words.py",
    "symbolic/derivative_kernels.py"))
"""The files that determine a plan: a plan on disk is keyed by their text."""


def _paths(shape: NetworkShape, tested: bool, kind: str) -> FactoredPlan:
    """``path_pass`` of the networks of ``kind`` (``quadratic``, ``linear``), kept on disk with its operands under
    the networks' shape, so a process that finds it derives nothing (the cubic's: 2 s, a degree-7 shaping's: 14 s)."""
    from ..codegen.cache import load_derived_arrays

    def derive() -> dict[str, np.ndarray]:
        networks = {output: nets[kind] for output, nets in factored_networks(shape, tested).items()}
        plan = path_pass(networks)
        described = [json.dumps(key.describe()) for key in plan.operands]
        return plan.as_arrays() | {"operands": np.array(described, dtype=str), "axes": np.array(plan.axes, dtype=str)}

    inputs = "\n".join([repr(shape), f"{kind}, tested {tested}, {PLANNED_SIZES}",
                        *(path.read_text() for path in PLANNER_SOURCES)])
    arrays = load_derived_arrays(f"factored_{kind}", inputs, derive)
    operands = tuple(_operand(json.loads(text)) for text in arrays["operands"].tolist())
    steps = tuple(zip(arrays["left"].tolist(), arrays["right"].tolist(), arrays["subscripts"].tolist()))
    results = tuple(zip(arrays["node"].tolist(), arrays["output"].tolist(), arrays["coefficient"].tolist()))
    return FactoredPlan(operands, tuple(arrays["axes"].tolist()), steps, results)


def _operand(described: list) -> OperandKey:
    """The key whose ``describe()`` is ``described`` (read back from JSON: lists for tuples)."""
    kind, *fields = described
    return OPERAND_KINDS[kind](*(tuple(f) if isinstance(f, list) else f for f in fields))


def factored_plans(phi: sp.Expr, sigma_w2: sp.Expr, tested: bool = True) -> dict[str, FactoredPlan]:
    """``{"quadratic": the noise networks' plan after every pass, "linear": the mean shift's}`` (of ``z`` alone
    unless ``tested``), one per ``NetworkShape``."""
    return _plans(network_shape(phi, sigma_w2), tested)


@lru_cache(maxsize=32)
def _plans(shape: NetworkShape, tested: bool) -> dict[str, FactoredPlan]:
    return {"quadratic": slicing_pass(star_pass(_paths(shape, tested, "quadratic"))),
            "linear": slicing_pass(_paths(shape, tested, "linear"))}


def stages(phi: sp.Expr, sigma_w2: sp.Expr, tested: bool = True) -> dict[str, object]:
    """Every form of the quadratic networks by pass: ``networks``, ``paths``, ``stars``, ``slicing``."""
    shape = network_shape(phi, sigma_w2)
    paths = _paths(shape, tested, "quadratic")
    stars = star_pass(paths)
    networks = {o: nets["quadratic"] for o, nets in factored_networks(shape, tested).items()}
    return {"networks": networks, "paths": paths, "stars": stars, "slicing": slicing_pass(stars)}
