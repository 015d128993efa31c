"""The dense lowering: the cumulants of the fluctuation as arrays over the points, layer by layer.

``kappa_s`` of ``X^(l) = S_l - K_l`` is an array ``(order + 1, M, ..., M)`` (``2s`` point axes, row ``k``
the ``n^-k`` part at the actual widths); ``X^(0) = 0``. Each layer transfers the cumulants with that
layer's curvature weights, Jacobian and one copy's cumulants (``copy_cumulants.CopyCumulants``): by
the lowered kernels of ``Program.compiled_transfer`` (``fused_transfer``), printed where the plan says so,
else, and for a cumulant with too many products to print (order 3's), run from their tables. At the
last layer the read-out networks take the moments of ``X^(L)`` as products of cumulants, along the pairwise
steps of ``Program.readout_plan`` (``readout.plan_readout``: each step shared by many networks computed once).
``kappa_s`` is needed for ``s <= order + 1``: memory
``M^(2 order + 2)``, for any activation and any order.
"""
from __future__ import annotations

import numpy as np

from ..activation import power_coefficients
from ..problem import Moments, Problem
from ..progress import progress
from .copy_cumulants import CopyCumulants
from .fused_transfer import Argument, CompiledTransfer, LayerArrays
from .layer_maps import propagate
from .program import program
from .readout import ReadoutOperands
from .runtime_terms import readout_moments


def layer_arguments(
    needed: set[Argument], K: np.ndarray, weights: dict, cumulants: CopyCumulants, state: dict[int, np.ndarray],
    mixed: dict[int, np.ndarray] | None = None,
) -> dict[Argument, np.ndarray]:
    """The arrays the kernels read at one layer (C-contiguous: one compiled signature); ``mixed``: ``s ->``
    ``kappa(X^(l)_e, s entries of this layer's input)``, for the mixed cumulants' kernels."""
    zero = np.zeros_like(K)
    jacobian = (weights.get((0, 0, 1), zero), weights.get((1, 0, 0), zero))
    sources = {"state": state, "mixed": mixed}
    dressed: dict[tuple[str, int, int], np.ndarray] = {}  # (kind, size, j): J on the first j entries
    arrays = {}
    for argument in needed:
        if argument.kind == "weight":
            value = weights.get(argument.key, zero)
        elif argument.kind == "noise":
            value = cumulants.tensor(K, *argument.key)
        else:  # a state (or mixed) cumulant, dressed one entry at a time; a mixed one's entries follow the spectator's
            kind, (size, j) = argument.kind, argument.key
            for i in range(j + 1):
                if (kind, size, i) not in dressed:
                    first = 2 * i - 1 + 2 * (kind == "mixed")
                    dressed[kind, size, i] = (sources[kind][size] if i == 0 else
                                              propagate(dressed[kind, size, i - 1], (first, first + 1), jacobian))
            value = dressed[kind, size, j]
        arrays[argument] = np.ascontiguousarray(value)
    return arrays


def transfer_layer(transfer: CompiledTransfer, K: np.ndarray, width: int, weights: dict, cumulants: CopyCumulants,
                   state: dict[int, np.ndarray], arrays: dict[Argument, np.ndarray] | None = None,
                   ) -> dict[int, np.ndarray]:
    """The cumulants of the next layer's fluctuation from this layer's (``state``), by the compiled kernels;
    ``arrays``: the kernels' arguments where the caller has them (``layer_arguments``)."""
    needed = transfer.arguments()
    arrays = layer_arguments(needed, K, weights, cumulants, state) if arrays is None else arrays
    packed = LayerArrays({argument: arrays[argument] for argument in needed})
    return {n: transfer.apply(n, width, packed, len(K)) for n in sorted(transfer.kernels)}


def dense_moments(problem: Problem, printed: bool = True) -> Moments:
    """The moments through the dense lowering; ``printed``: run the printed transfer kernels (the plan decides:
    ``cost.PRINT_FROM_SECONDS``), else the kernels' tables."""
    order, widths = problem.order, problem.widths
    compiled = program(problem.phi, order, problem.sigma_w2)
    local_map = compiled.local_map
    cumulants = CopyCumulants(power_coefficients(problem.phi), float(problem.sigma_w2))
    transfer = compiled.compiled_transfer(printed)
    M = len(problem.kernels[-1])
    state = {n: np.zeros((order + 1,) + (M,) * (2 * n)) for n in range(1, order + 2)}
    with progress(len(widths), f"order {order}: cumulants through the layers", enabled=order >= 2) as bar:
        for layer, width in enumerate(widths, start=1):
            K = problem.kernels[layer - 1]
            state = transfer_layer(transfer, K, width, local_map.weights(K), cumulants, state)
            cumulants.forget()
            bar.update()
    operands = ReadoutOperands(problem.kernels[-1], problem.n_train, problem.y, problem.sigma2)
    return readout_moments(operands, state, order, compiled.readout_plan(tested=problem.n_test > 0))
