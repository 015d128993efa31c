"""First-order terms as tensor networks over data-point indices.

After the pull-back, the noise one layer injects reaches the read-out as a matrix
of *pair functions* ``X_pq = g_pq(z_p, z_q)`` of one Gaussian copy ``z ~ N(0, K_{l-1})``.
Gaussian interpolation in the cross-covariance of ``(z_p, z_q)`` and ``(z_r, z_s)`` gives

    Cov(X_pq, X_rs) = sum_{n != 0} G^(n1+n2, n3+n4)_pq  G^(n1+n3, n2+n4)_rs
                                   C^n1_pr  C^n2_ps  C^n3_qr  C^n4_qs,

``G^(i,j)_pq = E[d^i_p d^j_q g_pq]`` (derivative kernels, ``compiler.factored``) and
``C^n = K_{l-1}^{o n} / n!`` (Hadamard power). Substituting this for the two ``D``
letters of a degree-2 read-out monomial turns it into a network: a sum over point
indices of a product of matrices and vectors. A degree-1 monomial becomes a network
with the mean shift ``mu = E[D_L]`` in place of ``D``.

A ``Network`` lists its operands as ``(key, indices)`` with a typed key (``Kernel``,
``Hadamard``, ``MeanShift``, ``Run``, ``End``, ``Closed``); free indices ``X``, ``Y`` are test
points. ``canonical`` relabels the summed indices to a normal form, so networks equal up to
relabelling (and matrix symmetry) merge. ``compiler.factored_plan`` lowers them to pairwise steps.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, fields
from fractions import Fraction
from functools import lru_cache

from .words import Monomial, Word
from .words import runs as word_runs

FREE_INDEX = {"y": (), "x": ("X",), "x'": ("Y",)}
"""The free indices of a word's end: none for the targets, the test point of ``x`` or ``x'``."""


@lru_cache(maxsize=None)
def _field_names(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(kind))


class OperandKey:
    """A typed operand; keys of different kinds are ordered by kind, so every network has a canonical order."""

    def __post_init__(self) -> None:
        # ``(kind, *fields)``, kept: the canonical relabelling sorts every network's operands under every permutation
        described = (type(self).__name__, *(getattr(self, name) for name in _field_names(type(self))))
        object.__setattr__(self, "_described", described)

    def __lt__(self, other: OperandKey) -> bool:
        return self._described < other._described

    def describe(self) -> tuple:
        """``(kind, *fields)``: plain data, and the order of keys."""
        return self._described

    def transposed(self) -> OperandKey:
        """The key of the transposed matrix (all matrices here are symmetric unless said otherwise)."""
        return self


@dataclass(frozen=True)
class Kernel(OperandKey):
    """``Ghat^(i,j)_pq = E[d^i_p d^j_q g_pq]``, the pulled-back derivative kernel of a pair function."""

    i: int
    j: int

    def transposed(self) -> Kernel:
        return Kernel(self.j, self.i)


@dataclass(frozen=True)
class Hadamard(OperandKey):
    """``C^n = K_{l-1}^{o n} / n!``, the ``n``-th Hadamard power of the copy's kernel."""

    n: int


@dataclass(frozen=True)
class MeanShift(OperandKey):
    """``mu = E[D_L]`` at first order."""


@dataclass(frozen=True)
class Run(OperandKey):
    """The matrix product of a ``D``-free run of letters (``A``, ``K``); the identity if empty."""

    letters: tuple[str, ...]

    def transposed(self) -> Run:
        return Run(self.letters[::-1])


@dataclass(frozen=True)
class End(OperandKey):
    """``end^T run``: a vector for ``y``, the rows of the test points for ``x``."""

    end: str
    letters: tuple[str, ...]


@dataclass(frozen=True)
class Closed(OperandKey):
    """A word without ``D``: ``tr(run)`` (``left = "tr"``) or ``left^T run right``."""

    left: str
    letters: tuple[str, ...]
    right: str


Operand = tuple[OperandKey, tuple[str, ...]]


@dataclass(frozen=True)
class Network:
    """``coefficient * sum_{summed indices} prod operands``; free indices are upper case."""

    coefficient: Fraction
    operands: tuple[Operand, ...]

    @property
    def free(self) -> tuple[str, ...]:
        return tuple(sorted({i for _, idx in self.operands for i in idx if i.isupper()}))

    @property
    def summed(self) -> tuple[str, ...]:
        return tuple(sorted({i for _, idx in self.operands for i in idx if not i.isupper()}))


