"""The pull-back oracle: the ``1/n`` series by pulling the read-out back through the layers over concrete
Gram entries, independent of the compiler (formerly ``backend="reference"``; any order, slow).

    E[G(S_L)] = E[F_L(D_L)] = E[F_{L-1}(D_{L-1})] = ... = F_0(0)        (``expansion``)

``moments(problem)`` returns the same ``perturbo.problem.Moments`` as ``perturbo.compiler.moments``;
``series(net, ...)`` the terms that ``net.evidence`` and ``net.predict`` report.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from perturbo.problem import Moments, Problem
from perturbo.runtime.gp_posterior import gp_log_evidence, gp_predict, noise_variance

from .expansion import readout_series
from .tables import cached_layer_moments


def moments(problem: Problem) -> Moments:
    """The pull-back over concrete Gram entries; the predictive from the chain on the training points plus
    one test point (mean, variance) or two (covariance): the same network on fewer inputs."""
    P, T, order = problem.n_train, problem.n_test, problem.order
    tables = cached_layer_moments(problem.phi, problem.sigma_w2, order)

    def run(points: list[int]) -> np.ndarray:
        kernels = [K[np.ix_(points, points)] for K in problem.kernels]
        return readout_series(kernels, P, problem.y, problem.sigma2, problem.widths, tables, order)

    train = list(range(P))
    z = run(train)[:, 0]
    zm = np.zeros((order + 1, T))
    zs = np.zeros((order + 1, T, T))
    for i in range(T):
        c = run(train + [P + i])  # z, z m, z (C + m^2)
        zm[:, i], zs[:, i, i] = c[:, 1], c[:, 2]
    for i, j in zip(*np.triu_indices(T, k=1)):
        c = run(train + [P + i, P + j])
        zs[:, i, j] = zs[:, j, i] = c[:, 4]  # z (C + m m)_ij
    return Moments(z, zm, zs)


@dataclass(frozen=True)
class Series:
    """Rows ``0..order`` as ``net.evidence`` and ``net.predict`` report them (row 0, the Gaussian process, from
    perturbo's own ``gp_posterior``; rows ``k >= 1`` from the pull-back). No test points: no predictive."""

    terms: np.ndarray
    mean_terms: np.ndarray | None
    cov_terms: np.ndarray | None

    @property
    def var_terms(self) -> np.ndarray:
        return np.diagonal(self.cov_terms, axis1=1, axis2=2)


def series(net, X: np.ndarray, y: np.ndarray, X_test: np.ndarray | None, beta: float, order: int) -> Series:
    """The oracle's series for ``net`` (a ``ShapedMLP``) on the data, to compare with ``net.evidence`` and
    ``net.predict`` at ``order``."""
    X, y = np.asarray(X, float), np.asarray(y, float)
    P, sigma2 = len(y), noise_variance(len(y), beta)
    kernels = net.kernels(X if X_test is None else np.vstack([X, X_test]))
    problem = Problem(net.activation.phi, sp.nsimplify(net.sigma_w2, rational=True), kernels, P, y, sigma2,
                      net.widths, order)
    m = moments(problem)
    K = kernels[-1]
    terms = m.log_evidence_terms().copy()
    terms[0] = gp_log_evidence(K[:P, :P], y, sigma2)
    if X_test is None:
        return Series(terms, None, None)
    mean, cov = m.mean_and_cov_terms()
    mean[0], cov[0] = gp_predict(K[:P, :P], K[P:, :P], K[P:, P:], y, sigma2)
    return Series(terms, mean, cov)
