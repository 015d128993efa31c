"""The compiler's stages, each against something it does not share code with.

- the layer map's Taylor coefficients against the mean map itself;
- one copy's cumulants (numeric Wick) against the symbolic Taylor tables of the oracle;
- the cumulant transfer against the exact Wishart chain of the deep linear network on one point;
- the lowerings against each other (dense, factored, scale) and against two independent organisations
  in ``tests.oracle``: the insertion patterns of docs/design.md section 8, and for linear maps the pull-back in
  the algebra of matrix words (no rotation invariance used); the plan's choices and refusals.

End-to-end agreement with the exact multi-point Gram chain is in ``test_gram_chain_exact``, with the
reference path in ``test_compiled`` and ``test_shaping_degrees``.
"""
from __future__ import annotations

import dataclasses
import math
import time
import tracemalloc

import numpy as np
import pytest
import sympy as sp

from perturbo import ShapedMLP
from perturbo.activation import power_coefficients, t
from perturbo.compiler import cost, moments, plan, problem_program
from perturbo.compiler.copy_cumulants import CopyCumulants
from perturbo.compiler.dense import dense_moments
from perturbo.compiler.factored import factored_moments
from perturbo.compiler.layer_maps import LocalMap, propagate
from perturbo.compiler.readout import (OUTPUTS, ReadoutOperands, contraction_count, plan_from_arrays, plan_readout,
                                       readout_networks, readout_plan)
from perturbo.compiler.runtime_terms import LayerTransfer, readout_moments, readout_series
from perturbo.compiler.transfer import lowest_row, transfer_terms_for
from perturbo.compiler.scale import delta_moments, scale_moments
from perturbo.problem import Moments, Problem
from perturbo.symbolic.mean_map import numeric_mean_map
from tests.oracle import pattern_series
from tests.oracle.tables import CopyMoments
from tests.oracle.words import word_moments

CUBIC = "t - 0.2*t**3"
NON_ODD = "0.5*t**2 - 0.3*t**3"
QUINTIC = "t + 0.4*t**2 + 0.3*t**5"


def problem(activation: str | None, depth: int, width, P: int, T: int, order: int, beta: float, seed: int = 0) -> Problem:
    """A ``Problem`` on random inputs with ``|x|^2 / N0 = 0.36`` (kernels of order one at every degree) and
    ``N0 = P + T + 3`` (a positive definite kernel at zero temperature)."""
    net = ShapedMLP(depth=depth, width=width, psi=0.0, activation=activation)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(P + T, P + T + 3))
    X *= 0.6 / np.sqrt((X**2).mean(axis=1, keepdims=True))
    sigma2 = P / beta if math.isfinite(beta) else 0.0
    return Problem(net.activation.phi, sp.Integer(1), net.kernels(X), P, rng.normal(size=P), sigma2, net.widths, order)


def assert_same_moments(a: Moments, b: Moments, rel: float = 1e-10) -> None:
    for name in ("z", "zm", "zs"):
        x, y = getattr(a, name), getattr(b, name)
        for k in range(1, len(x)):  # row by row: each order has its own scale
            scale = max(np.max(np.abs(y[k]), initial=0.0), 1e-300)
            assert np.max(np.abs(x[k] - y[k]), initial=0.0) <= rel * scale, (name, k, x[k], y[k])


# ---------------------------------------------------------------------------------------- layer maps
@pytest.mark.parametrize("activation", ["t", CUBIC, NON_ODD, QUINTIC, "0.3*t**5"])
def test_local_taylor_coefficients_rebuild_the_mean_map(activation):
    """``m(K + X) - m(K) = sum_beta c^beta X_aa^b1 X_bb^b2 X_ab^b3`` exactly (m is a polynomial)."""
    phi = sp.sympify(activation, locals={"t": t})
    local, mean_map = LocalMap(phi, sp.Integer(1)), numeric_mean_map(phi, sp.Integer(1))
    rng = np.random.default_rng(1)
    B = rng.normal(size=(3, 3))
    K, X = 0.4 * B @ B.T / 3 + 0.2 * np.eye(3), 0.05 * rng.normal(size=(3, 3))
    X = X + X.T
    d = np.diagonal(X)
    taylor = sum(c * d[:, None] ** b1 * d[None, :] ** b2 * X**b3 for (b1, b2, b3), c in local.weights(K).items())
    exact = mean_map(K + X) - mean_map(K)
    assert np.max(np.abs(taylor - exact)) <= 1e-12 * np.max(np.abs(exact))
    # the Jacobian through ``propagate`` is the linear part
    W, U = local.weights(K)[(0, 0, 1)], local.weights(K).get((1, 0, 0), np.zeros_like(K))
    linear = sum(c * d[:, None] ** b1 * d[None, :] ** b2 * X**b3 for (b1, b2, b3), c in local.weights(K).items()
                 if b1 + b2 + b3 == 1)
    assert np.allclose(propagate(X, (0, 1), (W, U)), linear, rtol=1e-13, atol=0)


