"""The public model: a deep shaped MLP and its Bayesian quantities.

    z1 = W1 x,  z(l+1) = W(l+1) phi(z(l)),  f(x) = z(L+1),
    W(l)[i, j] ~ N(0, sigma_w2 / N_{l-1}),  phi(t) = t + p(t)/L.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from .activation import Activation, parse_shaping
from .results import Evidence, ExactResult, Prediction, log_partition_from_evidence
from .runtime.gp_posterior import cholesky_of_training_kernel, gp_log_evidence, gp_predict, noise_variance
from .runtime.kernel_flow import input_kernel, kernel_flow
from .symbolic.mean_map import numeric_mean_map
from .validation import (
    check_beta,
    check_data,
    check_depth,
    check_finite_real,
    check_order,
    check_samples,
    check_widths,
)

if TYPE_CHECKING:
    from .reference.monte_carlo import MonteCarloEstimate

IMPLEMENTED_ORDER = 0


class ShapedMLP:
    """Deep shaped network with ``depth`` hidden layers of widths ``width``.

    ``activation`` is the shaping polynomial ``p`` (SymPy expression or string in
    ``t``); when given, ``psi`` is ignored. The default is ``p(t) = psi t^3/3``.
    """

    def __init__(
        self,
        depth: int,
        width: int | Sequence[int],
        psi: float = 0.0,
        sigma_w2: float = 1.0,
        activation: str | sp.Expr | None = None,
    ) -> None:
        self.depth = check_depth(depth)
        self.widths = check_widths(width, self.depth)
        self.width = width if isinstance(width, int) else list(width)
        self.psi = check_finite_real(psi, "psi")
        self.sigma_w2 = check_finite_real(sigma_w2, "sigma_w2", positive=True)
        self.activation = Activation(parse_shaping(activation, self.psi), self.depth)

    def __repr__(self) -> str:
        return (
            f"ShapedMLP(depth={self.depth}, width={self.width!r}, sigma_w2={self.sigma_w2}, "
            f"phi(t) = {self.activation.phi})"
        )

    # ----------------------------------------------------------------- kernels
    def kernels(self, X: np.ndarray) -> list[np.ndarray]:
        """Infinite-width kernels ``[K_0, ..., K_L]`` on the rows of ``X`` (exact Gaussian moments)."""
        S0 = input_kernel(np.asarray(X, dtype=float), self.sigma_w2)
        return kernel_flow(S0, numeric_mean_map(self.activation.phi, self.sigma_w2), self.depth)

    def _final_kernel_blocks(
        self, X: np.ndarray, X_test: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        X_all = X if X_test is None else np.vstack([X, X_test])
        K = self.kernels(X_all)[-1]
        P = len(X)
        if X_test is None:
            return K, None, None
        return K[:P, :P], K[P:, :P], K[P:, P:]

    # ------------------------------------------------------------ the series
    def evidence(self, X: np.ndarray, y: np.ndarray, beta: float = math.inf, order: int = 0) -> Evidence:
        """Log evidence ``log E_prior[N(y; f(X), (P/beta) I)]`` to ``order`` in ``1/width``."""
        beta = check_beta(beta)
        order = check_order(order)
        X, y, _ = check_data(X, y, None, beta)
        K_DD, _, _ = self._final_kernel_blocks(X, None)
        self._require_implemented(order)
        value = gp_log_evidence(K_DD, y, noise_variance(len(y), beta))
        return Evidence(
            log_evidence=value,
            terms=np.array([value]),
            log_partition=log_partition_from_evidence(value, len(y), beta),
            order=order,
            beta=beta,
        )

    def predict(
        self, X: np.ndarray, y: np.ndarray, X_test: np.ndarray, beta: float = math.inf, order: int = 0
    ) -> Prediction:
        """Posterior predictive mean, variance and covariance of ``f(X_test)`` to ``order``."""
        beta = check_beta(beta)
        order = check_order(order)
        if X_test is None:
            raise ValueError("predict needs test inputs X_test of shape (T, N0)")
        X, y, X_test = check_data(X, y, X_test, beta)
        K_DD, K_xD, K_xx = self._final_kernel_blocks(X, X_test)
        self._require_implemented(order)
        mean, cov = gp_predict(K_DD, K_xD, K_xx, y, noise_variance(len(y), beta))
        var = np.diag(cov).copy()
        return Prediction(
            mean=mean,
            var=var,
            cov=cov,
            mean_terms=mean[None, :],
            var_terms=var[None, :],
            cov_terms=cov[None, :, :],
            order=order,
            beta=beta,
        )

    @staticmethod
    def _require_implemented(order: int) -> None:
        if order > IMPLEMENTED_ORDER:
            raise NotImplementedError(
                f"order {order} is not available yet: this version computes order 0 (the infinite-width "
                "kernel regime); use order=0, or net.exact / net.monte_carlo for finite-width answers"
            )

    # ------------------------------------------------------------ references
    def exact(
        self, X: np.ndarray, y: np.ndarray, X_test: np.ndarray | None = None, beta: float = math.inf
    ) -> ExactResult:
        """Exact answers for the deep linear network (``psi = 0``), any widths, any ``beta``.

        ``f ~ N(0, s K_L)`` with ``s = prod_l chi2_{N_l}/N_l``; see DESIGN section 4.
        """
        if not self.activation.is_linear:
            raise ValueError(
                f"exact answers exist only for the deep linear network (psi = 0), this one has "
                f"phi(t) = {self.activation.phi}; use net.monte_carlo for nonlinear networks"
            )
        from .reference.deep_linear import deep_linear_exact

        beta = check_beta(beta)
        X, y, X_test = check_data(X, y, X_test, beta)
        K_DD, K_xD, K_xx = self._final_kernel_blocks(X, X_test)
        cholesky_of_training_kernel(K_DD, noise_variance(len(y), beta))  # raises if singular
        result = deep_linear_exact(K_DD, y, self.widths, beta, K_xD=K_xD, K_xx=K_xx)
        return ExactResult(
            log_evidence=result.log_evidence,
            log_partition=log_partition_from_evidence(result.log_evidence, len(y), beta),
            mean=result.mean,
            var=result.var,
            cov=result.cov,
        )

    def monte_carlo(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_test: np.ndarray | None = None,
        beta: float = math.inf,
        samples: int = 100_000,
        seed: int = 0,
    ) -> "MonteCarloEstimate":
        """Ground truth from finite networks: sample the Gram chain, Rao-Blackwellised read-out."""
        from .reference.monte_carlo import monte_carlo

        beta = check_beta(beta)
        samples = check_samples(samples)
        X, y, X_test = check_data(X, y, X_test, beta)
        X_all = X if X_test is None else np.vstack([X, X_test])
        return monte_carlo(
            X_all, len(y), y, self.widths, self.activation, self.sigma_w2, beta, samples=samples, seed=seed
        )
