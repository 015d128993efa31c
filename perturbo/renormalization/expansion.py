"""The ansatz's own ``1/N`` expansion: its first-order coefficients, tree and loop.

At infinite width ``s_l = 1`` and ``Q_l = 0``. In the coordinates ``(s_l, Q_l)`` the prior action
``(N_l/2)(s Q - log(1 + Q))`` has Hessian ``(N_l/2) [[0, 1], [1, 1]]`` there and no cubic term that reaches
first order, so expanding the saddle point and its Gaussian fluctuations in ``1/N_l`` pairs derivatives through
the propagator

    Delta_l = (2/N_l) [[1, -1], [-1, 0]]        (``2/N_l`` on ``s_l`` alone for an odd activation),

and, with every derivative taken at infinite width and summed over the layers,

    log Z:  tree (1/2) dG.Delta dG,     loop (1/2) tr(Delta d2G),
    mean:   tree dG.Delta dm,           loop (1/2) tr(Delta d2m),
    var:    tree dG.Delta dv,           loop (1/2) tr(Delta d2v) + dm.Delta dm,
    cov:    tree dG.Delta dC,           loop (1/2) tr(Delta d2C) + dm_x.Delta dm_x'.

The tree part is the ``1/N`` term of the saddle-point answer, tree plus loop that of the saddle point with its
one-loop correction (and of the ansatz's own mixture integral). For the deep linear network, where the Wishart
ansatz is exact, tree plus loop is the exact first order, ``sum_l (1/N_l) (G'^2 + G'')`` for the log evidence.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ansatz import Ansatz
from .taylor import Taylor


@dataclass(frozen=True)
class Coefficients:
    """First-order (``n^-1``) coefficients at the actual widths: log evidence, and with test points the predictive."""

    log_evidence: float
    mean: np.ndarray | None
    var: np.ndarray | None
    cov: np.ndarray | None

    def __add__(self, other: Coefficients) -> Coefficients:
        def add(a, b):
            return None if a is None else a + b

        return Coefficients(self.log_evidence + other.log_evidence, add(self.mean, other.mean),
                            add(self.var, other.var), add(self.cov, other.cov))

    def __sub__(self, other: Coefficients) -> Coefficients:
        def sub(a, b):
            return None if a is None else a - b

        return Coefficients(self.log_evidence - other.log_evidence, sub(self.mean, other.mean),
                            sub(self.var, other.var), sub(self.cov, other.cov))


@dataclass(frozen=True)
class FirstOrder(Coefficients):
    """Tree plus loop (the ``terms[1]`` of the ansatz's own expansion), and each part."""

    tree: Coefficients
    loop: Coefficients


def propagator(width: int, odd: bool) -> np.ndarray:
    return (2.0 / width) * (np.ones((1, 1)) if odd else np.array([[1.0, -1.0], [-1.0, 0.0]]))


def first_order(ansatz: Ansatz, predictive: bool) -> FirstOrder:
    """The coefficients of the module docstring, one layer's order parameters as ``Taylor`` variables at a time."""
    L = len(ansatz.widths)
    tree, loop = [], []
    for l, width in enumerate(ansatz.widths):
        delta = propagator(width, ansatz.odd)
        variables = Taylor.variables(np.array([1.0] if ansatz.odd else [1.0, 0.0]), second=True)
        s: list = [1.0] * L
        c: list = [1.0] * L
        s[l] = variables[0]
        if not ansatz.odd:
            c[l] = (variables[1] + 1.0).reciprocal()
        readout = ansatz.readout(s, c, predictive)
        dG = readout.log_evidence.grad
        tree_G = 0.5 * dG @ delta @ dG
        loop_G = 0.5 * np.sum(delta * readout.log_evidence.hess)
        if readout.mean is None:
            tree.append(Coefficients(tree_G, None, None, None))
            loop.append(Coefficients(loop_G, None, None, None))
            continue
        m, C = readout.mean, readout.cov
        dm = m.grad  # (n, T)
        tree_cov = np.einsum("i,ij,jxy->xy", dG, delta, C.grad)
        loop_cov = 0.5 * np.einsum("ij,ijxy->xy", delta, C.hess) + np.einsum("ix,ij,jy->xy", dm, delta, dm)
        tree.append(Coefficients(tree_G, dG @ delta @ dm, np.diagonal(tree_cov).copy(), tree_cov))
        loop.append(Coefficients(loop_G, 0.5 * np.einsum("ij,ijx->x", delta, m.hess), np.diagonal(loop_cov).copy(),
                                 loop_cov))
    tree_total, loop_total = sum(tree[1:], tree[0]), sum(loop[1:], loop[0])
    both = tree_total + loop_total
    return FirstOrder(both.log_evidence, both.mean, both.var, both.cov, tree_total, loop_total)