# ------------------------------------------------------------------------------ one copy's cumulants
@pytest.mark.parametrize("activation", [CUBIC, NON_ODD])
@pytest.mark.parametrize("r", [2, 3])
def test_copy_cumulants_equal_the_symbolic_taylor_tables(activation, r):
    """Up to ``r = 3`` cumulants are central moments: numeric Wick (compiler) = symbolic tables (oracle)."""
    phi = sp.sympify(activation, locals={"t": t})
    rng = np.random.default_rng(r)
    B = rng.normal(size=(3, 3))
    K = 0.3 * B @ B.T / 3 + 0.2 * np.eye(3)
    wick, tables = CopyCumulants(power_coefficients(phi), 1.0), CopyMoments(phi, sp.Integer(1))
    for alpha in [()] + tables.inputs(r, 4 - r)[::5]:  # inputs of degree <= 2 (r = 2), 1 (r = 3)
        expected = tables.tensor(K, r, alpha)
        got = wick.tensor(K, r, alpha)
        assert np.max(np.abs(got - expected)) <= 1e-12 * max(np.max(np.abs(expected)), 1e-300), alpha


# ------------------------------------------------------------------------------- cumulant transfer
def wishart_chain_cumulants(s0: sp.Rational, depth: int, n_max: int) -> dict[int, sp.Poly]:
    """Exact cumulants of ``s_L = s0 prod_l chi2_N / N`` (deep linear network, one point) in ``eps = 1/N``:
    ``E[s_L^k] = s0^k prod_{j<k} (1 + 2 j eps)^L``."""
    eps = sp.Symbol("eps")
    raw = [sp.Integer(1)] + [
        s0**k * sp.prod([(1 + 2 * j * eps) ** depth for j in range(k)]) for k in range(1, n_max + 1)
    ]
    out = {}
    for n in range(1, n_max + 1):  # kappa_n = m_n - sum_{k<n} C(n-1, k-1) kappa_k m_{n-k}
        out[n] = sp.expand(raw[n] - sum(sp.binomial(n - 1, k - 1) * out[k] * raw[n - k] for k in range(1, n)))
    return {n: sp.Poly(c, eps) for n, c in out.items()}


@pytest.mark.parametrize("order", [1, 2, 3])
def test_cumulant_transfer_reproduces_the_exact_wishart_chain(order):
    """Layer by layer, ``kappa_n(S_L - K_L)`` row ``k`` is the ``eps^k`` part of the exact cumulant."""
    depth, width, s0 = 3, 40, sp.Rational(7, 10)
    local, cumulants = LocalMap(t, sp.Integer(1)), CopyCumulants(power_coefficients(t), 1.0)
    terms = transfer_terms_for(t, local, order)
    K = np.array([[float(s0)]])
    state = {n: np.zeros((order + 1,) + (1,) * (2 * n)) for n in range(1, order + 2)}
    for _ in range(depth):
        step = LayerTransfer(K, width, local.weights(K), cumulants, order)
        state = {n: step.apply(terms[n], state, n) for n in state}
    exact = wishart_chain_cumulants(s0, depth, order + 1)
    exact[1] -= sp.Poly(s0, sp.Symbol("eps"))  # the state is the fluctuation S_L - K_L, K_L = s0
    for n, kappa in state.items():
        for k in range(order + 1):
            expected = float(exact[n].coeff_monomial(sp.Symbol("eps") ** k)) / width**k
            assert kappa[k].item() == pytest.approx(expected, rel=1e-12, abs=1e-18), (n, k)


