"""Result objects returned by :class:`perturbo.ShapedMLP`.

``terms[k]`` is the contribution proportional to ``n^-k`` (DESIGN section 1);
the order-K answer is the sum of the terms.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def log_partition_from_evidence(log_evidence: float, n_train: int, beta: float) -> float | None:
    """``log Z_beta = log evidence + (P/2) log(2 pi P / beta)``; ``None`` at ``beta = inf``."""
    if math.isinf(beta):
        return None
    return log_evidence + 0.5 * n_train * math.log(2.0 * math.pi * n_train / beta)


@dataclass(frozen=True)
class Evidence:
    """Log evidence ``log E_prior[N(y; f(X), (P/beta) I)]`` to order ``order`` in ``1/width``."""

    log_evidence: float
    terms: np.ndarray  # (K+1,)
    log_partition: float | None  # paper's log Z_beta; None at beta = inf
    order: int
    beta: float


@dataclass(frozen=True)
class Prediction:
    """Posterior predictive of the latent ``f(x)`` at the test inputs, to order ``order``."""

    mean: np.ndarray  # (T,)
    var: np.ndarray  # (T,)
    cov: np.ndarray  # (T, T)
    mean_terms: np.ndarray  # (K+1, T)
    var_terms: np.ndarray  # (K+1, T)
    cov_terms: np.ndarray  # (K+1, T, T)
    order: int
    beta: float


@dataclass(frozen=True)
class ExactResult:
    """Exact deep-linear answers (any width): evidence and, with test inputs, the predictive."""

    log_evidence: float
    log_partition: float | None
    mean: np.ndarray | None
    var: np.ndarray | None
    cov: np.ndarray | None
