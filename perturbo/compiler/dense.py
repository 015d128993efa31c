"""The dense lowering: the cumulants of the fluctuation as arrays over the points, layer by layer.

``kappa_s`` of ``X^(l) = S_l - K_l`` is an array ``(order + 1, M, ..., M)`` (``2s`` point axes, row ``k``
the ``n^-k`` part at the actual widths); ``X^(0) = 0``. Each layer applies the derived transfer terms
(``transfer``) with that layer's curvature weights, Jacobian and one copy's cumulants
(``moments.CopyCumulants``); at the last layer the read-out networks take the moments of ``X^(L)``
as products of cumulants (``runtime_terms.readout_expectation``). ``kappa_s`` is needed for
``s <= order + 1``: memory ``M^(2 order + 2)``, for any activation and any order.
"""
from __future__ import annotations

import numpy as np

from ..problem import Moments, Problem
from ..progress import progress
from .layer_maps import LocalMap
from .copy_cumulants import CopyCumulants
from .readout import ReadoutOperands
from .runtime_terms import LayerTransfer, readout_moments
from .transfer import transfer_terms_for


def dense_moments(problem: Problem) -> Moments:
    order, widths = problem.order, problem.widths
    local_map = LocalMap(problem.phi, problem.sigma_w2)
    cumulants = CopyCumulants(problem.phi, float(problem.sigma_w2))
    terms = transfer_terms_for(problem.phi, local_map, order)
    M = len(problem.kernels[-1])
    state = {n: np.zeros((order + 1,) + (M,) * (2 * n)) for n in range(1, order + 2)}
    with progress(len(widths), f"order {order}: cumulants through the layers", enabled=order >= 2) as bar:
        for layer, width in enumerate(widths, start=1):
            K = problem.kernels[layer - 1]
            step = LayerTransfer(K, width, local_map.weights(K), cumulants, order)
            state = {n: step.apply(terms[n], state, n) for n in range(1, order + 2)}
            cumulants.forget()
            bar.update()
    operands = ReadoutOperands(problem.kernels[-1], problem.n_train, problem.y, problem.sigma2)
    return readout_moments(operands, state, order)
