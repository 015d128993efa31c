"""The compiled transfer kernels (perturbo.compiler.fused_transfer: printed, and run from their product tables)
against the interpreted terms (runtime_terms.LayerTransfer), and the Wick tensors' parallel paths against each other.

Both sides evaluate the same derived terms; they share nothing else. The interpreter computes every entry of
``kappa_n`` with NumPy, the compiled kernels only the canonical entries (copied to their images) with the
Jacobian written out where the lowering chose to, so agreement also checks the symmetry they rely on.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from perturbo.activation import power_coefficients, t
from perturbo.compiler import cost, plan, problem_program
from perturbo.compiler.copy_cumulants import CopyCumulants
from perturbo.compiler.dense import dense_moments, layer_arguments
from perturbo.compiler.fused_transfer import output_images
from perturbo.compiler.layer_maps import propagate
from perturbo.compiler.program import program
from perturbo.compiler.runtime_terms import LayerTransfer
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
    (CUBIC, 3, {1}),  # order 3's kappa_2..4 have 2,000-5,300 products: tables only (PRINTED_PRODUCTS_LIMIT)
])
def test_compiled_transfer_equals_the_interpreted_terms(activation, order, printed):
    """Every cumulant's table, and the printed kernel where there is one, = the interpreted terms, at a width where
    each power of ``1/N`` matters."""
    phi = sp.sympify(activation, locals={"t": t})
    rng = np.random.default_rng(order)
    # 10 or 15 pairs: the entries split among the threads (order 3's kappa_4 interpreted on 5 points takes 10 s)
    M = 4 if order == 3 else 5
    B = rng.normal(size=(M, M + 2))
    K = 0.8 * B @ B.T / (M + 2) + 0.1 * np.eye(M)
    compiled, cumulants = program(phi, order), CopyCumulants(power_coefficients(phi), 1.0)
    fused, tabulated = compiled.compiled_transfer(), compiled.compiled_transfer(printed=False)
    assert fused.printed == printed and not tabulated.printed
    state = {n: symmetric_state(rng, order, n, M) for n in range(1, order + 2)}
    weights = compiled.local_map.weights(K)
    arrays = layer_arguments(fused.arguments(), K, weights, cumulants, state)
    interpreted = LayerTransfer(K, 37, weights, cumulants, order)
    for n in range(1, order + 2):
        expected = interpreted.apply(compiled.transfer[n], state, n)
        for transfer in (fused, tabulated):
            got = transfer.apply(n, 37, arrays, M)
            assert np.max(np.abs(got - expected)) <= 1e-13 * np.max(np.abs(expected)), (n, transfer.printed)
    for n in sorted(printed):
        # the serial body is compiled at most once (none when Numba's cache had it; on a fresh machine, as in CI,
        # once): the parallel loop passes its index as int64, where a uint64 prange index compiled every body twice
        assert len(getattr(fused.module, fused.kernels[n].name + "_body").signatures) <= 1, n


def symmetric_mixed(rng: np.random.Generator, order: int, s: int, M: int) -> np.ndarray:
    """A random mixed-cumulant-shaped array ``(order + 1, M^(2s + 2))``: symmetric inside its first entry (the
    earlier layer's ``e``), inside each of the others and under their permutations, not between ``e`` and them."""
    a = rng.normal(size=(order + 1,) + (M,) * (2 * s + 2))
    images = output_images(s, spectator=True)
    return sum(np.transpose(a, (0, *(1 + images[g]))) for g in range(len(images))) / len(images)


@pytest.mark.parametrize("activation, order", [
    (CUBIC, 1), (NON_ODD, 1), (CUBIC, 2), (NON_ODD, 2), (CUBIC, 3)])  # order 3: about 3 s
def test_mixed_cumulant_tables_equal_the_interpreted_spectator_terms(activation, order):
    """The posterior representations' transfer of ``kappa(X^(l)_e, n entries)`` from its tables
    (``Program.spectator_transfer``: ``run_products`` over the entries ``(e, canonical n entries)``, with the mixed
    cumulants' images) = the interpreted spectator terms (``LayerTransfer.apply`` with ``mixed``)."""
    phi = sp.sympify(activation, locals={"t": t})
    rng = np.random.default_rng(10 + order)
    M = 4
    B = rng.normal(size=(M, M + 2))
    K = 0.8 * B @ B.T / (M + 2) + 0.1 * np.eye(M)
    compiled, cumulants = program(phi, order), CopyCumulants(power_coefficients(phi), 1.0)
    spectator = compiled.spectator_transfer
    assert not spectator.printed and set(spectator.tables) == set(range(1, order + 1))
    assert "mixed" in {a.kind for a in spectator.arguments()}
    state = {n: symmetric_state(rng, order, n, M) for n in range(1, order + 2)}
    mixed = {s: symmetric_mixed(rng, order, s, M) for s in range(order + 1)}
    weights = compiled.local_map.weights(K)
    arrays = layer_arguments(spectator.arguments(), K, weights, cumulants, state, mixed)
    interpreted = LayerTransfer(K, 37, weights, cumulants, order)
    for n in range(1, order + 1):
        expected = interpreted.apply(compiled.spectator[n], state, n, mixed)
        got = spectator.apply(n, 37, arrays, M)
        assert got.shape == expected.shape == (order + 1,) + (M,) * (2 * n + 2)
        assert np.max(np.abs(got - expected)) <= 1e-13 * np.max(np.abs(expected)), n


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


def test_the_plan_prints_where_that_saves_seconds():
    """The cubic at order 2 runs tables at ``L = 6`` up to the memory limit and prints from 15 points (training plus
    test) at ``L = 30``:
    exactly where printing saves more than ``cost.PRINT_FROM_SECONDS`` per evaluation."""
    assert not any(plan(problem(CUBIC, 6, 50, P=P, T=2, order=2, beta=3.0)).printed for P in (2, 8, 14))
    assert [plan(problem(CUBIC, 30, 50, P=P, T=2, order=2, beta=3.0)).printed for P in (8, 12, 13, 14)] == [
        False, False, True, True]
    for P in (12, 13):
        size = problem_program(p := problem(CUBIC, 30, 50, P=P, T=2, order=2, beta=3.0)).size(P + 2, 30)
        saved = cost.dense_cost(size, printed=False)[0] - cost.dense_cost(size, printed=True)[0]
        assert plan(p).printed == (saved > cost.PRINT_FROM_SECONDS)


@pytest.mark.parametrize("beta", [np.inf, 3.0])
def test_the_printed_dense_lowering_equals_the_tabulated_one(beta):
    """On 8 points (``L = 4``, two test points) the printed dense lowering equals the one running tables end to end,
    every row of every moment."""
    pr = problem(CUBIC, 4, [40, 60, 50, 45], P=6, T=2, order=2, beta=beta)
    assert_same_moments(dense_moments(pr, printed=True), dense_moments(pr, printed=False), rel=1e-11)
