"""The 1/n expansion of the evidence and the posterior moments, to any order (the pull-back oracle).

    E[G(S_L)] = E[F_L(D_L)] = E[F_{L-1}(D_{L-1})] = ... = F_0(0),

with ``F_L`` the read-out polynomial (``contraction``) and each ``F_{l-1}`` the
pull-back of ``F_l`` through layer ``l`` (``layer_step``). ``D_0 = 0``, so the
constant term of ``F_0`` is the answer, an eps-series per quantity. Widths enter
as ``1/N_l = eps / N_l``: row ``k`` of the result is the ``n^-k`` term at the actual widths.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from perturbo.progress import progress

from .contraction import readout_polynomials
from .layer_step import LayerMoments, TestFunction, kept_orders, pull_back
from .tables import TaylorTable
from .truncated_poly import GramEntries


def readout_series(
    kernels: Sequence[np.ndarray],
    n_train: int,
    y: np.ndarray,
    sigma2: float,
    widths: Sequence[int],
    moments: dict[int, TaylorTable],
    order: int,
) -> np.ndarray:
    """eps-series ``(order + 1, Q)`` of ``E[z]``, ``E[z m_x]``, ``E[z (C + m m)_xx']`` (``contraction``)."""
    M = kernels[-1].shape[0]
    entries = GramEntries(M)
    polys = readout_polynomials(kernels[-1], n_train, y, sigma2, entries, 2 * order)
    F: TestFunction = {}
    for q, poly in enumerate(polys):
        for m, c in poly.terms.items():
            if kept_orders(order, len(m)) > 0:
                F.setdefault(m, np.zeros((order + 1, len(polys))))[0, q] = c
    with progress(len(widths), f"order-{order} pull-back through the layers", enabled=order >= 2) as bar:
        for l in range(len(widths), 0, -1):
            layer = LayerMoments(kernels[l - 1], moments, entries, order)
            F = pull_back(F, layer, 1.0 / widths[l - 1])
            bar.update()
    return F.get((), np.zeros((order + 1, len(polys))))