@lru_cache(maxsize=None)
def transposed_key(key: OperandKey) -> OperandKey:
    """``key.transposed()``, kept: keys are immutable and few, and the relabellings ask for them millions of times."""
    return key.transposed()


def normal_operand(key: OperandKey, indices: tuple[str, ...]) -> Operand:
    """The transpose-invariant form of a matrix operand: ``M_pq = (M^T)_qp`` (``Kernel(i, j)`` transposes
    to ``Kernel(j, i)``, a ``Run`` of symmetric matrices to the reversed run; ``Hadamard``, ``MeanShift`` are
    symmetric)."""
    return min((key, indices), (transposed_key(key), indices[::-1])) if _is_summed_matrix(indices) else (key, indices)


def _is_summed_matrix(indices: tuple[str, ...]) -> bool:
    """A matrix operand with both indices summed: it may be read in either orientation."""
    return len(indices) == 2 and not any(i.isupper() for i in indices)


def _oriented(described: tuple, transposed: tuple | None, indices: tuple) -> tuple[tuple, tuple]:
    """``normal_operand`` on plain data: ``(key.describe(), indices)``, a matrix (``transposed`` the description of
    its transpose, else ``None``) in the orientation giving the smaller pair."""
    return (described, indices) if transposed is None else min((described, indices), (transposed, indices[::-1]))


def _colour(forms: list[tuple[tuple, tuple | None, tuple[str, ...]]], index: str) -> tuple:
    """What the operands touching a summed ``index`` see of it, independent of the other indices' labels: per
    operand its key and the pattern of its indices (``=`` this one, ``*`` another summed one, free ones as they
    are), a matrix in the orientation giving the smaller pair (as ``normal_operand``)."""
    seen = []
    for described, transposed, idx in forms:
        if index in idx:
            pattern = tuple("=" if i == index else i if i.isupper() else "*" for i in idx)
            seen.append(_oriented(described, transposed, pattern))
    return tuple(sorted(seen))


def canonical(network: Network) -> Network:
    """A normal form of the network under relabelling of its summed indices and transposition of its matrices.

    The summed indices are grouped by colour (``_colour``, unchanged by relabelling), the groups take the labels
    ``a, b, ...`` in the order of their colours, and among those relabellings (all of them when every colour is
    the same) the one with the lexicographically smallest sorted operands wins: networks equal up to relabelling
    get the same form, and most networks need one relabelling instead of ``4! = 24``. Operands are compared as
    plain ``(key.describe(), indices)`` tuples, the order of ``OperandKey``.
    """
    keys: dict[tuple, OperandKey] = {}
    forms = []
    for key, idx in network.operands:
        keys[key.describe()] = key
        if _is_summed_matrix(idx):
            transposed = transposed_key(key)
            keys[transposed.describe()] = transposed
            forms.append((key.describe(), transposed.describe(), idx))
        else:
            forms.append((key.describe(), None, idx))
    by_colour: dict[tuple, list[str]] = {}
    for index in network.summed:
        by_colour.setdefault(_colour(forms, index), []).append(index)
    labels = iter("abcdefgh")
    blocks = [(by_colour[c], [next(labels) for _ in by_colour[c]]) for c in sorted(by_colour)]
    best = None
    for choice in itertools.product(*(itertools.permutations(indices) for indices, _ in blocks)):
        rename = {index: label for order, (_, block) in zip(choice, blocks) for index, label in zip(order, block)}
        ops = sorted(_oriented(described, transposed, tuple([rename.get(i, i) for i in idx]))
                     for described, transposed, idx in forms)
        if best is None or ops < best:
            best = ops
    return Network(network.coefficient, tuple((keys[described], idx) for described, idx in best or ()))


def merge(networks: Iterable[Network]) -> list[Network]:
    """Canonicalise and add the coefficients of equal networks; drop zeros."""
    total: dict[tuple[Operand, ...], Fraction] = {}
    for net in networks:
        c = canonical(net)
        total[c.operands] = total.get(c.operands, Fraction(0)) + c.coefficient
    return [Network(c, ops) for ops, c in sorted(total.items()) if c]


