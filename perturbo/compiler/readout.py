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

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np

from ..ir.words import OUTPUT_ENDS, Monomial, Word, part_of_degree, readout_words
from ..ir.words import runs as word_runs

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
