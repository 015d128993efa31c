"""Result objects returned by :class:`perturbo.ShapedMLP`.

``terms[k]`` is the contribution proportional to ``n^-k`` (docs/design.md section 1);
the order-K answer is the sum of the terms.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .renormalization.expansion import FirstOrder

ROUNDOFF = 1e-10
"""Corrections smaller than this times the leading term are taken as zero when judging convergence."""

REGIME = (
    "the series is built for many layers, a weak per-layer shaping and L*P/N small: "
    "use wider layers or a lower order"
)


def truncation_diagnostics(
    terms: np.ndarray, name: str, scale: float, terms_se: np.ndarray | None = None
) -> tuple[np.ndarray | float | None, bool | None]:
    """Error estimate ``|terms[K]|`` (the last included correction) and whether corrections shrink.

    ``converging`` is ``None`` below order 2 (one correction cannot show a trend), else
    ``|terms[k]| <= |terms[k-1]|`` for all ``k >= 2`` (every entry), ignoring corrections
    below the roundoff floor ``ROUNDOFF * scale``, with ``scale`` the natural size of the
    quantity (exact zeros, e.g. the deep linear mean at zero temperature or the variance at a
    training point, come out at 1e-16 and have no trend). Sampled terms (``terms_se`` given) count as
    growing only when the growth exceeds two standard errors of each. When it fails a
    ``RuntimeWarning`` says so: the series is asymptotic, and adding terms past the
    smallest one makes the answer worse.
    """
    order = len(terms) - 1
    if order == 0:
        return None, None
    size = np.abs(terms)
    estimate = size[-1] if size.ndim > 1 else float(size[-1])
    if order < 2:
        return estimate, None
    floor = ROUNDOFF * scale
    margin = np.zeros_like(size) if terms_se is None else 2.0 * np.asarray(terms_se)
    growing = [k for k in range(2, order + 1)
               if np.any((size[k] - margin[k] > size[k - 1] + margin[k - 1]) & (size[k] > floor))]
    if growing:
        k = growing[0]
        warnings.warn(
            f"the 1/N series of the {name} is not converging here: term {k} "
            f"(max {np.max(size[k]):.3g}) is larger than term {k - 1} (max {np.max(size[k - 1]):.3g}); "
            f"{REGIME}",
            RuntimeWarning,
            stacklevel=3,
        )
    return estimate, not growing


def require_finite(values: np.ndarray | float | None, name: str) -> None:
    """``ValueError`` instead of returning an overflowed (infinite or NaN) answer."""
    if values is not None and not np.all(np.isfinite(values)):
        raise ValueError(
            f"the {name} is not finite (floating-point overflow): rescale the targets y or the inputs X "
            "to order one, or use a lower order"
        )


def log_partition_from_evidence(log_evidence: float, n_train: int, beta: float) -> float | None:
    """``log Z_beta = log evidence + (P/2) log(2 pi P / beta)``; ``None`` at ``beta = inf``."""
    if math.isinf(beta):
        return None
    return log_evidence + 0.5 * n_train * math.log(2.0 * math.pi * n_train / beta)


def expected_squared_error(y_test: np.ndarray, mean: np.ndarray | None, var: np.ndarray | None) -> float:
    """``mean_x [(y_test(x) - mean(x))^2 + var(x)]``: the posterior expected squared error of the latent ``f`` on the
    test targets (``ValueError`` for targets that do not fit, or without test points)."""
    if mean is None:
        raise ValueError("this result has no test points: give X_test to get a generalisation error")
    try:
        y_test = np.asarray(y_test, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("y_test must be an array of real numbers") from None
    if y_test.shape != np.shape(mean):
        raise ValueError(f"y_test must have shape {np.shape(mean)}, one target per test input, got {y_test.shape}")
    if not np.all(np.isfinite(y_test)):
        raise ValueError("y_test contains NaN or infinite values")
    return float(np.mean((y_test - mean) ** 2 + var))


class PredictiveResult:
    """The generalisation error of a result with a posterior predictive ``mean`` and ``var`` on the test points."""

    mean: np.ndarray | None
    var: np.ndarray | None
    noise_variance: float

    def generalization_error(self, y_test: np.ndarray, noisy: bool = False) -> float:
        """``expected_squared_error`` of ``y_test``; ``noisy=True`` adds the noise variance ``P/beta``: the expected
        error on a noisy label."""
        return expected_squared_error(y_test, self.mean, self.var) + (self.noise_variance if noisy else 0.0)


@dataclass(frozen=True)
class Evidence:
    """Log evidence ``log E_prior[N(y; f(X), (P/beta) I)]`` to order ``order`` in ``1/width``."""

    log_evidence: float
    terms: np.ndarray  # (K+1,)
    log_partition: float | None  # paper's log Z_beta; None at beta = inf
    order: int
    beta: float
    error_estimate: float | None = None  # |terms[order]|; None at order 0
    converging: bool | None = None  # corrections shrinking; None below order 2
    terms_se: np.ndarray | None = None  # (K+1,) standard errors of sampled terms (terms_se[0] == 0); None if exact
    method: str = "exact"  # "exact" or "sampled" (what method="auto" chose)
    lowering: str | None = None  # the compiler's lowering that ran: "dense", "factored", "scale"; None if it did not


@dataclass(frozen=True)
class Prediction(PredictiveResult):
    """Posterior predictive of the latent ``f(x)`` at the test inputs, to order ``order``."""

    mean: np.ndarray  # (T,)
    var: np.ndarray  # (T,)
    cov: np.ndarray  # (T, T)
    mean_terms: np.ndarray  # (K+1, T)
    var_terms: np.ndarray  # (K+1, T)
    cov_terms: np.ndarray  # (K+1, T, T)
    order: int
    beta: float
    mean_error_estimate: np.ndarray | None = None  # |mean_terms[order]|; None at order 0
    var_error_estimate: np.ndarray | None = None  # |var_terms[order]|
    converging: bool | None = None  # mean and variance corrections shrinking; None below order 2
    mean_terms_se: np.ndarray | None = None  # (K+1, T) standard errors of sampled terms; None if exact
    var_terms_se: np.ndarray | None = None  # (K+1, T)
    cov_terms_se: np.ndarray | None = None  # (K+1, T, T)
    method: str = "exact"  # "exact" or "sampled"
    noise_variance: float = 0.0  # P/beta
    lowering: str | None = None  # as for Evidence


@dataclass(frozen=True)
class Representations:
    """Posterior mean of every hidden layer's Gram matrix ``S_1 .. S_L`` on the ``M = P + T`` points, to order ``order``.

    ``alignment[l, k]`` is the kernel-target alignment ``y^T S y / (|y|^2 tr S)`` of layer ``l + 1``'s posterior
    Gram matrix summed to order ``k``, on the training block (``k = 0``: the prior kernel).
    """

    mean: np.ndarray  # (L, M, M)
    terms: np.ndarray  # (L, K+1, M, M); terms[:, 0] the prior kernels K_1 .. K_L
    alignment: np.ndarray  # (L, K+1)
    order: int
    beta: float
    error_estimate: np.ndarray | None = None  # |terms[:, order]|; None at order 0
    converging: bool | None = None  # corrections shrinking; None below order 2


def kernel_target_alignment(S: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``y^T S_DD y / (|y|^2 tr S_DD)`` over the leading axes of ``S`` (``..., M, M``), ``D`` the first ``len(y)`` points."""
    P = len(y)
    block = S[..., :P, :P]
    return np.einsum("i,...ij,j->...", y, block, y) / (y @ y * np.trace(block, axis1=-2, axis2=-1))


