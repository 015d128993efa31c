"""``FactoredCumulant`` (sums of products of matrices) gives what the dense cumulant gives, stage by stage."""
from __future__ import annotations

import numpy as np

from perturbo.compiler.continuum import wishart_covariance
from perturbo.compiler.layer_maps import propagate
from perturbo.compiler.readout import ReadoutOperands, readout_networks
from perturbo.compiler.runtime_terms import readout_expectation


def dense(kappa, M: int) -> np.ndarray:
    """Expand a factored ``kappa_2`` into ``(M, M, M, M)``."""
    letters = {"p0": "a", "p1": "b", "p2": "c", "p3": "d", "batch": "n"}
    total = np.zeros((M,) * 4)
    for c, factors in kappa.terms:
        spec = ",".join("".join(letters[i] for i in idx) for _, idx in factors) + "->abcd"
        total += c * np.einsum(spec, *[a for a, _ in factors])
    return total


def random_problem(M: int = 4, P: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    B = rng.normal(size=(M, M + 2))
    K = B @ B.T / (M + 2)
    W, U = rng.normal(size=(M, M)), rng.normal(size=(M, M))
    return rng, K, (W, U)


def test_the_jacobian_on_a_factored_cumulant_is_the_dense_propagator():
    _, K, J = random_problem()
    C = wishart_covariance(K)
    expected = np.einsum("ac,bd->abcd", K, K) + np.einsum("ad,bc->abcd", K, K)
    np.testing.assert_allclose(dense(C, 4), expected, rtol=1e-13)
    twice = C.propagated(0, J).propagated(1, J)
    reference = propagate(propagate(expected[None], (1, 2), J), (3, 4), J)[0]
    np.testing.assert_allclose(dense(twice, 4), reference, rtol=1e-12, atol=1e-14)


def test_batched_factors_sum_over_the_batch_axis():
    rng, K, _ = random_problem()
    stack = np.stack([K, 2.0 * K, K @ K])
    weights = rng.normal(size=3)
    expected = sum(w * dense(wishart_covariance(k), 4) for w, k in zip(weights, stack))
    np.testing.assert_allclose(dense(wishart_covariance(stack, weights), 4), expected, rtol=1e-12)


def test_the_read_out_of_a_factored_cumulant_equals_the_dense_one():
    rng, K, J = random_problem(M=5, P=3)
    factored = wishart_covariance(K).propagated(0, J).propagated(1, J)
    kappa_2 = np.zeros((2,) + (5,) * 4)
    kappa_2[1] = dense(factored, 5)
    kappa_1 = np.zeros((2, 5, 5))
    kappa_1[1] = rng.normal(size=(5, 5))
    operands = ReadoutOperands(K, 3, rng.normal(size=3), 0.3)
    for name in ("z", "zm", "zs"):
        networks = readout_networks(2, 2)[name]
        a = readout_expectation(networks, operands, {1: kappa_1, 2: factored}, 1)
        b = readout_expectation(networks, operands, {1: kappa_1, 2: kappa_2}, 1)
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-14)
