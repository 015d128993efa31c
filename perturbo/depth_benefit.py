"""When does depth raise the evidence? The first-order term of the log evidence per unit of effective depth ``L P/N``.

At first order in ``1/N`` the log evidence of a deep shaped network is ``log Z_GP + terms[1]``, and ``terms[1]`` grows
in proportion to the effective depth ``L P / N`` (exactly for the deep linear network; as ``L -> inf`` at fixed
``L/N`` for the shaped ones, where ``terms[1] -> (L/N) int_0^1 h(t) dt``). Its coefficient

    c = terms[1] / (L P / N)

decides (Hanin & Jiang 2026, "Bayesian inference with shaped deep non-linear MLPs"): where ``c > 0`` a larger
``L P / N`` raises the evidence, where ``c < 0`` it lowers it. For the deep linear network at ``beta = inf``,
``c = [(r - P)^2/4 - r + P/2] / P`` with ``r = y^T K^-1 y`` (``closed_form("log_evidence", 1)``): depth helps unless
``r`` is within about ``2 sqrt(P)`` of ``P``. ``depth_benefit`` evaluates ``c`` from the engine at finite depths and,
for the default cubic, from the continuum limit.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .model import ShapedMLP
from .validation import check_beta, check_count, check_data

WIDTH_PER_LAYER = 64
"""Width per layer of the networks the coefficient is read from (``terms[1]`` is linear in ``1/N``, so the width
only has to be a number)."""


@dataclass(frozen=True)
class DepthBenefit:
    """``coefficient[i]``: ``terms[1] / (L P / N)`` at ``depths[i]``; ``continuum``: its ``L -> inf`` limit (default
    cubic with ``sigma_w2 = 1``, else ``None``); ``r0 = y^T K_L^-1 y / P`` at the deepest network."""

    depths: np.ndarray
    coefficient: np.ndarray
    continuum: float | None
    r0: float

    @property
    def depth_helps(self) -> bool:
        """The sign at the deepest network (or in the continuum): does a larger ``L P / N`` raise the evidence?"""
        return (self.continuum if self.continuum is not None else float(self.coefficient[-1])) > 0


def depth_benefit(X: np.ndarray, y: np.ndarray, beta: float = math.inf, psi: float = 0.0,
                  activation: str | None = None, depths: Sequence[int] = (4, 16, 64)) -> DepthBenefit:
    """The first-order coefficient of the log evidence per unit ``L P / N`` (module docstring) at each depth, and its
    continuum limit for the default cubic."""
    beta = check_beta(beta)
    X, y, _ = check_data(X, y, None, beta)
    depths = sorted({check_count(L, "depth", 1) for L in depths})
    P = len(y)
    coefficients = []
    for L in depths:
        net = ShapedMLP(depth=L, width=WIDTH_PER_LAYER * L, psi=psi, activation=activation)
        terms = net.evidence(X, y, beta=beta, order=1).terms
        coefficients.append(terms[1] / (L * P / net.widths[0]))
    continuum = None
    if activation is None:
        deep = ShapedMLP(depth=depths[-1], width=WIDTH_PER_LAYER * depths[-1], psi=psi)
        try:
            terms = deep.evidence(X, y, beta=beta, order=1, limit="continuum").terms
            continuum = float(terms[1] / (deep.depth * P / deep.widths[0]))
        except ValueError:  # outside the continuum's domain (2 psi |x|^2 / N0 >= 1)
            continuum = None
    K = net.kernels(X, last_only=True)[-1]
    return DepthBenefit(np.array(depths), np.array(coefficients), continuum, float(y @ np.linalg.solve(K, y) / P))
