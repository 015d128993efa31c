"""First-order terms as tensor networks over data-point indices.

After the pull-back, the noise one layer injects reaches the read-out as a matrix
of *pair functions* ``X_pq = g_pq(z_p, z_q)`` of one Gaussian copy ``z ~ N(0, K_{l-1})``.
Gaussian interpolation in the cross-covariance of ``(z_p, z_q)`` and ``(z_r, z_s)`` gives

    Cov(X_pq, X_rs) = sum_{n != 0} G^(n1+n2, n3+n4)_pq  G^(n1+n3, n2+n4)_rs
                                   C^n1_pr  C^n2_ps  C^n3_qr  C^n4_qs,

``G^(i,j)_pq = E[d^i_p d^j_q g_pq]`` (derivative kernels, ``runtime.first_order``) and
``C^n = K_{l-1}^{o n} / n!`` (Hadamard power). Substituting this for the two ``D``
letters of a degree-2 read-out monomial turns it into a network: a sum over point
indices of a product of matrices and vectors. A degree-1 monomial becomes a network
with the mean shift ``mu = E[D_L]`` in place of ``D``.

A ``Network`` lists its operands as ``(name, indices)``; free indices ``X``, ``Y``
are test points. ``canonical`` relabels the summed indices to a normal form, so
networks equal up to relabelling (and matrix symmetry) merge.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from .words import Monomial, Word

END_OPERANDS = {"y": ("y", ()), "x": ("x", ("X",)), "x'": ("x", ("Y",))}
"""A word's end vector: the targets, or a test point (free index ``X`` or ``Y``)."""


Operand = tuple[str, tuple[str, ...]]


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


def normal_operand(name: str, indices: tuple[str, ...]) -> Operand:
    """The transpose-invariant form of a matrix operand.

    ``G^(i,j)_pq = G^(j,i)_qp``; a product of symmetric matrices transposes to the
    reversed product (``"AK"`` on ``(p, q)`` is ``"KA"`` on ``(q, p)``); ``C^n`` and
    ``mu`` are symmetric.
    """
    if len(indices) != 2 or any(i.isupper() for i in indices):
        return (name, indices)
    if name.startswith("G"):
        return min((name, indices), (f"G{name[2]}{name[1]}", indices[::-1]))
    if name.startswith("C") or name == "mu":
        return (name, tuple(sorted(indices)))
    return min((name, indices), (name[::-1], indices[::-1]))


def canonical(network: Network) -> Network:
    """The lexicographically smallest relabelling of the summed indices (the four ``D`` indices)."""
    summed = network.summed
    best = None
    for perm in itertools.permutations("abcdefgh"[: len(summed)]):
        rename = dict(zip(summed, perm))
        ops = tuple(
            sorted(normal_operand(name, tuple(rename.get(i, i) for i in idx)) for name, idx in network.operands)
        )
        if best is None or ops < best:
            best = ops
    return Network(network.coefficient, best or ())


def merge(networks: Iterable[Network]) -> list[Network]:
    """Canonicalise and add the coefficients of equal networks; drop zeros."""
    total: dict[tuple[Operand, ...], Fraction] = {}
    for net in networks:
        c = canonical(net)
        total[c.operands] = total.get(c.operands, Fraction(0)) + c.coefficient
    return [Network(c, ops) for ops, c in sorted(total.items()) if c]


def run_name(letters: tuple[str, ...]) -> str:
    """Name of the matrix product of a ``D``-free run of letters (``"AKA"``); ``"I"`` if empty."""
    return "".join(letters) or "I"


def _word_operands(word: Word, fresh: Iterable[str]) -> tuple[list[Operand], list[tuple[str, str]]]:
    """Operands of one word and the index pairs of its ``D`` letters.

    ``D``-free runs between ``D`` letters become one matrix operand each (``"AKA"``),
    runs at an end are absorbed into the end vector (``"y.A"``, ``"x.KA"``): each
    product is computed once per evaluation, and only ``D`` indices remain summed.
    A word without ``D`` is a single operand carrying its free indices only.
    """
    fresh = iter(fresh)
    left, letters, right = word
    runs, current = [], []
    for letter in letters:
        if letter == "D":
            runs.append(tuple(current))
            current = []
        else:
            current.append(letter)
    runs.append(tuple(current))
    n_d = len(runs) - 1
    if left == "tr":
        if n_d == 0:
            return [(f"tr.{run_name(letters)}", ())], []
        runs = [runs[-1] + runs[0]] + runs[1:-1]  # cyclic: the last run continues into the first
        idx = [next(fresh) for _ in range(2 * n_d)]
        d_pairs = [(idx[2 * k], idx[2 * k + 1]) for k in range(n_d)]
        operands = [(run_name(run), (idx[2 * k - 1], idx[2 * k])) for k, run in enumerate(runs)]
        return operands, d_pairs
    free_left, free_right = END_OPERANDS[left][1], END_OPERANDS[right][1]
    if n_d == 0:
        return [(f"{END_OPERANDS[left][0]}.{run_name(letters)}.{END_OPERANDS[right][0]}", free_left + free_right)], []
    idx = [next(fresh) for _ in range(2 * n_d)]
    d_pairs = [(idx[2 * k], idx[2 * k + 1]) for k in range(n_d)]
    operands = [(f"{END_OPERANDS[left][0]}.{run_name(runs[0])}", free_left + (idx[0],))]
    operands += [(run_name(run), (idx[2 * k - 1], idx[2 * k])) for k, run in enumerate(runs) if 0 < k < n_d]
    operands.append((f"{END_OPERANDS[right][0]}.{run_name(runs[-1][::-1])}", free_right + (idx[-1],)))
    return operands, d_pairs


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
            cross = [(f"C{k}", pair) for k, pair in zip(n, ((p, r), (p, s), (q, r), (q, s))) if k]
            kernels = [(f"G{first[0]}{first[1]}", (p, q)), (f"G{second[0]}{second[1]}", (r, s))]
            nets.append(Network(coefficient, tuple(operands + kernels + cross)))
    return merge(nets)


def linear_networks(monomials: dict[Monomial, Fraction]) -> list[Network]:
    """Networks of ``Dg . mu`` for the degree-1 part of a read-out, ``mu = E[D_L]``."""
    nets = []
    for monomial, coefficient in monomials.items():
        operands, ((p, q),) = _monomial_operands(monomial)
        nets.append(Network(coefficient, tuple(operands + [("mu", (p, q))])))
    return merge(nets)