@dataclass(frozen=True)
class ExactResult(PredictiveResult):
    """Exact deep-linear answers (any width): evidence and, with test inputs, the predictive."""

    log_evidence: float
    log_partition: float | None
    mean: np.ndarray | None
    var: np.ndarray | None
    cov: np.ndarray | None
    noise_variance: float = 0.0  # P/beta


@dataclass(frozen=True)
class NTKPrediction(PredictiveResult):
    """The infinite-width network trained by gradient flow on the squared loss to convergence (neural tangent kernel
    ``Theta``, NNGP kernel ``K``, over random initialisations): ``mean = Theta_xD Theta_DD^-1 y`` and
    ``cov = K_xx + Theta_xD Theta_DD^-1 K_DD Theta_DD^-1 Theta_Dx - (Theta_xD Theta_DD^-1 K_Dx + transpose)``."""

    mean: np.ndarray  # (T,)
    var: np.ndarray  # (T,)
    cov: np.ndarray  # (T, T)
    kernel: np.ndarray  # (M, M) Theta on the training and test points
    noise_variance: float = 0.0  # gradient flow interpolates: no noise


@dataclass(frozen=True)
class Renormalized(PredictiveResult):
    """Kernel renormalisation: the Gaussian process whose kernel is renormalised by the order parameters at the saddle
    point of their action (``perturbo.renormalization``), with ``loop`` its Gaussian fluctuations in the log evidence,
    ``mixture`` the ansatz's exact integral over the scale instead, ``matched`` the engine's exact first order swapped
    in for the ansatz's own.

    ``fluctuation`` is the standard deviation of ``log S`` (``S`` the product of the scales) around the saddle: the
    saddle point is accurate while it is small (a warning above ``renormalization.FLUCTUATION_LIMIT``).
    ``first_order`` (computed on first access) holds the ansatz's own ``1/N`` coefficients, tree and loop.
    """

    ansatz: str
    order_parameters: np.ndarray  # (L,) s_l at the saddle (1 at infinite width)
    mean_order_parameters: np.ndarray | None  # (L,) Q_l, the mean part's (non-odd activations); None for odd ones
    log_evidence: float
    log_partition: float | None
    mean: np.ndarray | None  # (T,)
    var: np.ndarray | None  # (T,)
    cov: np.ndarray | None  # (T, T)
    kernel: np.ndarray  # (M, M) the renormalised kernel on the training and test points
    beta: float
    noise_variance: float
    loop: bool
    mixture: bool
    matched: bool
    action: float  # the action at the saddle (the tree-level log evidence)
    loop_correction: float | None
    fluctuation: float
    saddles: int  # distinct saddle points found (the one of largest action is used)
    compute_first_order: Callable[[], FirstOrder] = field(repr=False, compare=False)

    @cached_property
    def first_order(self) -> FirstOrder:
        """The ansatz's own first-order (``n^-1``) coefficients: ``log_evidence``, ``mean``, ``var``, ``cov`` (tree plus
        loop, the form of ``terms[1]``), and ``.tree``, ``.loop``."""
        return self.compute_first_order()
