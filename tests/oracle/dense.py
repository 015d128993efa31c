"""Dense evaluation of diagrams: every node an array over its points, propagators applied in place.

For one placement (a layer for every node) the nodes are taken sources first. A node's
array (``moments.CopyMoments.tensor`` for a copy, the curvature weight ``c^beta`` for a
curvature node) has one axis per label; each input position identifies its two labels with
the two axes of the (already propagated) value that feeds it, multiplying the arrays that
hold them. Each output is then carried to its consumer's frame by the propagator between the
two layers (``layer_maps.propagate``). What remains at the end are arrays over the read-out
letters' index pairs; the read-out networks (``readout``) contract them.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import opt_einsum

from perturbo.compiler.layer_maps import LocalMap, propagate
from perturbo.compiler.readout import ReadoutNetwork, ReadoutOperands

from .diagrams import LETTER, Copy, Diagram
from .tables import CopyMoments

Tag = tuple


class Propagators:
    """``P_{l<-s}`` for the layers of one evaluation, computed on demand from the Jacobians."""

    def __init__(self, jacobians: list[tuple[np.ndarray, np.ndarray]]) -> None:
        self.jacobians = jacobians  # (F_l, E_l) for l = 1..L at index l - 1
        self._cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def __call__(self, target: int, source: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``(W, U)`` of ``P_{target<-source}``; ``None`` for the identity (``target == source``)."""
        if target == source:
            return None
        key = (target, source)
        if key not in self._cache:
            previous = self(target - 1, source)
            F, E = self.jacobians[target - 1]
            if previous is None:
                W, U = F, E
            else:
                W0, U0 = previous
                d = np.diagonal(W0) + 2 * np.diagonal(U0)
                W, U = F * W0, F * U0 + E * d[:, None]
            self._cache[key] = (W, U)
        return self._cache[key]


class Layers:
    """Everything a placement needs from the layers: kernels, curvature weights, propagators, copy moments."""

    def __init__(self, kernels: Sequence[np.ndarray], local_map: LocalMap, moments: CopyMoments) -> None:
        self.kernels = kernels
        self.depth = len(kernels) - 1
        self.weights = [None] + [local_map.weights(kernels[l - 1]) for l in range(1, self.depth + 1)]
        zero = np.zeros_like(kernels[0])
        self.propagators = Propagators(
            [(w.get((0, 0, 1), zero), w.get((1, 0, 0), zero)) for w in self.weights[1:]]
        )
        self.moments = moments
        self._copies: dict[tuple[int, int, tuple], np.ndarray] = {}

    def copy_tensor(self, layer: int, size: int, alpha: tuple) -> np.ndarray:
        key = (layer, size, alpha)
        if key not in self._copies:
            self._copies[key] = self.moments.tensor(self.kernels[layer - 1], size, alpha)
        return self._copies[key]


def _letters(tags: list[Tag]) -> dict[Tag, str]:
    return {tag: opt_einsum.get_symbol(i) for i, tag in enumerate(tags)}


def _merge(pending: list[tuple[np.ndarray, list[Tag]]], new: tuple[np.ndarray, list[Tag]],
           same: dict[Tag, Tag]) -> tuple[np.ndarray, list[Tag]]:
    """Multiply ``new`` with the pending arrays that hold tags of ``same`` (tag -> the label it equals)."""
    chosen = [p for p in pending if any(t in same for t in p[1])]
    pending[:] = [p for p in pending if not any(t in same for t in p[1])]
    arrays = [new] + chosen
    renamed = [[same.get(t, t) for t in tags] for _, tags in arrays]
    out = list(dict.fromkeys(t for tags in renamed for t in tags))
    symbols = _letters(out)
    subscripts = ",".join("".join(symbols[t] for t in tags) for tags in renamed) + "->" + "".join(symbols[t] for t in out)
    return np.einsum(subscripts, *[a for a, _ in arrays]), out


def evaluate_placement(diagram: Diagram, layers: tuple[int, ...], data: Layers) -> list[tuple[np.ndarray, list[Tag]]]:
    """The arrays over the read-out letters' index pairs: tag ``("pos", -1, k, side)`` for letter ``k``."""
    pending: list[tuple[np.ndarray, list[Tag]]] = []
    for n in diagram.order_of_evaluation:
        node, layer = diagram.nodes[n], layers[n]
        if isinstance(node, Copy):
            array = data.copy_tensor(layer, node.size, node.alpha)
        else:
            array = data.weights[layer][node.beta]
        labels = [("lab", n, i) for i in range(array.ndim)]
        same = {}
        for k, (i, j) in enumerate(node.inputs):
            same[("pos", n, k, 0)] = ("lab", n, i)
            same[("pos", n, k, 1)] = ("lab", n, j)
        array, tags = _merge(pending, (array, labels), same)
        for o, position in enumerate(diagram.consumers[n]):
            first, second = (2 * o, 2 * o + 1) if isinstance(node, Copy) else (0, 1)
            target = data.depth if position[0] == LETTER else layers[position[0]] - 1
            axes = (tags.index(("lab", n, first)), tags.index(("lab", n, second)))
            array = propagate(array, axes, data.propagators(target, layer))
            tags[axes[0]], tags[axes[1]] = ("pos",) + position + (0,), ("pos",) + position + (1,)
        pending.append((array, tags))
    return pending


def contract_readout(network: ReadoutNetwork, operands: ReadoutOperands,
                     pending: list[tuple[np.ndarray, list[Tag]]]) -> np.ndarray:
    """``coefficient * sum prod`` of the read-out network with the letters fed by ``pending``."""
    slot_index = {}
    for k, (p, q) in enumerate(network.slots):
        slot_index[("pos", LETTER, k, 0)] = p
        slot_index[("pos", LETTER, k, 1)] = q
    terms = [(operands[op], idx) for op, idx in network.operands]
    terms += [(array, tuple(slot_index[t] for t in tags)) for array, tags in pending]
    if not terms:
        return np.asarray(float(network.coefficient))
    names = list(dict.fromkeys(i for _, idx in terms for i in idx))
    symbols = {name: opt_einsum.get_symbol(k) for k, name in enumerate(names)}
    subscripts = ",".join("".join(symbols[i] for i in idx) for _, idx in terms) + "->" + "".join(
        symbols[i] for i in network.free
    )
    return float(network.coefficient) * opt_einsum.contract(subscripts, *[a for a, _ in terms])
