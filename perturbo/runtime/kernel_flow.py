"""Infinite-width kernels of a shaped network.

Finite depth (exact): ``K_0 = sigma_w2 X X^T / N0`` and ``K_l = m(K_{l-1})`` for
``l = 1..L``, with ``m`` the Gaussian mean map of the activation; the network
output is ``N(0, K_L)`` at infinite width.

Continuum (``L -> inf``, default cubic, ``sigma_w2 = 1``): the flow
``dK_aa/dt = 2 psi K_aa^2``, ``dK_ab/dt = psi (K_aa + K_bb) K_ab`` integrates to
the feature-map kernel ``K_ab = xh_a . xh_b / N0``, ``xh = x / sqrt(1 - 2 psi |x|^2/N0)``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .local_map import LocalPolynomial


def input_kernel(X: np.ndarray, sigma_w2: float) -> np.ndarray:
    """``S_0 = sigma_w2 X X^T / N0``."""
    return sigma_w2 * (X @ X.T) / X.shape[1]


def kernel_flow(S0: np.ndarray, layer_map: LocalPolynomial, depth: int, *, last_only: bool = False) -> list[np.ndarray]:
    """The layer kernels ``[K_0, K_1, ..., K_L]`` with ``K_l = m(K_{l-1})`` (``[K_L]`` if ``last_only``),
    computed by one fused pass (``LocalPolynomial.iterate``: each entry goes through all layers in registers).

    Raises ``ValueError`` if the kernel overflows (polynomial growth over many layers).
    """
    out, layer = layer_map.iterate(S0, depth, 1 if last_only else depth)
    if layer is not None:
        raise ValueError(
            f"the infinite-width kernel overflows at layer {layer} of {depth}: the activation grows too fast "
            "for inputs of this size; rescale the inputs, or reduce the shaping strength (psi or the activation)"
        )
    return list(out) if last_only else [np.asarray(S0, dtype=float), *out]


def tangent_kernel_flow(kernels: list[np.ndarray], derivative_map: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The neural tangent kernel of the output, ``Theta_L``: ``Theta_0 = K_0`` and
    ``Theta_l = K_l + dm(K_{l-1}) * Theta_{l-1}`` (entrywise), ``dm`` the layer map of ``phi'``."""
    theta = kernels[0]
    for previous, K in zip(kernels[:-1], kernels[1:]):
        theta = K + derivative_map(previous) * theta
    return theta


def continuum_kernel(X: np.ndarray, psi: float, X2: np.ndarray | None = None) -> np.ndarray:
    """The ``L -> inf`` kernel of ``phi(t) = t + psi t^3/(3L)`` at ``sigma_w2 = 1``.

    ``K(x, x') = xh . xh' / N0`` with ``xh = x / sqrt(1 - 2 psi |x|^2 / N0)``.
    Raises ``ValueError`` where ``2 psi |x|^2 / N0 >= 1`` (the flow blows up before depth 1).
    """
    X = np.asarray(X, dtype=float)
    X2 = X if X2 is None else np.asarray(X2, dtype=float)
    if X.ndim != 2 or X2.ndim != 2 or X.shape[1] != X2.shape[1]:
        raise ValueError("continuum_kernel needs 2-D inputs with the same number of columns N0")
    N0 = X.shape[1]

    def feature_map(A: np.ndarray) -> np.ndarray:
        blow_up = 2.0 * psi * np.sum(A**2, axis=1) / N0
        if np.any(blow_up >= 1.0):
            worst = int(np.argmax(blow_up))
            raise ValueError(
                f"the continuum kernel blows up: 2 psi |x|^2/N0 = {blow_up[worst]:.4g} >= 1 for input row {worst}; "
                "use smaller inputs or a smaller psi (or a finite-depth kernel)"
            )
        return A / np.sqrt(1.0 - blow_up)[:, None]

    return feature_map(X) @ feature_map(X2).T / N0