def _word_operands(word: Word, fresh: Iterable[str]) -> tuple[list[Operand], list[tuple[str, str]]]:
    """Operands of one word and the index pairs of its ``D`` letters.

    ``D``-free runs between ``D`` letters become one matrix operand each (``"AKA"``),
    runs at an end are absorbed into the end vector (``"y.A"``, ``"x.KA"``): each
    product is computed once per evaluation, and only ``D`` indices remain summed.
    A word without ``D`` is a single operand carrying its free indices only.
    """
    fresh = iter(fresh)
    left, letters, right = word
    runs = word_runs(letters)
    n_d = len(runs) - 1
    if left == "tr":
        if n_d == 0:
            return [(Closed("tr", letters, ""), ())], []
        runs = [runs[-1] + runs[0]] + runs[1:-1]  # cyclic: the last run continues into the first
        idx = [next(fresh) for _ in range(2 * n_d)]
        d_pairs = [(idx[2 * k], idx[2 * k + 1]) for k in range(n_d)]
        operands = [(Run(run), (idx[2 * k - 1], idx[2 * k])) for k, run in enumerate(runs)]
        return operands, d_pairs
    free_left, free_right = FREE_INDEX[left], FREE_INDEX[right]
    if n_d == 0:
        return [(Closed(_end_vector(left), letters, _end_vector(right)), free_left + free_right)], []
    idx = [next(fresh) for _ in range(2 * n_d)]
    d_pairs = [(idx[2 * k], idx[2 * k + 1]) for k in range(n_d)]
    operands = [(End(_end_vector(left), runs[0]), free_left + (idx[0],))]
    operands += [(Run(run), (idx[2 * k - 1], idx[2 * k])) for k, run in enumerate(runs) if 0 < k < n_d]
    operands.append((End(_end_vector(right), runs[-1][::-1]), free_right + (idx[-1],)))
    return operands, d_pairs


def _end_vector(end: str) -> str:
    """The vector of a word end: the targets ``y`` or the test rows ``x`` (``x'`` differs only by its free index)."""
    return "x" if end == "x'" else end


def _monomial_operands(monomial: Monomial) -> tuple[list[Operand], list[tuple[str, str]]]:
    names = (f"i{k}" for k in itertools.count())
    operands, d_pairs = [], []
    for word in monomial:
        ops, pairs = _word_operands(word, names)
        operands += ops
        d_pairs += pairs
    return operands, d_pairs


@lru_cache(maxsize=None)
def cross_orders(max_derivative: int) -> tuple[tuple[int, int, int, int], ...]:
    """``n = (n1, n2, n3, n4) != 0`` with every vertex's derivative order at most ``max_derivative``."""
    r = range(max_derivative + 1)
    return tuple(
        n
        for n in itertools.product(r, repeat=4)
        if any(n) and max(n[0] + n[1], n[2] + n[3], n[0] + n[2], n[1] + n[3]) <= max_derivative
    )


def quadratic_networks(
    monomials: dict[Monomial, Fraction], nonzero_kernels: set[tuple[int, int]], max_derivative: int
) -> list[Network]:
    """Networks of ``E[Q(X)]`` for the degree-2 part ``Q`` of a read-out (module docstring)."""
    nets = []
    for monomial, coefficient in monomials.items():
        operands, ((p, q), (r, s)) = _monomial_operands(monomial)
        for n in cross_orders(max_derivative):
            first, second = (n[0] + n[1], n[2] + n[3]), (n[0] + n[2], n[1] + n[3])
            if first not in nonzero_kernels or second not in nonzero_kernels:
                continue
            cross = [(Hadamard(k), pair) for k, pair in zip(n, ((p, r), (p, s), (q, r), (q, s))) if k]
            kernels = [(Kernel(*first), (p, q)), (Kernel(*second), (r, s))]
            nets.append(Network(coefficient, tuple(operands + kernels + cross)))
    return merge(nets)


def linear_networks(monomials: dict[Monomial, Fraction]) -> list[Network]:
    """Networks of ``Dg . mu`` for the degree-1 part of a read-out, ``mu = E[D_L]``."""
    nets = []
    for monomial, coefficient in monomials.items():
        operands, ((p, q),) = _monomial_operands(monomial)
        nets.append(Network(coefficient, tuple(operands + [(MeanShift(), (p, q))])))
    return merge(nets)


def scalar_operands(network: Network, constants: set[OperandKey]) -> Network:
    """The network with the indices of its constant matrices dropped (a linear map's ``G^(1,1)``): a constant
    matrix carries no graph edge, so removing it lowers the contraction's cost."""
    return Network(network.coefficient,
                   tuple((key, ()) if key in constants else (key, idx) for key, idx in network.operands))
