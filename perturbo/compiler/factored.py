"""The factored lowering of the first order: tensor networks of pair kernels, ``O(M^2)`` memory.

At first order the fluctuation's covariance is never formed: each layer's noise reaches the
read-out as a matrix of pair functions whose covariance is a sum of networks of derivative
kernels and Hadamard powers (``ir.networks``), contracted in ``O(L M^4)`` time by a generated,
cached module (``codegen``, ``runtime.first_order``). It is the lowering of choice at order 1
for any number of points; the dense lowering would need ``M^4`` memory.
"""
from __future__ import annotations

import numpy as np

from ..problem import Moments, Problem
from ..runtime.gp_posterior import gp_predict


def factored_moments(problem: Problem) -> Moments:
    from ..codegen import first_order_module
    from ..runtime.first_order import first_order_terms

    module = first_order_module(problem.phi, problem.sigma_w2)
    first = first_order_terms(module, problem.kernels, problem.n_train, problem.y, problem.sigma2, problem.widths)
    P, T = problem.n_train, problem.n_test
    K = problem.kernels[-1]
    z = np.array([1.0, first["z"]])
    if not T:
        return Moments(z, np.zeros((2, 0)), np.zeros((2, 0, 0)))
    mean, cov = gp_predict(K[:P, :P], K[P:, :P], K[P:, P:], problem.y, problem.sigma2)
    zm = np.stack([mean, first["zm"]])
    zs = np.stack([cov + np.outer(mean, mean), first["zs"]])
    return Moments(z, zm, zs)
