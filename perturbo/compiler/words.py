"""The word lowering: linear layer maps at any number of points.

For ``phi(t) = lambda t`` the pull-back of the read-out is a map on polynomials in matrix words
(``word_algebra``), derived once per order and independent of the data; the numbers per layer are
powers of ``g = sigma_w2 lambda^2`` and the widths. What is left at layer 0 is a polynomial in
closed words of ``A`` and ``K_L`` (traces and quadratic forms), evaluated here once each.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from ..activation import t
from ..backends import Moments, Problem
from ..codegen import derivation_inputs
from ..codegen.cache import load_derived_arrays
from .readout import Closed, ReadoutOperands
from .word_algebra import Transfer

FREE = {"z": "", "zm": "X", "zs": "XY"}


def linear_slope(phi: sp.Expr) -> float | None:
    """``lambda`` if ``phi(t) = lambda t``, else ``None``."""
    poly = sp.Poly(phi, t)
    return float(poly.coeff_monomial(t)) if poly.monoms() == [(1,)] else None


@lru_cache(maxsize=8)
def word_transfer(order: int) -> Transfer:
    """The order's pull-back map, derived once and cached on disk (order 3: about a minute to derive)."""
    inputs = derivation_inputs(t, sp.Integer(1), f"word transfer, order {order}")
    return Transfer.from_arrays(order, load_derived_arrays("words", inputs, lambda: Transfer(order).to_arrays()))


def word_moments(problem: Problem) -> Moments:
    order, widths = problem.order, problem.widths
    g = float(problem.sigma_w2) * linear_slope(problem.phi) ** 2
    transfer = word_transfer(order)
    operands = ReadoutOperands(problem.kernels[-1], problem.n_train, problem.y, problem.sigma2)
    T, L = problem.n_test, len(widths)
    closed = transfer.closed()
    out = {}
    for name, free in FREE.items():
        shape = (T,) * len(free)
        total = np.zeros((order + 1,) + shape)
        if name != "z" and not T:
            out[name] = total
            continue
        state = transfer.start(name)
        for l in range(L, 0, -1):
            state = transfer.pull_back(state, g, g ** (-(L - l + 1)), widths[l - 1])
        for k in closed:
            if not np.any(state[k]):
                continue
            words = transfer.monomials[k]
            arrays = [operands[Closed(word)] for word in words]
            subscripts = ",".join("".join({"x": "X", "x'": "Y"}[e] for e in (w[0], w[2]) if e in ("x", "x'")) for w in words)
            value = np.einsum(subscripts + "->" + free, *arrays) if arrays else np.asarray(1.0)
            total += np.multiply.outer(state[k], value)
        out[name] = total
    return Moments(out["z"], out["zm"], out["zs"])
