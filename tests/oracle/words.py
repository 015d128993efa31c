"""An independent check of the scale lowering: linear layer maps through the algebra of matrix words.

It does not use rotation invariance: for ``phi(t) = lambda t`` the pull-back of the read-out is a map on polynomials in matrix words
(``word_algebra``), derived once per order and independent of the data; the numbers per layer are
powers of ``g = sigma_w2 lambda^2`` and the widths. What is left at layer 0 is a polynomial in
closed words of ``A`` and ``K_L`` (traces and quadratic forms), evaluated here once each.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from perturbo.problem import Moments, Problem
from perturbo.compiler.readout import ReadoutOperands
from perturbo.ir.networks import Closed
from perturbo.compiler.scale import linear_slope

from .word_algebra import Transfer

FREE = {"z": "", "zm": "X", "zs": "XY"}


@lru_cache(maxsize=8)
def word_transfer(order: int) -> Transfer:
    """The order's pull-back map (order 3: about a minute to derive)."""
    return Transfer(order)


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
            arrays = [operands[Closed(*word)] for word in words]
            subscripts = ",".join("".join({"x": "X", "x'": "Y"}[e] for e in (w[0], w[2]) if e in ("x", "x'")) for w in words)
            value = np.einsum(subscripts + "->" + free, *arrays) if arrays else np.asarray(1.0)
            total += np.multiply.outer(state[k], value)
        out[name] = total
    return Moments(out["z"], out["zm"], out["zs"])
