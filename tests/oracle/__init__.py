"""Independent exact oracles for the compiler.

- ``pattern_series``: docs/design.md section 8 (insertion patterns and their diagrams), evaluated densely. Every
  order and activation, placement by placement; slow (thousands of diagrams at order 2), so for tests on a
  few points only. Shares with the compiler only the read-out networks and the layer map's local Taylor
  coefficients; the copies' moments come from symbolic Taylor tables (``tables``).
- ``words.word_moments``: linear layer maps through the pull-back in the algebra of matrix words
  (``word_algebra``), any number of points, orders 1-3; it does not use the rotation invariance that
  the compiler's scale lowering rests on.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sympy as sp

from perturbo.compiler.layer_maps import LocalMap
from perturbo.compiler.readout import ReadoutOperands, readout_networks

from .dense import Layers, contract_readout, evaluate_placement
from .diagrams import diagrams, placements as node_placements
from .patterns import patterns, placements
from .tables import CopyMoments


def pattern_series(
    phi: sp.Expr,
    sigma_w2: sp.Rational,
    kernels: Sequence[np.ndarray],
    n_train: int,
    y: np.ndarray,
    sigma2: float,
    widths: Sequence[int],
    order: int,
) -> dict[str, np.ndarray]:
    local_map = LocalMap(phi, sigma_w2)
    moments = CopyMoments(phi, sigma_w2)
    data = Layers(kernels, local_map, moments)
    operands = ReadoutOperands(kernels[-1], n_train, y, sigma2)
    M, depth = len(kernels[-1]), len(widths)
    T = M - n_train
    shapes = {"z": (), "zm": (T,), "zs": (T, T)} if T else {"z": ()}
    out = {name: np.zeros((order + 1,) + shape) for name, shape in shapes.items()}
    for name in shapes:
        out[name][0] = sum(contract_readout(net, operands, []) for net in readout_networks(0, 2 * order)[name])
    accumulated: dict[int, np.ndarray] = {}
    for pattern in patterns(order):
        inputs = {a: moments.inputs(a, pattern.noise_factors - a) for a in {a for g in pattern.groups for a in g}}
        for letters in range(1, pattern.noise_factors + 1):
            for diagram in diagrams(pattern, letters, local_map.curvatures, inputs):
                for group_layers in placements(pattern, depth):
                    weight = pattern.weight([widths[l - 1] for l in group_layers], order)
                    if not np.any(weight):
                        continue
                    for layers in node_placements(diagram, group_layers, depth):
                        pending = evaluate_placement(diagram, layers, data)
                        letter_tensor = _outer(pending, letters)
                        accumulated[letters] = accumulated.get(letters, 0.0) + np.multiply.outer(weight, letter_tensor)
    for letters, tensor in accumulated.items():
        networks = readout_networks(letters, 2 * order)
        slots = [[(np.asarray(tensor[k]), [("pos", -1, i, s) for i in range(letters) for s in (0, 1)])]
                 for k in range(order + 1)]
        for name in shapes:
            for k in range(order + 1):
                out[name][k] += sum(contract_readout(net, operands, slots[k]) for net in networks[name])
    return out


def _outer(pending, letters: int) -> np.ndarray:
    """The product of the pending arrays with axes in letter order ``(letter 0 side 0, letter 0 side 1, ...)``."""
    import opt_einsum
    order = [("pos", -1, i, s) for i in range(letters) for s in (0, 1)]
    symbols = {tag: opt_einsum.get_symbol(k) for k, tag in enumerate(order)}
    subscripts = ",".join("".join(symbols[t] for t in tags) for _, tags in pending)
    return np.einsum(subscripts + "->" + "".join(symbols[t] for t in order), *[a for a, _ in pending])


