"""Kernel renormalisation: the proportional regime ``L P / N = O(1)``, beside the ``1/N`` series.

The finite network is replaced by a Gaussian process whose kernel is renormalised by one order parameter per
layer (two for a non-odd activation), fixed by a saddle point (``saddle``): the equivalent Wishart ansatz
(Li & Sompolinsky 2021 for the deep linear network, where it is exact; Baglioni et al. 2026 for deep shaped
ones) or the nested one (Pacelli et al. 2023), ``ansatz``. ``renormalize`` solves the saddle point and returns
the log evidence (with the one-loop correction), the predictor, and, lazily, the ansatz's own first-order
coefficients (``expansion``), against which the engine's exact ``terms[1]`` says how wrong the ansatz is.
"""
from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable

import numpy as np
import sympy as sp

from ..reference.deep_linear import deep_linear_exact
from ..results import Renormalized, log_partition_from_evidence
from ..runtime.gp_posterior import noise_variance
from ..symbolic.mean_map import S_aa, activation_mean_expr
from .ansatz import Ansatz, Nested, Wishart
from .expansion import Coefficients, FirstOrder, first_order
from .readout import ScaledKernel
from .saddle import Saddle, maximum, stationary_point, warn_if_several, wishart_saddle

ANSATZE = ("wishart", "nested")

FLUCTUATION_LIMIT = 0.5
"""Above this standard deviation of ``log S`` (the total scale) under the saddle's Gaussian approximation the
scale's law is far from Gaussian and the saddle point is not to be trusted (a warning; ``mixture=True``)."""


def build_ansatz(name: str, kernels: list[np.ndarray], phi: sp.Expr, sigma_w2: sp.Rational, widths: tuple[int, ...],
                 n_train: int, y: np.ndarray, sigma2: float) -> Ansatz:
    """The ansatz ``name`` on the stacked points (``kernels``: ``K_0 .. K_L``, training points first)."""
    if name == "nested":
        return Nested(kernels[0], phi, sigma_w2, widths, n_train, y, sigma2)
    mean = sp.lambdify(S_aa, activation_mean_expr(phi), "numpy")
    mu = math.sqrt(float(sigma_w2)) * np.broadcast_to(mean(np.diagonal(kernels[-2])), len(kernels[-1])).astype(float)
    return Wishart(ScaledKernel.of(kernels[-1] - np.outer(mu, mu), mu, n_train, y, sigma2), widths, y)


def solve(ansatz: Ansatz, kernels: list[np.ndarray]) -> Saddle:
    """The saddle point: the scalar Wishart equation, else Newton's method from the Wishart solution of the odd
    problem on ``K_L`` (all roots bracketed) and from infinite width."""
    if isinstance(ansatz, Wishart) and ansatz.odd:
        return wishart_saddle(ansatz)
    odd_wishart = Wishart(ScaledKernel.of(kernels[-1], np.zeros(len(kernels[-1])), ansatz.n_train, ansatz.y,
                                          ansatz.sigma2), ansatz.widths, ansatz.y)
    t = np.log(wishart_saddle(odd_wishart).s)
    L = len(ansatz.widths)
    if ansatz.odd:
        return maximum(ansatz, [t, np.zeros(L)])
    return stationary_point(ansatz, [np.concatenate([t, t]), np.zeros(2 * L)])


def renormalize(
    ansatz_name: str, kernels: list[np.ndarray], phi: sp.Expr, sigma_w2: sp.Rational, widths: tuple[int, ...],
    n_train: int, y: np.ndarray, beta: float, loop: bool, mixture: bool,
    exact_first_order: Callable[[], Coefficients] | None,
) -> Renormalized:
    """The renormalised answer on the stacked points (``kernels``: ``K_0 .. K_L``, training points first); inputs
    validated by ``ShapedMLP.renormalized``. ``exact_first_order`` (``matched``) gives the engine's ``terms[1]``."""
    P, sigma2, predictive = n_train, noise_variance(n_train, beta), len(kernels[-1]) > n_train
    ansatz = build_ansatz(ansatz_name, kernels, phi, sigma_w2, widths, n_train, y, sigma2)
    if mixture and not (isinstance(ansatz, Wishart) and ansatz.odd):
        raise ValueError(
            "mixture=True integrates the Wishart ansatz's scale exactly, which needs ansatz='wishart' and an odd "
            "activation (the nested ansatz's scales do not combine into one, and a non-odd activation's mean part adds "
            "a contour integral): use the saddle point (mixture=False)"
        )
    saddle = solve(ansatz, kernels)
    warn_if_several(saddle, ansatz.name)
    spread = saddle.fluctuation()
    if spread > FLUCTUATION_LIMIT:
        warnings.warn(
            f"the renormalised scale fluctuates by a factor exp({spread:.2g}) around its saddle point (standard deviation "
            f"of log S, limit {FLUCTUATION_LIMIT}): the layers are too narrow for the saddle point to be accurate; "
            "compare mixture=True (Wishart ansatz) or the 1/N series",
            RuntimeWarning, stacklevel=3,
        )
    loop_correction = saddle.loop(widths) if loop else None
    log_evidence = saddle.action + (loop_correction or 0.0)
    mean = cov = None
    if predictive and not mixture:
        readout = ansatz.readout(list(saddle.s), list(saddle.c), predictive=True)
        mean, cov = readout.mean.value, 0.5 * (readout.cov.value + readout.cov.value.T)
    if mixture:
        K = ansatz.family.Kc
        exact = deep_linear_exact(K[:P, :P], y, widths, beta, K[P:, :P] if predictive else None,
                                  K[P:, P:] if predictive else None)
        log_evidence, mean, cov = exact.log_evidence, exact.mean, exact.cov

    @functools.cache
    def own_first_order() -> FirstOrder:
        return first_order(ansatz, predictive)

    if exact_first_order is not None:
        # the base answer's own first order: the saddle's (tree), the loop's for the evidence, the mixture's for all
        own = own_first_order()
        evidence_part = own if (loop or mixture) else own.tree
        predictor_part = own if mixture else own.tree
        exact = exact_first_order()
        log_evidence += exact.log_evidence - evidence_part.log_evidence
        if predictive:
            mean = mean + exact.mean - predictor_part.mean
            cov = cov + exact.cov - predictor_part.cov
    return Renormalized(
        ansatz=ansatz.name,
        order_parameters=saddle.s,
        mean_order_parameters=None if ansatz.odd else 1.0 / saddle.c - 1.0,
        log_evidence=float(log_evidence),
        log_partition=log_partition_from_evidence(float(log_evidence), P, beta),
        mean=mean,
        var=None if cov is None else np.diagonal(cov).copy(),
        cov=cov,
        kernel=ansatz.kernel(list(saddle.s), list(saddle.c)),
        beta=beta,
        noise_variance=sigma2,
        loop=loop,
        mixture=mixture,
        matched=exact_first_order is not None,
        action=saddle.action,
        loop_correction=loop_correction,
        fluctuation=spread,
        saddles=saddle.count,
        compute_first_order=own_first_order,
    )
