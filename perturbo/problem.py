"""The one interface between the model and its evaluators, at the bottom of the import graph.

An evaluator (the compiler, ``perturbo.compiler.moments``; the sampled estimator; the test suite's
oracles) takes a ``Problem`` (the activation, the infinite-width kernels on the ``M = P + T`` stacked
points, the targets, the noise, the widths, the order) and returns the ``1/n`` series of the
unnormalised posterior moments, for all test points at once:

    z   (order + 1,)        E[z],                 z = Z(S_L) / Z_GP (the evidence relative to the GP)
    zm  (order + 1, T)      E[z m_x]
    zs  (order + 1, T, T)   E[z (C_xx' + m_x m_x')]

Row 0 is the Gaussian process (``1``, its mean, its second moment). The model turns these into
the log evidence, mean and covariance by the series algebra (``runtime.series``), once.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp

from .runtime import series


@dataclass(frozen=True)
class Problem:
    phi: sp.Expr
    sigma_w2: sp.Rational
    kernels: Sequence[np.ndarray]  # K_0 .. K_L on the stacked points, training points first
    n_train: int
    y: np.ndarray
    sigma2: float
    widths: tuple[int, ...]
    order: int
    lowering: str | None = None  # the compiler's lowering ("dense", "factored", "scale"); None: chosen by cost

    @property
    def n_test(self) -> int:
        return len(self.kernels[-1]) - self.n_train


@dataclass(frozen=True)
class Moments:
    z: np.ndarray
    zm: np.ndarray
    zs: np.ndarray

    def log_evidence_terms(self) -> np.ndarray:
        """Terms ``1..K`` of ``log E[z]`` (term 0, the Gaussian process, is added by the caller)."""
        return series.log(self.z)

    def mean_and_cov_terms(self) -> tuple[np.ndarray, np.ndarray]:
        """``mean = E[z m] / E[z]`` and ``cov = E[z (C + m m^T)] / E[z] - mean mean^T``, term by term."""
        mean = series.divide(self.zm, self.z[:, None])
        second = series.divide(0.5 * (self.zs + np.swapaxes(self.zs, 1, 2)), self.z[:, None, None])
        return mean, second - series.multiply(mean[:, :, None], mean[:, None, :])
