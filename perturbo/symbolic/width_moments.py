"""The width moments of the deep linear network: the one source of ``E[delta^j]`` for the closed forms
(symbolic in the width power sums) and the scale lowering (exact rationals at given widths).

For a linear activation the output is ``sqrt(s) g`` in law, ``s = prod_l chi2_{N_l} / N_l`` independent of the
Gaussian-process draw ``g``, so every read-out is a function of ``delta = s - 1``. With the width power sums
``p_a = sum_l N_l^-a``:

    E[s^k]       = prod_l prod_{i<k} (1 + 2i / N_l),
    log E[s^k]   = sum_{a >= 1} c_a(k) p_a,     c_a(k) = (-1)^(a+1) S_a(k) / a,   S_a(k) = sum_{i<k} (2i)^a,
    E[delta^j]   = sum_{k <= j} C(j, k) (-1)^(j-k) E[s^k]      (= O(N^-ceil(j/2)): low orders cancel exactly).
"""
from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from math import comb
from typing import TypeVar

Element = TypeVar("Element")


def log_raw_moment_coefficients(k: int, order: int) -> list[Fraction]:
    """``[c_1(k), ..., c_order(k)]``: ``log E[s^k] = sum_a c_a(k) p_a`` to ``a = order``."""
    return [Fraction((-1) ** (a + 1) * sum((2 * i) ** a for i in range(k)), a) for a in range(1, order + 1)]


def central_moments(raw: Sequence[Element]) -> list[Element]:
    """``E[delta^j]`` for ``j = 0..len(raw) - 1`` from the raw moments ``raw[k] = E[s^k]`` (any ring elements)."""
    return [sum((raw[k] * (comb(j, k) * (-1) ** (j - k)) for k in range(1, j + 1)), raw[0] * (-1) ** j)
            for j in range(len(raw))]
