"""Posterior representations: the posterior mean of every hidden layer's Gram matrix, order by order.

With ``X^(l) = S_l - K_l`` and ``z`` the evidence ratio (a function of ``X^(L)``),

    E_post[S_l] = K_l + E[X^(l) z] / E[z].

``E[X^(l)_e z]`` is the read-out of ``z`` with the entry ``e`` as one more item of each moment: the blocks
holding it are mixed cumulants ``kappa(X^(l)_e, X^(m)_f1 .. X^(m)_fs)``, ``m >= l``. At ``m = l`` they are
the cumulants ``kappa_(s+1)`` of ``X^(l)``; each later layer carries them by the spectator transfer terms
(``transfer.transfer_terms(..., spectator=True)``: given ``X^(l)`` and ``X^(m-1)`` the entry ``X^(l)_e`` is
a constant). ``kappa(X^(l)_e, s entries) = O(n^-max(1, s))``, so ``s <= order`` is carried: memory
``L + 3`` arrays of ``(order + 1) M^(2 order + 2)`` entries (``cost.representation_memory``, measured), work
``L^2 / 2`` layer steps of the dense lowering's size. Both transfers run the lowered
kernels' tables (``Program.compiled_transfer``, ``Program.spectator_transfer``: ``fused_transfer.run_products``).
"""
from __future__ import annotations

import numpy as np

from ..activation import power_coefficients
from ..problem import Problem
from ..progress import progress
from .copy_cumulants import CopyCumulants
from .dense import layer_arguments, transfer_layer
from .fused_transfer import LayerArrays
from .program import program
from .readout import ReadoutOperands
from .runtime_terms import readout_expectation, readout_series


def representation_moments(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """``(E[z], E[X^(l) z])``: series of shapes ``(order + 1,)`` and ``(L, order + 1, M, M)``."""
    order, widths = problem.order, problem.widths
    compiled = program(problem.phi, order, problem.sigma_w2)
    local_map, spectator = compiled.local_map, compiled.spectator_transfer
    cumulants = CopyCumulants(power_coefficients(problem.phi), float(problem.sigma_w2))
    transfer = compiled.compiled_transfer(printed=False)  # the dense lowering's tables
    mixed_arguments = {a for a in spectator.arguments() if a.kind == "mixed"}
    unmixed = spectator.arguments() - mixed_arguments
    M = len(problem.kernels[-1])
    state = {n: np.zeros((order + 1,) + (M,) * (2 * n)) for n in range(1, order + 2)}
    mixed: list[dict[int, np.ndarray]] = []  # per earlier layer l: s -> kappa(X^(l)_e, s entries of X^(m))
    with progress(len(widths), f"order {order}: representations through the layers", enabled=order >= 2) as bar:
        for layer, width in enumerate(widths, start=1):
            K = problem.kernels[layer - 1]
            weights = local_map.weights(K)
            shared = layer_arguments(transfer.arguments() | unmixed, K, weights, cumulants, state)  # dressed once
            for l, earlier in enumerate(mixed):  # carried one layer on, in place: one earlier layer's arrays extra
                arrays = LayerArrays({a: shared[a] for a in unmixed}
                                     | layer_arguments(mixed_arguments, K, weights, cumulants, state, earlier))
                mixed[l] = {0: earlier[0]} | {n: spectator.apply(n, width, arrays, M) for n in range(1, order + 1)}
            state = transfer_layer(transfer, K, width, weights, cumulants, state, shared)
            mixed.append({s: state[s + 1] for s in range(order + 1)})
            cumulants.forget()
            bar.update()
    K_L = problem.kernels[-1]
    operands = ReadoutOperands(K_L, problem.n_train, problem.y, problem.sigma2)
    z = readout_series(operands, state, order, compiled.readout_plan(tested=False))["z"]
    out = np.zeros((len(widths), order + 1, M, M))
    for l, carried in enumerate(mixed):
        for letters in range(2 * order + 1):
            value = readout_expectation(compiled.readout[letters]["z"], operands, state, order, carried)
            if value is not None:
                out[l] += value
    return z, out
