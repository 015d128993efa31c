"""The printed transfer kernels (perturbo.compiler.fused_transfer) against the interpreted terms
(runtime_terms.LayerTransfer), and the Wick tensors' parallel paths against each other.

Both sides evaluate the same derived terms; they share nothing else. The interpreter computes every entry of
``kappa_n`` with NumPy, the printed kernel only the canonical entries (copied to their images) with the
Jacobian written out where the lowering chose to, so agreement also checks the symmetry the kernel relies on.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from perturbo.compiler import plan
from perturbo.compiler.dense import dense_moments

from perturbo.activation import power_coefficients, t
from perturbo.compiler.copy_cumulants import CopyCumulants
from perturbo.compiler.dense import layer_arguments
from perturbo.compiler.fused_transfer import FusedTransfer, output_images
from perturbo.compiler.layer_maps import LocalMap, propagate
from perturbo.compiler.runtime_terms import LayerTransfer
from perturbo.compiler.transfer import transfer_terms_for
from perturbo.compiler.wick import moment_tensor, symmetric_moment_tensor
from tests.test_compiler import assert_same_moments, problem

CUBIC = "t - 0.6*t**3/6"
NON_ODD = "0.5*t**2 - 0.3*t**3"


def symmetric_state(rng: np.random.Generator, order: int, n: int, M: int) -> np.ndarray:
    """A random ``kappa_n``-shaped array ``(order + 1, M^(2n))`` with its symmetries (row 0 zero, as a state's is)."""
    a = rng.normal(size=(order + 1,) + (M,) * (2 * n))
    a[0] = 0.0
    images = output_images(n)
    return sum(np.transpose(a, (0, *(1 + images[g]))) for g in range(len(images))) / len(images)


@pytest.mark.parametrize("activation, order, printed", [
    (CUBIC, 1, {1, 2}), (NON_ODD, 1, {1, 2}), (CUBIC, 2, {1, 2, 3}), (NON_ODD, 2, {1, 2, 3}),
    pytest.param("0.3*t**5", 2, {1, 2, 3}, marks=pytest.mark.slow),  # its own module: about 50 s to compile
    (CUBIC, 3, {1}),  # order 3's kappa_2..4 have 2,500-9,000 products: interpreted (PRINTED_PRODUCTS_LIMIT)
])
def test_printed_transfer_equals_the_interpreted_terms(activation, order, printed):
    phi = sp.sympify(activation, locals={"t": t})
    rng = np.random.default_rng(order)
    M = 5  # 15 pairs: the outer pair list splits among the threads
    B = rng.normal(size=(M, M + 2))
    K = 0.8 * B @ B.T / (M + 2) + 0.1 * np.eye(M)
    local_map, cumulants = LocalMap(phi, sp.Integer(1)), CopyCumulants(power_coefficients(phi), 1.0)
    terms = transfer_terms_for(phi, local_map, order)
    fused = FusedTransfer(terms, order, local_map.curvatures)
    assert fused.printed == printed
    state = {n: symmetric_state(rng, order, n, M) for n in range(1, order + 2)}
    weights = local_map.weights(K)
    arrays = layer_arguments(fused.arguments(), K, weights, cumulants, state)
    interpreted = LayerTransfer(K, 37, weights, cumulants, order)
    for n in sorted(printed):
        expected = interpreted.apply(terms[n], state, n)
        got = fused.apply(n, 37, arrays, M)
        assert np.max(np.abs(got - expected)) <= 1e-13 * np.max(np.abs(expected)), n
        # the serial body is compiled at most once (none when Numba's cache had it; on a fresh machine, as in CI,
        # once): the parallel loop passes its index as int64, where a uint64 prange index compiled every body twice
        assert len(getattr(fused.module, fused.kernels[n].name + "_body").signatures) <= 1, n


@pytest.mark.parametrize("coefficients", [[0.0, 1.0, 0.0, -0.1], [0.2, 0.0, 0.5, -0.3]], ids=["odd", "non-odd"])
@pytest.mark.parametrize("n", [2, 4])
def test_symmetric_moment_tensor_equals_the_general_one(coefficients, n):
    """One value per multiset of points, read back by every entry (threads split the multisets) = the general
    kernel evaluating every tuple; 7 points, including coinciding ones (a degenerate covariance)."""
    rng = np.random.default_rng(n)
    B = rng.normal(size=(7, 4))
    K = B @ B.T / 4
    c = np.array(coefficients)
    general = np.empty(7**n)
    moment_tensor(K, np.tile(c, (n, 1)), np.full(n, 3, np.int64), general)
    symmetric = np.empty(7**n)
    symmetric_moment_tensor(K, c, 3, n, symmetric)
    assert np.max(np.abs(symmetric - general)) <= 1e-13 * np.max(np.abs(general))


def test_propagate_acts_on_an_adjacent_axis_pair_only():
    rng = np.random.default_rng(0)
    X, W, U = rng.normal(size=(3, 3, 3, 3)), rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    inner = propagate(X, (1, 2), (W, U))
    u, v = np.meshgrid(range(3), range(3), indexing="ij")
    expected = W[None, :, :, None] * X + U[None, :, :, None] * X[:, u, u, :] + U.T[None, :, :, None] * X[:, v, v, :]
    assert np.allclose(inner, expected, rtol=1e-14, atol=0)
    with pytest.raises(ValueError, match="adjacent"):
        propagate(X, (0, 2), (W, U))


def test_the_plan_prints_where_interpreting_is_slow():
    """The cubic at order 2, ``L = 6``: 4 and 8 points run interpreted, 12 printed (``cost.PRINT_FROM_SECONDS``)."""
    assert [plan(problem(CUBIC, 6, 50, P=P, T=2, order=2, beta=3.0)).printed for P in (2, 6, 10)] == [False, False, True]


@pytest.mark.parametrize("beta", [np.inf, 3.0])
def test_the_printed_dense_lowering_equals_the_interpreted_one(beta):
    """On 8 points (``L = 4``, two test points) the printed dense lowering equals the interpreted one end to end,
    every row of every moment."""
    pr = problem(CUBIC, 4, [40, 60, 50, 45], P=6, T=2, order=2, beta=beta)
    assert_same_moments(dense_moments(pr, printed=True), dense_moments(pr, printed=False), rel=1e-11)
