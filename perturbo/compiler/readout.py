"""The read-out as tensor networks with typed operands.

``ir.words`` writes the read-outs ``z``, ``z m_x``, ``z (C_xx' + m_x m_x')`` as polynomials in
the last layer's fluctuation ``D`` whose monomials are products of matrix words. Here each
monomial becomes a network: its ``D`` letters are *letter slots* (a pair of point indices
each), and the ``D``-free runs between and around them are typed operands:

    Run(letters)           the matrix product of ``A`` and ``K`` (``()`` is the identity),
    End(end, letters)      the row ``end^T run``: ``y^T A K ...`` (a vector), or for a test end
                           ``e_x^T K A ...`` (a ``T x M`` matrix whose first index is the test point),
    Closed(word)           a word without ``D``: ``tr(run)`` or ``end^T run end'``.

``A`` is the training-block inverse ``(K_DD + sigma2 I)^{-1}`` padded with zeros and ``K`` the
last layer's kernel on all ``M`` points. Free indices ``X`` and ``Y`` are the two test ends.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np

from ..ir.words import OUTPUT_ENDS, Monomial, Word, part_of_degree, readout_words
from ..ir.words import runs as word_runs
from .transfer import lowest_row, set_partitions

FREE_INDEX = {"x": "X", "x'": "Y"}
"""The free index of each test end."""


@dataclass(frozen=True)
class Run:
    letters: tuple[str, ...]


@dataclass(frozen=True)
class End:
    end: str
    letters: tuple[str, ...]


@dataclass(frozen=True)
class Closed:
    word: Word


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
        return [(Closed(word), free)], []
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


def contraction_count(networks: Mapping[int, Mapping[str, Sequence[ReadoutNetwork]]], order: int,
                      outputs: Sequence[str]) -> int:
    """How many contractions the read-out of ``outputs`` takes at ``order``: one per network with letters, partition
    of its letters and choice of power rows (``runtime_terms.readout_expectation``; order 3: 2,431 for ``z``, 45,781
    with ``z m_x`` and ``z (C + m m^T)``)."""
    return sum(sum(1 for _ in power_rows(lowest, order))
               for degree, by_output in networks.items() if degree for output in outputs
               for network in by_output[output]
               for _, lowest in cumulant_partitions(len(network.slots), order))


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
        left, letters, right = operand.word
        if left == "tr":
            return self._trace(letters)
        return self._product(self.ends[left], letters) @ self.ends[right].T


# ------------------------------------------------------------------------------------------------ printing
END_CODE = {"y": "y", "x": "E", "x'": "E"}
"""The array of each end in printed code: ``y`` the padded targets, ``E`` the test rows of the identity."""


def operand_code(operand: Operand) -> str:
    """The NumPy expression of an operand (``ReadoutOperands`` evaluates the same) from ``A``, ``K``, the identity
    ``I`` and the ends ``END_CODE``."""
    if isinstance(operand, Run):
        return " @ ".join(operand.letters) or "I"
    if isinstance(operand, End):
        return " @ ".join((END_CODE[operand.end],) + operand.letters)
    left, letters, right = operand.word
    if left == "tr":
        return f"np.trace({' @ '.join(letters) or 'I'})"
    return " @ ".join((END_CODE[left],) + letters + (END_CODE[right] + ("" if right == "y" else ".T"),))


def _network_lines(network: ReadoutNetwork, output: str, order: int, names: dict[Operand, str]) -> list[str]:
    """One ``einsum`` per partition of the network's letters into cumulants and choice of their power rows
    (``runtime_terms.readout_expectation`` interprets the same sum): ``kappa_s`` of a block of ``s`` letters, row
    ``r >= lowest_row(s)``, rows adding up to at most ``order``."""
    index_names = [i for _, idx in network.operands for i in idx] + [i for pair in network.slots for i in pair]
    letter = {name: name if name in ("X", "Y") else "" for name in index_names}
    for k, name in enumerate(n for n in dict.fromkeys(index_names) if n not in ("X", "Y")):
        letter[name] = "abcdefghijklmnopqrstuvw"[k]
    fixed = [(names[op], "".join(letter[i] for i in idx)) for op, idx in network.operands]
    coefficient = repr(float(network.coefficient))
    lines = []
    for tau, lowest in cumulant_partitions(len(network.slots), order):
        for rows in power_rows(lowest, order):
            series = [(f"k[{len(block)}][{row}]", "".join(letter[i] for k in block for i in network.slots[k]))
                      for block, row in zip(tau, rows)]
            operands = fixed + series
            subscripts = ",".join(s for _, s in operands) + "->" + "".join(network.free)
            arrays = ", ".join(a for a, _ in operands)
            optimize = ", optimize=True" if len(operands) > 2 else ""  # a planned path (pairwise, BLAS) for three or more
            lines.append(f"    {output}[{sum(rows)}] += {coefficient} * np.einsum({subscripts!r}, {arrays}{optimize})")
    return lines


def print_readout(networks: Mapping[int, Mapping[str, Sequence[ReadoutNetwork]]], order: int) -> str:
    """``readout(K, n_train, y, sigma2, k)``: the series ``E[z]``, ``E[z m_x]``, ``E[z (C_xx' + m_x m_x')]`` to
    ``order`` from the cumulants ``k[s]`` of the last layer's fluctuation, as straight-line NumPy: each distinct
    operand once, then one ``einsum`` per network, partition of its letters and choice of power rows.
    ``networks``: ``degree -> output -> networks`` (``Program.readout``)."""
    operands = dict.fromkeys(op for by_output in networks.values() for nets in by_output.values()
                             for net in nets for op, _ in net.operands)
    codes = list(dict.fromkeys(operand_code(op) for op in operands))  # equal arrays under different operands: once
    names = {op: f"op{codes.index(operand_code(op))}" for op in operands}
    lines = [
        "def readout(K, n_train, y, sigma2, k):",
        f'    """E[z], E[z m_x], E[z (C_xx\' + m_x m_x\')] to order {order} from the last layer\'s kernel K (training points',
        "    first) and the cumulants k[s] of its fluctuation (perturbo/compiler/readout.py: print_readout).\"\"\"",
        "    M, P = len(K), n_train",
        "    T = M - P",
        "    A = np.zeros((M, M))",
        "    A[:P, :P] = np.linalg.inv(K[:P, :P] + sigma2 * np.eye(P))",
        "    I = np.eye(M)",
        "    E = I[P:]",
        "    y = np.concatenate([y, np.zeros(T)])",
    ]
    lines += [f"    op{k} = {code}" for k, code in enumerate(codes)]
    lines += [f"    z = np.zeros({order + 1})", f"    zm = np.zeros(({order + 1}, T))", f"    zs = np.zeros(({order + 1}, T, T))"]
    for output in ("z", "zm", "zs"):
        body = []
        for degree, by_output in networks.items():
            for network in by_output[output]:
                if degree == 0:
                    fixed = [(names[op], "".join(idx)) for op, idx in network.operands]
                    subscripts = ",".join(s for _, s in fixed) + "->" + "".join(network.free)
                    value = (f"np.einsum({subscripts!r}, {', '.join(a for a, _ in fixed)})" if fixed else "1.0")
                    body.append(f"    {output}[0] += {float(network.coefficient)!r} * {value}")
                else:
                    body += _network_lines(network, output, order, names)
        lines += body if output == "z" else ["    if T:"] + ["    " + line for line in body]
    lines.append("    return z, zm, zs")
    return "\n".join(lines) + "\n"
