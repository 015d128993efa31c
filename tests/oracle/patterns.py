"""Insertion patterns: the symbolic skeleton of every order (docs/design.md section 8).

Layer ``l`` makes ``S_l = m(S_{l-1}) + (1/N_l) sum_i xi(S_{l-1}, g_{l,i})``. Expanding the
read-out in the noise and collecting the neurons that carry it gives

    E[F(S_L)] = sum_pi  w_pi(N)  E_g[ coef_{prod_c delta_c^{a_c}}  F(S_L(delta)) ],
    S_l(delta) = m(S_{l-1}(delta)) + sum_{c at layer l} delta_c xi(S_{l-1}(delta), g_c),

over patterns ``pi``: at each layer a multiset of *copies* (distinct neurons), copy ``c``
carrying ``a_c >= 2`` noise factors. The weight of a pattern is

    w_pi = prod_l (N_l)_{b_l} / N_l^{t_l} / prod_k m_{l,k}!

(``t_l`` factors in ``b_l`` copies at layer ``l``, ``m_{l,k}`` of them of size ``k``), and its
order in ``1/n`` starts at ``sum_c (a_c - 1)``. A pattern here is *ordered*: a sequence of
layer groups at increasing (distinct) layers, each group the sorted sizes of its copies, so
that placing the groups at layers ``l_1 < l_2 < ...`` visits every pattern once.
"""
from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from tests.oracle.pullback.layer_step import falling_factorial_weight


@dataclass(frozen=True)
class Pattern:
    """Copy sizes per layer group, groups in increasing layer order."""

    groups: tuple[tuple[int, ...], ...]

    @cached_property
    def copies(self) -> tuple[tuple[int, int], ...]:
        """``(group, size)`` of each copy, copies numbered group by group."""
        return tuple((g, a) for g, sizes in enumerate(self.groups) for a in sizes)

    @property
    def order(self) -> int:
        """The lowest power of ``1/n`` of the pattern: ``sum_c (a_c - 1)``."""
        return sum(a - 1 for _, a in self.copies)

    @property
    def noise_factors(self) -> int:
        return sum(a for _, a in self.copies)

    def weight(self, widths: Sequence[int], order: int) -> np.ndarray:
        """eps-series (rows ``0..order``) of ``w_pi`` with group ``g`` at a layer of width ``widths[g]``."""
        total = np.zeros(order + 1)
        total[0] = 1.0
        for sizes, width in zip(self.groups, widths):
            series = falling_factorial_weight(sum(sizes), len(sizes), 1.0 / width, order)
            total = np.convolve(total, series)[: order + 1]
            total /= math.prod(math.factorial(m) for m in Counter(sizes).values())
        return total


def _groups(budget: int) -> Iterator[tuple[int, ...]]:
    """Non-empty sorted tuples of sizes ``>= 2`` with ``sum (a - 1) <= budget``."""
    def rec(smallest: int, left: int) -> Iterator[tuple[int, ...]]:
        for a in range(smallest, left + 2):
            yield (a,)
            for rest in rec(a, left - (a - 1)):
                yield (a,) + rest
    yield from rec(2, budget)


def patterns(order: int) -> list[Pattern]:
    """Every ordered pattern with ``order(pi) <= order``, lowest order first."""
    found = []

    def rec(prefix: tuple[tuple[int, ...], ...], left: int) -> None:
        for group in _groups(left):
            groups = prefix + (group,)
            found.append(Pattern(groups))
            rec(groups, left - sum(a - 1 for a in group))

    rec((), order)
    return sorted(found, key=lambda p: (p.order, len(p.groups), p.groups))


def placements(pattern: Pattern, depth: int) -> Iterator[tuple[int, ...]]:
    """Layers ``1 <= l_1 < l_2 < ... <= depth`` of the pattern's groups."""
    return itertools.combinations(range(1, depth + 1), len(pattern.groups))