# ---------------------------------------------------------------------------------------- lowerings
@pytest.mark.parametrize("activation", [CUBIC, NON_ODD, "0.3*t**5"])  # degrees 6-8: test_shaping_degrees
@pytest.mark.parametrize("beta", [math.inf, 2.0])
def test_factored_first_order_equals_the_dense_lowering(activation, beta):
    """Depth 2, as in ``test_shaping_degrees`` and ``test_compiled``: the same generated modules (phi = t + p/L)."""
    pr = problem(activation, 2, [30, 50], P=3, T=2, order=1, beta=beta)
    assert_same_moments(factored_moments(pr), dense_moments(pr))


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("beta", [math.inf, 3.0])
def test_scale_lowering_equals_the_dense_lowering(order, beta):
    """Linear maps: the scale mixture (one scalar) = the dense cumulants through the layers."""
    P, T = (3, 2) if order < 3 else (2, 1)
    pr = problem("0.8*t", 3, [30, 50, 40], P=P, T=T, order=order, beta=beta)
    assert_same_moments(scale_moments(pr), dense_moments(pr), rel=1e-9)


@pytest.mark.parametrize("beta", [math.inf, 3.0])
def test_scale_lowering_equals_the_word_algebra_on_many_points(beta):
    """At 40 points (where dense cannot go) against the pull-back in matrix words, order 2."""
    pr = problem("t", 3, [300, 500, 400], P=36, T=4, order=2, beta=beta)
    assert_same_moments(scale_moments(pr), word_moments(pr), rel=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("beta", [math.inf, 3.0])
def test_scale_lowering_equals_the_word_algebra_at_third_order(beta):
    pr = problem("t", 2, [300, 500], P=20, T=2, order=3, beta=beta)
    assert_same_moments(scale_moments(pr), word_moments(pr), rel=1e-9)


def test_moments_of_the_scale_are_those_of_a_product_of_chi_squares():
    """``E[delta^j]``, ``delta = prod_l chi2_{N_l}/N_l - 1``: rows below ``ceil(j/2)`` vanish exactly, and summed
    over the rows (all of them: ``order`` large enough) they are the exact central moments."""
    widths, order = (7, 11), 8
    table = delta_moments(widths, order)
    for j in range(2 * order + 1):
        assert not np.any(table[j, : (j + 1) // 2])
    raw = [math.prod(math.prod(1 + 2 * i / n for i in range(k)) for n in widths) for k in range(5)]
    central = [sum(math.comb(j, k) * (-1) ** (j - k) * raw[k] for k in range(j + 1)) for j in range(5)]
    np.testing.assert_allclose(table[:5].sum(axis=1), central, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "activation, beta",
    [(CUBIC, 3.0), (NON_ODD, math.inf), pytest.param(QUINTIC, 2.0, marks=pytest.mark.slow)],  # quintic: 5 min
)
def test_dense_second_order_equals_the_insertion_patterns(activation, beta):
    """docs/design.md section 8, placement by placement with symbolic tables: an independent organisation."""
    pr = problem(activation, 2, [30, 50], P=2, T=1, order=2, beta=beta)
    oracle = pattern_series(pr.phi, pr.sigma_w2, pr.kernels, pr.n_train, pr.y, pr.sigma2, pr.widths, 2)
    assert_same_moments(dense_moments(pr), Moments(oracle["z"], oracle["zm"], oracle["zs"]))


# --------------------------------------------------------------------------------------------- plan
def test_plan_chooses_a_lowering_by_cost():
    assert plan(problem(CUBIC, 2, 30, P=40, T=2, order=1, beta=2.0)).lowering == "factored"
    assert plan(problem(CUBIC, 2, 30, P=4, T=2, order=1, beta=2.0)).lowering == "dense"  # no module to generate
    assert plan(problem(CUBIC, 2, 30, P=3, T=1, order=2, beta=2.0)).lowering == "dense"
    for order in (1, 4):
        assert plan(problem("0.5*t", 2, 30, P=900, T=2, order=order, beta=2.0)).lowering == "scale"


def test_plan_refuses_what_does_not_fit_with_the_numbers():
    with pytest.raises(ValueError, match=r"order-2 evaluation on 42 points .* needs about .* GB"):
        plan(problem(CUBIC, 2, 30, P=40, T=2, order=2, beta=2.0))
    net = ShapedMLP(depth=2, width=30, psi=-0.6)
    with pytest.raises(ValueError, match="needs about"):
        net.evidence(np.random.default_rng(0).normal(size=(40, 3)), np.ones(40), beta=2.0, order=2)


def test_expensive_evaluations_warn_first(monkeypatch):
    monkeypatch.setattr("perturbo.compiler.EXPENSIVE_SECONDS", 0.0)
    with pytest.warns(RuntimeWarning, match="estimated at"):
        moments(problem(CUBIC, 2, 30, P=2, T=0, order=2, beta=2.0))


def test_dense_cost_grows_with_the_points_as_documented():
    def size(P: int) -> cost.Size:
        p = problem(CUBIC, 2, 30, P=P, T=0, order=2, beta=2.0)
        return problem_program(p).size(len(p.kernels[-1]), len(p.widths))

    small, large = cost.dense_cost(size(4)), cost.dense_cost(size(8))
    assert large[1] / small[1] == pytest.approx(2.0**6)  # memory M^(2 order + 2)
    fixed = cost.DENSE_FIXED_SECONDS + cost.SECONDS_PER_CONTRACTION * size(4).contractions  # (the read-out)
    assert 2.0**4 < (large[0] - fixed) / (small[0] - fixed) <= 2.0**6  # time: sum over kappa_n of M^(2n), n <= K + 1


def measured_over_estimated(p: Problem) -> tuple[cost.Plan, float]:
    """The plan of ``p`` and one warm evaluation's measured seconds over the plan's estimate."""
    chosen = plan(p)
    moments(p)
    start = time.perf_counter()
    moments(p)
    return chosen, (time.perf_counter() - start) / chosen.seconds


def test_factored_estimate_follows_the_plan():
    """The factored estimate counts the plan's steps, ``M^3`` and ``M^4`` steps (``Program.factored_work``): within 4x
    of one measured warm evaluation of the cubic at ``M = 34`` (``benchmarks/cost_model.py`` compares more sizes;
    the old ``2 L M^4`` flop count said 1e-3 s, 160x too little), and the larger plan of a non-odd shaping costs
    more at the same size."""
    chosen, ratio = measured_over_estimated(problem(CUBIC, 6, 30, P=32, T=2, order=1, beta=2.0))
    assert chosen.lowering == "factored" and 0.25 < ratio < 4.0
    assert plan(problem(NON_ODD, 6, 30, P=32, T=2, order=1, beta=2.0)).seconds > chosen.seconds


def test_dense_estimate_counts_the_readout_contractions():
    """On few points the dense lowering's time is its read-out (``cost.SECONDS_PER_CONTRACTION`` per contraction):
    the cubic at order 2 on 4 + 2 points is estimated within 4x of one measured warm evaluation; ``z`` alone (the
    evidence) has far fewer contractions and plan steps than the read-out with test points."""
    p = problem(CUBIC, 6, 30, P=4, T=2, order=2, beta=2.0)
    chosen, ratio = measured_over_estimated(p)
    assert chosen.lowering == "dense" and 0.25 < ratio < 4.0
    compiled = problem_program(p)
    assert contraction_count(compiled.readout, 2, ("z",)) < compiled.size(6, 6).contractions
    assert 5 * len(compiled.readout_plan(tested=False).steps) < len(compiled.readout_plan().steps)


def test_dense_estimate_follows_the_activation_degree():
    """One copy's Wick tensors grow with the activation's degree and monomials (``cost.noise_seconds``): at order 2 on
    6 + 2 points and 6 layers, a degree-7 shaping costs several times the cubic, and the plan says so within 2x
    (measured 5.9x, estimated 3.9x on the machine the constants were fitted on; without the degree, 1.0x)."""
    plans, measured = [], []
    for activation in (CUBIC, "0.2*t**3 - 0.1*t**7"):
        chosen, ratio = measured_over_estimated(problem(activation, 6, 30, P=6, T=2, order=2, beta=2.0))
        plans.append(chosen.seconds)
        measured.append(chosen.seconds * ratio)
    assert measured[1] / measured[0] > 3.0
    assert 0.5 < (plans[1] / plans[0]) / (measured[1] / measured[0]) < 2.0


def peak_bytes(run) -> int:
    """The peak of ``run()``'s allocations (``tracemalloc``: NumPy's arrays included), after a warm call."""
    run()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("order, M", [(1, 14), (2, 8)])
def test_memory_stays_within_its_rule_at_any_depth(order, M):
    """Peak memory of the dense lowering (``cost.dense_memory``) and of the posterior representations
    (``cost.representation_memory``: their mixed cumulants grow with the depth ``L``), measured at 2 and 8 layers.
    Each layer's dressed arrays were once held by a reference cycle until the garbage collector ran: the dense lowering
    then took 1.3-1.9x its rule at ``L = 8``, the representations 3.5x (``L (L + 1) / 2 + 2`` arrays against
    ``L + 3``)."""
    from perturbo.compiler.representations import representation_moments

    for depth in (2, 8):
        p = problem(CUBIC, depth, 30, P=M - 2, T=2, order=order, beta=2.0)
        dense = peak_bytes(lambda: dense_moments(p))
        assert dense <= cost.dense_memory(order, M), (depth, dense / cost.dense_memory(order, M))
        represented = peak_bytes(lambda: representation_moments(p)) / cost.representation_memory(order, M, depth)
        assert 0.6 < represented <= 1.0, (depth, represented)


def test_a_requested_lowering_runs_or_is_refused():
    """``lowering=`` on the problem is what the plan returns; one that does not apply is a ``ValueError``."""
    first = problem(CUBIC, 2, 30, P=4, T=2, order=1, beta=2.0)
    for lowering in ("dense", "factored"):
        assert plan(dataclasses.replace(first, lowering=lowering)).lowering == lowering
    linear = problem("0.5*t", 2, 30, P=4, T=2, order=2, beta=2.0)
    assert plan(dataclasses.replace(linear, lowering="dense")).lowering == "dense"
    for pr, lowering, message in [(first, "scale", "needs a linear activation"),
                                  (dataclasses.replace(first, order=2), "factored", "the first order's"),
                                  (first, "sparse", "lowering must be None")]:
        with pytest.raises(ValueError, match=message):
            plan(dataclasses.replace(pr, lowering=lowering))



def random_cumulants(rng: np.random.Generator, order: int, M: int) -> dict[int, np.ndarray]:
    """``kappa_1 .. kappa_(order + 1)`` with random entries in their rows ``>= lowest_row(s)``; from order 2 one of
    them zero (at order 1 each cumulant has one row)."""
    state = {}
    for s in range(1, order + 2):
        a = rng.normal(size=(order + 1,) + (M,) * (2 * s))
        a[:lowest_row(s)] = 0.0
        state[s] = a
    if order >= 2:
        state[1][order] = 0.0  # a zero row: the steps it enters are skipped
    return state


@pytest.mark.parametrize("order, P, T", [(1, 4, 2), (2, 4, 3), (2, 5, 0), (3, 3, 0),
                                         pytest.param(3, 3, 1, marks=pytest.mark.slow)])
def test_readout_plan_equals_the_networks_one_by_one(order, P, T):
    """The dense read-out along the plan's shared pairwise steps (``readout.plan_readout``, what ``dense_moments``
    runs) equals the networks contracted one by one (``runtime_terms.readout_expectation``), to rounding; every
    distinct step is in the plan once."""
    rng = np.random.default_rng(order + P + T)
    X = rng.normal(size=(P + T, 4))
    K = X @ X.T / 4 + 0.1 * np.eye(P + T)
    y, state = rng.normal(size=P), random_cumulants(rng, order, P + T)
    networks = {degree: readout_networks(degree, 2 * order) for degree in range(2 * order + 1)}
    plan = plan_readout(networks, order, OUTPUTS if T else ("z",))
    assert len(set(plan.steps)) == len(plan.steps)
    planned = readout_moments(ReadoutOperands(K, P, y, 0.3), state, order, plan)
    one_by_one = readout_moments(ReadoutOperands(K, P, y, 0.3), state, order)
    assert_same_moments(planned, one_by_one, rel=1e-12)


def test_readout_plan_is_kept_as_plain_data(tmp_path, monkeypatch):
    """A plan's arrays give the plan back; ``readout_plan`` writes them to the cache once and a fresh lookup reads
    them; a plan for other outputs or another order is refused."""
    monkeypatch.setenv("PERTURBO_CACHE_DIR", str(tmp_path))
    readout_plan.cache_clear()
    networks = {degree: readout_networks(degree, 4) for degree in range(5)}
    made = plan_readout(networks, 2)
    assert plan_from_arrays(2, OUTPUTS, made.operands, made.cumulants, made.as_arrays()) == made
    assert readout_plan(2) == made and len(list(tmp_path.glob("arrays/readout_plan_*.npz"))) == 1
    readout_plan.cache_clear()
    assert readout_plan(2) == made
    operands = ReadoutOperands(np.eye(3), 2, np.ones(2), 0.5)
    state = random_cumulants(np.random.default_rng(0), 2, 3)
    with pytest.raises(ValueError, match="tested=True"):
        readout_moments(operands, state, 2, readout_plan(2, tested=False))
    with pytest.raises(ValueError, match="order 2"):
        readout_moments(operands, state, 3, made)
    z_alone = readout_series(operands, state, 2, readout_plan(2, tested=False))  # one test point: z still exact
    assert set(z_alone) == {"z"} and np.array_equal(z_alone["z"], readout_moments(operands, state, 2, made).z)
    readout_plan.cache_clear()
