"""Insertion patterns: every order of the ``1/n`` series as expectations over a few Gaussian copies.

docs/design.md section 8. Layer ``l`` averages ``N_l`` iid copies of its noise; Taylor-expanding the read-out
in the noise and collecting the moments of that average by set partitions gives

    E[G(S_L)] = sum_patterns w_pi(N) E_g[ coef_{prod_c delta_c^{a_c}} G(S_L(delta)) ].

A pattern gives each layer a multiset of block sizes ``a_c >= 2`` (its copies; a block of size 1
averages to zero). Its weight is

    w_pi = prod_l (N_l)_{b_l} / N_l^{t_l} / prod_k m_{l,k}!,

``t_l = sum_c a_c`` and ``b_l`` the number of copies at layer ``l``, ``m_{l,k}`` how many have
``a_c = k``, ``(N)_b = N (N - 1) ... (N - b + 1)``. Its leading order is ``sum_l (t_l - b_l)``; the
falling factorial adds higher orders. The pattern values do not depend on the widths: only the
weights do.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

Copy = tuple[int, int]  # (layer 1..L, block size a >= 2)


@dataclass(frozen=True)
class Pattern:
    copies: tuple[Copy, ...]  # sorted by layer, then block size

    @property
    def order(self) -> int:
        """The leading power of ``1/n``: ``sum_c (a_c - 1)``."""
        return sum(a - 1 for _, a in self.copies)

    @property
    def top(self) -> tuple[int, ...]:
        """The monomial ``prod_c delta_c^{a_c}`` whose coefficient is the pattern's value."""
        return tuple(a for _, a in self.copies)

    def __str__(self) -> str:
        return "{" + ", ".join(f"(layer {l}, {a})" for l, a in self.copies) + "}"

    def weight_polynomial(self, depth: int, order: int) -> dict[tuple[int, ...], float]:
        """``w_pi`` as a polynomial in ``x_l = 1/N_l`` up to total degree ``order``: ``{exponents: coefficient}``.

        Per layer ``(N)_b / N^t / prod_k m_k! = x^(t - b) prod_{j < b} (1 - j x) / prod_k m_k!``.
        """
        out: dict[tuple[int, ...], float] = {(0,) * depth: 1.0}
        for layer, sizes in self._by_layer().items():
            b, excess = len(sizes), sum(sizes) - len(sizes)
            poly = np.zeros(order + 1)  # prod_{j<b} (1 - j x)
            poly[0] = 1.0
            for j in range(1, b):
                poly[1:] = poly[1:] - j * poly[:-1]
            poly /= math.prod(math.factorial(m) for m in Counter(sizes).values())
            grown: dict[tuple[int, ...], float] = {}
            for exponents, c in out.items():
                for d in range(order + 1 - excess):
                    e = list(exponents)
                    e[layer - 1] += excess + d
                    if sum(e) <= order and poly[d]:
                        grown[tuple(e)] = grown.get(tuple(e), 0.0) + c * poly[d]
            out = grown
        return out

    def weight_terms(self, widths: tuple[int, ...], order: int) -> np.ndarray:
        """``w_pi`` at the actual widths split into its ``n^-k`` parts, ``k = 0..order``: ``(order + 1,)``."""
        total = np.zeros(order + 1)
        for exponents, c in self.weight_polynomial(len(widths), order).items():
            total[sum(exponents)] += c * math.prod(float(N) ** -e for N, e in zip(widths, exponents))
        return total

    def _by_layer(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for layer, a in self.copies:
            out.setdefault(layer, []).append(a)
        return out


def _layer_multisets(budget: int, smallest: int = 2) -> list[tuple[int, ...]]:
    """Non-decreasing tuples of block sizes ``>= smallest`` with ``sum (a - 1) <= budget`` (the empty one too)."""
    out: list[tuple[int, ...]] = [()]
    for a in range(smallest, budget + 2):
        for rest in _layer_multisets(budget - (a - 1), a):
            out.append((a,) + rest)
    return out


def patterns(depth: int, order: int) -> list[Pattern]:
    """Every pattern on layers ``1..depth`` with leading order ``1..order``, sorted by order then copies."""
    found: list[tuple[Copy, ...]] = [()]
    for layer in range(1, depth + 1):
        grown = []
        for copies in found:
            used = sum(a - 1 for _, a in copies)
            for sizes in _layer_multisets(order - used):
                grown.append(copies + tuple((layer, a) for a in sizes))
        found = grown
    out = [Pattern(c) for c in found if c]
    return sorted(out, key=lambda p: (p.order, p.copies))
