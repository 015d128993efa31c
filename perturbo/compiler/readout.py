"""The read-out as tensor networks with typed operands.

``ir.words`` writes the read-outs ``z``, ``z m_x``, ``z (C_xx' + m_x m_x')`` as polynomials in
the last layer's fluctuation ``D`` whose monomials are products of matrix words. Here each
monomial becomes a network: its ``D`` letters are *letter slots* (a pair of point indices
each), and the ``D``-free runs between and around them are typed operands:

    Run(letters)           the matrix product of ``A`` and ``K`` (``()`` is the identity),
    End(end, letters)      the row ``end^T run``: ``y^T A K ...`` (a vector), or for a test end
                           ``e_x^T K A ...`` (a ``T x M`` matrix whose first index is the test point),
    Closed(left, letters, right)
                           a word without ``D``: ``tr(run)`` or ``end^T run end'``

(the operand keys of ``ir.networks``: the first order's networks use the same ones).

``A`` is the training-block inverse ``(K_DD + sigma2 I)^{-1}`` padded with zeros and ``K`` the
last layer's kernel on all ``M`` points. Free indices ``X`` and ``Y`` are the two test ends.

The expectation of a network is a sum over the partitions of its letters into cumulants and the power rows of
those (``cumulant_partitions``, ``power_rows``). ``plan_readout`` lowers every such contraction to pairwise steps
and merges the equal ones across all networks (``ReadoutPlan``, plain arrays kept in the cache: ``readout_plan``),
which the dense lowering runs (``runtime_terms.run_plan``).
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import opt_einsum

from ..ir.networks import Closed, End, Run
from ..ir.words import OUTPUT_ENDS, Monomial, Word, part_of_degree, readout_words
from ..ir.words import runs as word_runs
from .transfer import lowest_row, set_partitions

FREE_INDEX = {"x": "X", "x'": "Y"}
"""The free index of each test end."""


Operand = Run | End | Closed
Indexed = tuple[Operand, tuple[str, ...]]


@dataclass(frozen=True)
class ReadoutNetwork:
    """``coefficient * sum prod operands``, with ``slots[k]`` the index pair of letter ``k``."""

    coefficient: Fraction
    operands: tuple[Indexed, ...]
    slots: tuple[tuple[str, str], ...]
    free: tuple[str, ...]


def _word_network(word: Word, fresh: Iterator[str]) -> tuple[list[Indexed], list[tuple[str, str]]]:
    """Operands of one word and the index pairs of its ``D`` letters (runs at the ends join the end vector)."""
    left, letters, right = word
    runs = word_runs(letters)
    n = len(runs) - 1
    if n == 0:
        free = tuple(FREE_INDEX[e] for e in (left, right) if e in FREE_INDEX)
        return [(Closed(*word), free)], []
    idx = [next(fresh) for _ in range(2 * n)]
    slots = [(idx[2 * k], idx[2 * k + 1]) for k in range(n)]
    if left == "tr":
        cyclic = [runs[-1] + runs[0]] + runs[1:-1]  # the last run continues into the first
        return [(Run(run), (idx[2 * k - 1], idx[2 * k])) for k, run in enumerate(cyclic)], slots
    operands: list[Indexed] = [(End(left, runs[0]), tuple(FREE_INDEX[e] for e in (left,) if e in FREE_INDEX) + (idx[0],))]
    operands += [(Run(runs[k]), (idx[2 * k - 1], idx[2 * k])) for k in range(1, n)]
    operands.append((End(right, runs[-1][::-1]), tuple(FREE_INDEX[e] for e in (right,) if e in FREE_INDEX) + (idx[-1],)))
    return operands, slots


def monomial_network(coefficient: Fraction, monomial: Monomial, output: str) -> ReadoutNetwork:
    names = (f"r{k}" for k in range(10**6))
    operands, slots = [], []
    for word in monomial:
        ops, pairs = _word_network(word, names)
        operands += ops
        slots += pairs
    free = tuple(FREE_INDEX[e] for e in OUTPUT_ENDS[output])
    return ReadoutNetwork(coefficient, tuple(operands), tuple(slots), free)


@lru_cache(maxsize=None)
def cumulant_partitions(letters: int, order: int, spectator: bool = False) -> tuple[tuple[tuple, tuple[int, ...]], ...]:
    """The moments of ``letters`` letters (and of the spectator entry, ``None``) as products of cumulants: the set
    partitions into blocks whose lowest power rows (``kappa_s = O(n^-(s-1))``, ``transfer.lowest_row``) add up to at
    most ``order``, with those rows."""
    items = list(range(letters)) + ([None] if spectator else [])
    out = []
    for tau in set_partitions(items):
        lowest = tuple(lowest_row(len(block)) for block in tau)
        if sum(lowest) <= order:
            out.append((tuple(tuple(block) for block in tau), lowest))
    return tuple(out)


def power_rows(lowest: Sequence[int], order: int) -> Iterator[tuple[int, ...]]:
    """The power rows of the blocks of a partition, each at or above its ``lowest``, adding up to at most ``order``."""
    for rows in itertools.product(*[range(low, order + 1) for low in lowest]):
        if sum(rows) <= order:
            yield rows


def contractions(networks: Mapping[int, Mapping[str, Sequence[ReadoutNetwork]]], order: int,
                 outputs: Sequence[str]) -> Iterator[tuple[str, ReadoutNetwork, tuple, tuple[int, ...]]]:
    """The read-out's contractions ``(output, network, partition, rows)``: one per network with letters, partition of
    its letters into cumulants and choice of their power rows (``cumulant_partitions``, ``power_rows``), by degree."""
    for degree, by_output in sorted(networks.items()):
        for output in outputs if degree else ():
            for network in by_output[output]:
                for tau, lowest in cumulant_partitions(len(network.slots), order):
                    for rows in power_rows(lowest, order):
                        yield output, network, tau, rows


def contraction_count(networks: Mapping[int, Mapping[str, Sequence[ReadoutNetwork]]], order: int,
                      outputs: Sequence[str]) -> int:
    """How many contractions the read-out of ``outputs`` takes at ``order`` (``contractions``; order 3: 2,431 for
    ``z``, 45,781 with ``z m_x`` and ``z (C + m m^T)``)."""
    return sum(1 for _ in contractions(networks, order, outputs))


OUTPUTS = ("z", "zm", "zs")
"""The read-outs ``z``, ``z m_x``, ``z (C_xx' + m_x m_x')``, in the order the plan numbers them."""


def released_after(last: Mapping[int, int], first_step: int, count: int) -> tuple[tuple[int, ...], ...]:
    """For each position ``0 .. count - 1`` of a plan's run, the step nodes (from ``first_step``) whose last use
    (``last``: node -> position) it is."""
    released: list[list[int]] = [[] for _ in range(count)]
    for node, k in last.items():
        if node >= first_step:
            released[k].append(node)
    return tuple(tuple(nodes) for nodes in released)


@dataclass(frozen=True)
class ReadoutPlan:
    """The dense read-out as plain data: pairwise contraction steps, each computed once however many contractions
    share it (order 3: 45,781 contractions of 3 to 11 arrays, 435,130 pairwise steps, of which 44,593 distinct).

    Nodes ``0 .. len(operands) - 1`` are the typed operands (``ReadoutOperands``), the next ``len(cumulants)`` the
    rows ``kappa_s[row]`` of the last layer's cumulants, then one node per step ``(left, right, subscripts)``
    (``right = -1``: a step of one array). ``results``: ``(node, output, row, coefficient)``, ``read-out[output][row]
    += coefficient * node`` (``output`` indexes ``OUTPUTS``; ``outputs``: the read-outs planned). Paths are planned
    for nominal sizes (``PLANNED_POINTS``), so one plan serves every number of points."""

    order: int
    outputs: tuple[str, ...]
    operands: tuple[Operand, ...]
    cumulants: tuple[tuple[int, int], ...]
    steps: tuple[tuple[int, int, str], ...]
    results: tuple[tuple[int, int, int, float], ...]

    @property
    def first_step(self) -> int:
        """The node of the first step (after the operands and the cumulant rows)."""
        return len(self.operands) + len(self.cumulants)

    @cached_property
    def results_at(self) -> dict[int, list[tuple[int, int, float]]]:
        """``node -> [(output, row, coefficient)]``."""
        at: dict[int, list[tuple[int, int, float]]] = {}
        for node, output, row, coefficient in self.results:
            at.setdefault(node, []).append((output, row, coefficient))
        return at

    @cached_property
    def released(self) -> tuple[tuple[int, ...], ...]:
        """For each step, the nodes whose last use it is (an executor frees them after it)."""
        last: dict[int, int] = {}
        for k, (left, right, _) in enumerate(self.steps):
            last[left] = k
            last[right] = k
        for k in range(len(self.steps)):  # a node no step uses is released once its outputs are added
            last.setdefault(self.first_step + k, k)
        return released_after(last, self.first_step, len(self.steps))

    def as_arrays(self) -> dict[str, np.ndarray]:
        """The steps and outputs as arrays (the operands and cumulants follow from the networks)."""
        left, right, subscripts = zip(*self.steps) if self.steps else ((), (), ())
        node, output, row, coefficient = zip(*self.results) if self.results else ((), (), (), ())
        return {"left": np.array(left, dtype=np.int64), "right": np.array(right, dtype=np.int64),
                "subscripts": np.array(subscripts, dtype=str), "node": np.array(node, dtype=np.int64),
                "output": np.array(output, dtype=np.int64), "row": np.array(row, dtype=np.int64),
                "coefficient": np.array(coefficient, dtype=float)}


PLANNED_POINTS = {"point": 8, "test": 2}
"""The index sizes the paths are planned for: the dense lowering runs on at most 16 points at order 2 and 7 at
order 3, with fewer test points than points."""


def _symbols_in_order(names: Iterable[str]) -> dict[str, str]:
    """Each distinct name -> an ``einsum`` letter, ``a``, ``b``, .. in order of first appearance."""
    symbols: dict[str, str] = {}
    for name in names:
        symbols.setdefault(name, opt_einsum.get_symbol(len(symbols)))
    return symbols


def _canonical(subscripts: tuple[str, ...], output: str) -> str:
    """``a,b->c`` with the letters renamed in order of first appearance (equal steps, equal strings)."""
    names = _symbols_in_order("".join(subscripts))
    return ",".join("".join(names[c] for c in s) for s in subscripts) + "->" + "".join(names[c] for c in output)


class _PlanBuilder:
    """Steps of a ``ReadoutPlan``, each distinct ``(arrays, canonical subscripts)`` once, along the paths of
    ``optimizer`` (an ``opt_einsum`` path function) for the index ``sizes`` (``point``, ``test``)."""

    def __init__(self, n_leaves: int, sizes: Mapping[str, int] = PLANNED_POINTS,
                 optimizer: Callable = opt_einsum.paths.greedy) -> None:
        self.n_leaves = n_leaves
        self.sizes, self.optimizer = sizes, optimizer
        self.steps: list[tuple[int, int, str]] = []
        self._nodes: dict[tuple[int, int, str], int] = {}
        self._paths: dict[str, list[tuple[int, ...]]] = {}
        self._contractions: dict[tuple, int] = {}

    def step(self, arrays: list[tuple[int, str]], output: str) -> int:
        """The node of one pairwise (or one-array) step, made once."""
        if len(arrays) == 2 and arrays[1] < arrays[0]:  # (a product commutes: one order)
            arrays = arrays[::-1]
        key = (arrays[0][0], arrays[1][0] if len(arrays) == 2 else -1, _canonical(tuple(s for _, s in arrays), output))
        if key not in self._nodes:
            self._nodes[key] = self.n_leaves + len(self.steps)
            self.steps.append(key)
        return self._nodes[key]

    def contraction(self, arrays: list[tuple[int, str]], output: str) -> int:
        """The node of ``einsum(subscripts -> output)`` over ``arrays`` (node, subscripts), along the path planned for
        ``sizes`` (the output's indices are the test points')."""
        names = _symbols_in_order("".join(s for _, s in arrays))
        arrays = [(node, "".join(names[c] for c in s)) for node, s in arrays]
        output = "".join(names[c] for c in output)
        key = (tuple(arrays), output)
        if key in self._contractions:
            return self._contractions[key]
        subscripts = ",".join(s for _, s in arrays) + "->" + output
        if subscripts not in self._paths:
            size = {c: self.sizes["test" if c in output else "point"] for c in names.values()}
            self._paths[subscripts] = self.optimizer(
                [frozenset(s) for _, s in arrays], frozenset(output), size) if len(arrays) > 1 else [(0,)]
        current = list(arrays)
        for pair in self._paths[subscripts]:
            taken = [current.pop(i) for i in sorted(pair, reverse=True)][::-1]
            kept = set("".join(s for _, s in current)) | set(output)
            result = output if not current else "".join(dict.fromkeys(c for _, s in taken for c in s if c in kept))
            current.append((self.step(taken, result), result))
        self._contractions[key] = current[0][0]
        return current[0][0]


def _leaves(networks: Mapping[int, Mapping[str, Sequence[ReadoutNetwork]]], order: int,
            outputs: Sequence[str]) -> tuple[tuple[Operand, ...], tuple[tuple[int, int], ...]]:
    """A plan's first nodes: the distinct operands of the networks of degree ``>= 1``, in order, and the rows
    ``(s, row)`` of the cumulants ``kappa_1 .. kappa_(2 order)`` at or above their lowest."""
    operands = tuple(dict.fromkeys(op for degree, by_output in sorted(networks.items()) if degree
                                   for output in outputs for net in by_output[output] for op, _ in net.operands))
    return operands, tuple((s, row) for s in range(1, 2 * order + 1) for row in range(lowest_row(s), order + 1))


def plan_from_arrays(order: int, outputs: tuple[str, ...], operands: tuple[Operand, ...],
                     cumulants: tuple[tuple[int, int], ...], arrays: Mapping[str, np.ndarray]) -> ReadoutPlan:
    """The plan whose ``as_arrays()`` gave ``arrays`` (its leaves: ``_leaves`` of its networks)."""
    steps = tuple(zip(arrays["left"].tolist(), arrays["right"].tolist(), arrays["subscripts"].tolist()))
    results = tuple(zip(arrays["node"].tolist(), arrays["output"].tolist(), arrays["row"].tolist(),
                        arrays["coefficient"].tolist()))
    return ReadoutPlan(order, outputs, operands, cumulants, steps, results)


def plan_readout(networks: Mapping[int, Mapping[str, Sequence[ReadoutNetwork]]], order: int,
                 outputs: Sequence[str] = OUTPUTS) -> ReadoutPlan:
    """The plan of the networks of degree ``>= 1`` of ``outputs`` (``Program.readout``): each of their
    ``contractions`` split into pairwise steps; equal contractions and equal steps merged."""
    operands, cumulants = _leaves(networks, order, outputs)
    leaf = {**{op: k for k, op in enumerate(operands)},
            **{cumulant: len(operands) + k for k, cumulant in enumerate(cumulants)}}
    builder = _PlanBuilder(len(leaf))
    totals: dict[tuple[int, int, int], float] = {}
    named: ReadoutNetwork | None = None
    for name, network, tau, rows in contractions(networks, order, outputs):
        if network is not named:  # the network's indices as letters, its fixed operands, its free letters
            named = network
            letters = _symbols_in_order([i for _, idx in network.operands for i in idx]
                                        + [i for pair in network.slots for i in pair])
            fixed = [(leaf[op], "".join(letters[i] for i in idx)) for op, idx in network.operands]
            free = "".join(letters[i] for i in network.free)
        blocks = ["".join(letters[i] for k in block for i in network.slots[k]) for block in tau]
        arrays = fixed + [(leaf[len(block), row], s) for block, row, s in zip(tau, rows, blocks)]
        key = (builder.contraction(arrays, free), OUTPUTS.index(name), sum(rows))
        totals[key] = totals.get(key, 0.0) + float(network.coefficient)
    return ReadoutPlan(order, tuple(outputs), operands, cumulants, tuple(builder.steps),
                       tuple((node, output, row, c) for (node, output, row), c in totals.items() if c))


@lru_cache(maxsize=None)
def readout_networks(degree: int, max_degree: int) -> dict[str, tuple[ReadoutNetwork, ...]]:
    """The networks of the degree-``degree`` part of each read-out (``ir.words`` to ``max_degree``)."""
    words = readout_words(max_degree)
    return {
        output: tuple(monomial_network(c, m, output) for m, c in sorted(part_of_degree(poly, degree).items()))
        for output, poly in words.items()
    }


class ReadoutOperands:
    """Arrays of the typed operands for one last-layer kernel ``K`` (``M`` points, the first ``P`` training)."""

    def __init__(self, K: np.ndarray, n_train: int, y: np.ndarray, sigma2: float) -> None:
        M, P = len(K), n_train
        A = np.zeros((M, M))
        A[:P, :P] = np.linalg.inv(K[:P, :P] + sigma2 * np.eye(P))
        self.spectrum = {}  # letter -> its eigenvalues on the training block (A and K_DD commute)
        self._n_train, self._sigma2, self._K = P, sigma2, K
        y_padded = np.zeros(M)
        y_padded[:P] = y
        self.matrices = {"A": A, "K": K}
        self.ends = {"y": y_padded, "x": np.eye(M)[P:], "x'": np.eye(M)[P:]}
        self.identity = np.eye(M)
        self._cache: dict[Operand, np.ndarray] = {}

    @property
    def n_test(self) -> int:
        return len(self._K) - self._n_train

    def _trace(self, letters: tuple[str, ...]) -> float:
        """``tr`` of a product of ``A`` and ``K``: with an ``A`` in it and no two ``K`` adjacent (cyclically), every
        ``K`` sits between training-block ``A``'s, so only ``K_DD`` enters and the two commute:
        ``sum_i lambda_i^(#K) / (lambda_i + sigma2)^(#A)`` from one eigendecomposition of ``K_DD``."""
        cyclic = letters + letters[:1]
        adjacent_k = any(a == b == "K" for a, b in zip(cyclic, cyclic[1:]))
        if "A" not in letters or set(letters) - {"A", "K"} or adjacent_k:
            return float(np.trace(self._product(self.identity, letters)))
        if not self.spectrum:
            P = self._n_train
            eigenvalues = np.linalg.eigvalsh(self._K[:P, :P])
            self.spectrum = {"K": eigenvalues, "A": 1.0 / (eigenvalues + self._sigma2)}
        return float(np.sum(self.spectrum["K"] ** letters.count("K") * self.spectrum["A"] ** letters.count("A")))

    def closed_value(self, network: ReadoutNetwork) -> np.ndarray:
        """A network without letters: ``coefficient * prod`` of its closed words over its free test indices."""
        arrays = [self[op] for op, _ in network.operands]
        subscripts = ",".join("".join(idx) for _, idx in network.operands)
        value = np.einsum(subscripts + "->" + "".join(network.free), *arrays) if arrays else np.asarray(1.0)
        return float(network.coefficient) * value

    def _product(self, start: np.ndarray, letters: tuple[str, ...]) -> np.ndarray:
        for letter in letters:
            start = start @ self.matrices[letter]
        return start

    def __getitem__(self, operand: Operand) -> np.ndarray:
        if operand not in self._cache:
            self._cache[operand] = self._evaluate(operand)
        return self._cache[operand]

    def _evaluate(self, operand: Operand) -> np.ndarray:
        if isinstance(operand, Run):
            return self._product(self.identity, operand.letters)
        if isinstance(operand, End):
            return self._product(self.ends[operand.end], operand.letters)
        left, letters, right = operand.left, operand.letters, operand.right
        if left == "tr":
            return self._trace(letters)
        return self._product(self.ends[left], letters) @ self.ends[right].T


PLANNER_SOURCES = (Path(__file__), Path(__file__).with_name("transfer.py"),
                   Path(__file__).parent.parent / "ir" / "words.py")
"""The files that determine a plan (networks, partitions, planner): a plan on disk is keyed by their text."""


@lru_cache(maxsize=None)
def readout_plan(order: int, tested: bool = True) -> ReadoutPlan:
    """The plan of the read-out to ``order`` (of ``z`` alone unless ``tested``), made once per machine (order 3: about
    8 s) and kept on disk (``codegen.cache.load_derived_arrays``) under the hash of ``PLANNER_SOURCES``."""
    from ..codegen.cache import load_derived_arrays

    networks = {degree: readout_networks(degree, 2 * order) for degree in range(2 * order + 1)}
    outputs = OUTPUTS if tested else ("z",)
    sources = [path.read_text() for path in PLANNER_SOURCES]
    inputs = "\n".join([f"order {order}, outputs {outputs}, {PLANNED_POINTS}", *sources])
    arrays = load_derived_arrays("readout_plan", inputs, lambda: plan_readout(networks, order, outputs).as_arrays())
    return plan_from_arrays(order, outputs, *_leaves(networks, order, outputs), arrays)

