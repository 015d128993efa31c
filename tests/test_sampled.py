"""The sampled estimator (issue 18): patterns, jets, agreement with the exact terms, errors, choice."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import sympy as sp

from perturbo import ShapedMLP
from perturbo.compiler import moments as compiled
from perturbo.problem import Problem
from perturbo.runtime.gp_posterior import noise_variance
from perturbo.sampled import estimator
from perturbo.sampled.jets import Box, Jet
from perturbo.sampled.log_det import log_det, trace_plan
from perturbo.sampled.pattern_values import Readout, SampledNetwork
from perturbo.sampled.patterns import patterns

from .datasets import make_data
from .oracle.cauchy import gaussian_process_readout, taylor_coefficient


def test_patterns_of_two_layers_at_order_two():
    found = {p.copies: p.weight_polynomial(2, 3) for p in patterns(2, 2)}
    assert found == {
        ((1, 2),): {(1, 0): 1.0}, ((2, 2),): {(0, 1): 1.0},
        ((1, 3),): {(2, 0): 1.0}, ((2, 3),): {(0, 2): 1.0},
        ((1, 2), (1, 2)): {(2, 0): 0.5, (3, 0): -0.5}, ((2, 2), (2, 2)): {(0, 2): 0.5, (0, 3): -0.5},
        ((1, 2), (2, 2)): {(1, 1): 1.0},
    }
    three_copies = next(p for p in patterns(1, 3) if p.copies == ((1, 2), (1, 2), (1, 2)))
    N = 7.0  # (N)_3 / N^6 / 3! = (1 - 1/N)(1 - 2/N) / (6 N^3)
    assert three_copies.weight_terms((7,), 5).sum() == pytest.approx((1 - 1 / N) * (1 - 2 / N) / (6 * N**3))


def _symmetric_jet(box: Box, shape: tuple[int, ...], rng, absent: tuple = ()) -> dict:
    return {alpha: 0.3 * (lambda a: a + np.swapaxes(a, -1, -2))(rng.normal(size=shape))
            for alpha in box.indices[1:] if alpha not in absent}


@pytest.mark.parametrize("top", [(2, 1), (3,), (2, 2)])
def test_factor_jet_squares_to_the_kernel_jet(top):
    """``u = F(S) g`` (``SampledNetwork.draw``) for the columns of ``g = I`` is the factor itself: ``F F^T = S`` to
    every order of the box, and ``F(K) = C_0``."""
    rng = np.random.default_rng(0)
    box = Box(top)
    G = rng.normal(size=(5, 5))
    K = G @ G.T + 5 * np.eye(5)
    S = Jet(box, _symmetric_jet(box, (5, 5), rng)) + K
    network = SampledNetwork(ShapedMLP(2, 10, psi=-0.6).activation.phi, sp.Rational(1), [K, K],
                             Readout.at(K, 5, np.ones(5), 0.5))
    F = network.draw(S, 0, np.eye(5)).map(lambda u: u.T)  # draw d is column d of F
    square = F.times(F, lambda a, b: a @ b.T)
    for alpha in box.indices:
        assert np.allclose(square[alpha], S[alpha], atol=1e-11)
    assert np.allclose(F.value, np.linalg.cholesky(K))


def _at(E: dict, delta: np.ndarray, draw: int) -> np.ndarray:
    """``sum_alpha delta^alpha E_alpha`` for one draw."""
    return sum(np.prod(delta ** np.array(alpha)) * e[draw] for alpha, e in E.items())


@pytest.mark.parametrize("top, absent", [((2,), ()), ((3,), ()), ((2, 2), ()), ((2, 2), ((0, 1), (1, 1))),
                                         ((2, 1, 1), ((1, 0, 0),))])
@pytest.mark.parametrize("sigma2", [0.5, 0.0])
def test_readout_jet_against_the_cauchy_integral_of_the_dense_read_out(top, absent, sigma2):
    """The ``delta^top`` coefficient of ``z``, ``z m``, ``z (C + m m^T)`` for ``S = K + sum_alpha delta^alpha E_alpha``
    (two draws at once, some coefficients absent, two test points) against the discrete Cauchy integral of the
    dense read-out at complex ``delta`` (``oracle.cauchy``; its error is below 1e-11 here)."""
    rng = np.random.default_rng(1)
    P, M = 3, 5
    G = rng.normal(size=(M, M))
    K = G @ G.T + np.eye(M)
    y = rng.normal(size=P)
    box = Box(top)
    E = _symmetric_jet(box, (2, M, M), rng, absent)
    z, zm, zs = Readout.at(K, P, y, sigma2).values(Jet(box, E))
    for draw in range(2):
        expected = taylor_coefficient(lambda d: gaussian_process_readout(K, _at(E, d, draw), P, y, sigma2), top)
        assert np.allclose(np.concatenate([[z[draw]], zm[draw], zs[draw].ravel()]), expected, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("top", [(4,), (3, 2), (2, 2, 2)])
def test_log_det_jet_against_the_cauchy_integral(top):
    """Every coefficient of ``log det(I + A E)`` from the trace plan (up to six factors a trace at ``(2, 2, 2)``)."""
    rng = np.random.default_rng(4)
    P = 4
    G = rng.normal(size=(P, P))
    A = np.linalg.inv(G @ G.T + np.eye(P))
    box = Box(top)
    E = _symmetric_jet(box, (1, P, P), rng)
    planned = log_det(A, Jet(box, E))
    for alpha in box.indices[1:]:
        expected = taylor_coefficient(lambda d: np.log(np.linalg.det(np.eye(P) + A @ _at(E, d, 0))), alpha)
        assert np.allclose(planned[alpha], expected, rtol=1e-8, atol=1e-9), alpha


def test_log_det_plan_forms_few_products():
    """Two copies of size 2 (box ``(2, 2)``), every coefficient present: the seven ``A E_beta`` below the top and three
    chains of two factors, 10 ``P^3`` products where the powers ``B^2`` to degree 3 took 20; each chain is formed
    after its prefix and its last factor, and every trace reads formed chains."""
    box = Box((2, 2))
    plan = trace_plan(box.top, tuple(box.indices[1:]))
    assert sorted(len(c) for c in plan.chains) == [1] * 7 + [2] * 3
    assert ((2, 2),) not in plan.chains
    for position, chain in enumerate(plan.chains):
        if len(chain) > 1:
            assert {chain[:-1], chain[-1:]} <= set(plan.chains[:position])
    assert all({X, Y} <= set(plan.chains) for _, _, X, Y in plan.traces)
    assert set(plan.linear) == set(box.indices[1:])


def _problem(net: ShapedMLP, X_all: np.ndarray, P: int, y: np.ndarray, beta: float, order: int) -> Problem:
    return Problem(net.activation.phi, sp.Rational(1), net.kernels(X_all), P, y, noise_variance(P, beta),
                   net.widths, order)


def _flat(m) -> np.ndarray:
    return np.concatenate([m.z, m.zm.ravel(), m.zs.ravel()])


CASES = [
    pytest.param(dict(psi=-0.6), id="cubic"),
    pytest.param(dict(activation="0.5*t**2 - 0.3*t**3"), id="non-odd"),
    pytest.param(dict(psi=0.0), id="deep-linear"),
]


@pytest.mark.parametrize("beta", [4.0, math.inf])
@pytest.mark.parametrize("kind", CASES)
def test_plain_estimator_agrees_with_the_exact_terms(kind, beta):
    """Every moment entry of orders 1-2 within 4 standard errors (plain estimator: the patterns alone).

    Eight layers: the regime the series is built for (a weak shaping per layer). With four layers and
    ``beta = inf`` the cubic's order-2 pattern values are heavy-tailed (kurtosis 1e3 to 2e4): 3000 samples
    then miss by 7 standard errors, and 30000 land within 0.2.
    """
    X, y, X_test = make_data(P=3, N0=8, T=1, seed=2)
    net = ShapedMLP(8, [40, 60, 50, 80, 70, 40, 90, 60], **kind)
    problem = _problem(net, np.vstack([X, X_test]), 3, y, beta, 2)
    exact = _flat(compiled(problem))
    value, se = estimator.sampled_series(problem, 3000, 0, control=False, show_progress=False).statistic(_flat)
    sampled = se > 0
    assert sampled.sum() == 2 * (1 + 1 + 1)  # terms 1 and 2 of z, z m, z (C + m m)
    assert np.all(np.abs(value - exact)[sampled] < 4 * se[sampled])
    assert np.allclose(value[~sampled], exact[~sampled])  # row 0: the Gaussian process


def test_a_singular_first_kernel_is_drawn_with_its_eigenvector_factor():
    """``P + T > N0``: ``K_0`` is singular, so the copies at layer 1 use an eigenvector factor (no ``K_0^-1``, no jet),
    and later copies the factor's series in ``K_l^-1`` (``SampledNetwork.draw``). Orders 1-2 within 4 standard
    errors of the exact terms."""
    X, y, X_test = make_data(P=5, N0=4, T=1, seed=9)
    net = ShapedMLP(6, [40, 60, 50, 80, 70, 40], psi=-0.6)
    problem = _problem(net, np.vstack([X, X_test]), 5, y, 4.0, 2)
    assert np.linalg.matrix_rank(problem.kernels[0]) == 4
    exact = _flat(compiled(problem))
    value, se = estimator.sampled_series(problem, 2000, 0, control=False, show_progress=False).statistic(_flat)
    sampled = se > 0
    assert sampled.sum() == 2 * (1 + 1 + 1)
    assert np.all(np.abs(value - exact)[sampled] < 4 * se[sampled])


@pytest.mark.parametrize("beta", [4.0, math.inf])
def test_public_api_agrees_with_exact_and_reports_errors(beta):
    X, y, X_test = make_data(P=4, N0=8, T=2, seed=3)
    net = ShapedMLP(5, 60, psi=-0.6)
    exact = net.predict(X, y, X_test, beta, order=2)
    sampled = net.predict(X, y, X_test, beta, order=2, method="sampled", samples=2000, seed=1)
    assert sampled.method == "sampled" and exact.method == "exact" and exact.mean_terms_se is None
    for value, truth, se in ((sampled.mean_terms, exact.mean_terms, sampled.mean_terms_se),
                             (sampled.var_terms, exact.var_terms, sampled.var_terms_se)):
        assert np.all(se[0] == 0) and np.all(se[1:] > 0)
        assert np.allclose(value[0], truth[0])
        assert np.all(np.abs(value[1:] - truth[1:]) < 4 * se[1:])
    ev = net.evidence(X, y, beta, order=2, method="sampled", samples=2000, seed=1)
    ex = net.evidence(X, y, beta, order=2)
    assert ev.terms_se[0] == 0 and ev.terms[0] == ex.terms[0]
    assert np.all(np.abs(ev.terms[1:] - ex.terms[1:]) < 4 * ev.terms_se[1:])


def test_control_variate_is_exact_for_the_deep_linear_network():
    """The control network of a deep linear network is the network itself: the estimate is exact."""
    X, y, X_test = make_data(P=3, N0=8, T=2, seed=4)
    net = ShapedMLP(3, [30, 50, 40], psi=0.0, sigma_w2=1.3)
    for beta in (2.0, math.inf):
        problem = Problem(net.activation.phi, sp.nsimplify(1.3), net.kernels(np.vstack([X, X_test])), 3, y,
                          noise_variance(3, beta), net.widths, 3)
        value, se = estimator.sampled_series(problem, 300, 0, show_progress=False).statistic(_flat)
        exact = _flat(compiled(problem))
        assert np.allclose(value, exact, rtol=1e-8, atol=1e-10 * np.abs(exact).max())


def test_control_variate_reduces_the_spread():
    X, y, _ = make_data(P=6, N0=10, T=0, seed=5)
    net = ShapedMLP(6, 100, psi=-0.6)
    problem = _problem(net, X, 6, y, 6.0, 1)
    plain = estimator.sampled_series(problem, 800, 0, control=False, show_progress=False).statistic(lambda m: m.z)[1]
    controlled = estimator.sampled_series(problem, 800, 0, show_progress=False).statistic(lambda m: m.z)[1]
    assert controlled[1] < 0.5 * plain[1]


def test_standard_error_shrinks_like_inverse_square_root_of_samples():
    X, y, _ = make_data(P=4, N0=8, T=0, seed=6)
    net = ShapedMLP(4, 50, psi=-0.6)
    problem = _problem(net, X, 4, y, 4.0, 1)
    se = [estimator.sampled_series(problem, S, 0, control=False, show_progress=False).statistic(lambda m: m.z)[1][1]
          for S in (1000, 16000)]
    assert se[1] / se[0] == pytest.approx(0.25, rel=0.2)


def test_deterministic_for_a_seed_and_shared_across_widths():
    X, y, _ = make_data(P=3, N0=8, T=0, seed=7)
    estimator._CACHE.clear()
    first = ShapedMLP(4, 50, psi=-0.6).evidence(X, y, 3.0, order=1, method="sampled", samples=300, seed=5)
    estimator._CACHE.clear()
    again = ShapedMLP(4, 50, psi=-0.6).evidence(X, y, 3.0, order=1, method="sampled", samples=300, seed=5)
    other = ShapedMLP(4, 50, psi=-0.6).evidence(X, y, 3.0, order=1, method="sampled", samples=300, seed=6)
    wider = ShapedMLP(4, 200, psi=-0.6).evidence(X, y, 3.0, order=1, method="sampled", samples=300, seed=5)
    assert np.array_equal(first.terms, again.terms) and not np.array_equal(first.terms, other.terms)
    assert 200 * wider.terms[1] == pytest.approx(50 * first.terms[1], rel=1e-12)  # common random numbers


def test_auto_chooses_exact_when_cheap_and_sampled_when_exact_does_not_fit():
    X, y, _ = make_data(P=3, N0=8, T=0, seed=8)
    net = ShapedMLP(2, 100, psi=-0.6)
    assert net.evidence(X, y, 3.0, order=1, method="auto").method == "exact"
    X, y, _ = make_data(P=24, N0=30, T=0, seed=8)  # order 2 dense on 24 points needs about 40 GB
    ev = net.evidence(X, y, 24.0, order=2, method="auto", rtol=0.5)
    assert ev.method == "sampled" and np.all(ev.terms_se[1:] > 0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(method="bogus"), "method must be one of"),
        (dict(method="exact", samples=100), "takes neither"),
        (dict(method="sampled", samples=1), "samples must be"),
        (dict(method="sampled", rtol=2.0), "rtol must be"),
        (dict(method="sampled", samples=10, rtol=0.1), "not both"),
        (dict(method="sampled", backend="compiled"), "leave backend='auto'"),
        (dict(method="sampled", limit="continuum"), "leave method='exact'"),
        (dict(method="sampled", seed=-1), "seed must be"),
    ],
)
def test_bad_sampling_arguments_are_clear_errors(kwargs, message):
    X, y, _ = make_data(P=3, N0=8, T=0)
    with pytest.raises(ValueError, match=message):
        ShapedMLP(3, 50, psi=-0.6).evidence(X, y, 3.0, order=1, **kwargs)


def test_order_zero_is_exact_whatever_the_method():
    X, y, _ = make_data(P=3, N0=8, T=0)
    net = ShapedMLP(3, 50, psi=-0.6)
    ev = net.evidence(X, y, 3.0, order=0, method="sampled", samples=10)
    assert ev.method == "exact" and ev.terms_se is None and ev.terms[0] == net.evidence(X, y, 3.0).terms[0]


def test_singular_training_kernel_is_a_clear_error_before_any_draw():
    X, y, _ = make_data(P=3, N0=8, T=0)
    X[2] = X[1]
    with pytest.raises(ValueError, match="not positive definite"):
        ShapedMLP(3, 50, psi=-0.6).evidence(X, y, math.inf, order=1, method="sampled", samples=10)


@pytest.mark.parametrize("beta", [4.0, math.inf])
def test_heavy_tails_are_measured_and_warned(beta):
    """Four layers: the order-2 pattern values have no variance (tail index about 1.1-1.4 at 3000 samples), and the
    public API says so with the number; eight layers (the regime of the agreement tests above) stay above 2."""
    X, y, X_test = make_data(P=3, N0=8, T=1, seed=2)
    shallow = ShapedMLP(4, [40, 60, 50, 80], psi=-0.6)
    with pytest.warns(RuntimeWarning, match=r"heavy-tailed here \(tail index (0|1)\.\d\d < 2") as caught:
        shallow.predict(X, y, X_test, beta, order=2, method="sampled", samples=3000, seed=0)
    assert len([w for w in caught if "tail index" in str(w.message)]) == 1
    deep = ShapedMLP(8, [40, 60, 50, 80, 70, 40, 90, 60], psi=-0.6)
    problem = _problem(deep, np.vstack([X, X_test]), 3, y, beta, 2)
    assert estimator.sampled_series(problem, 3000, 0, show_progress=False).tail_index() > estimator.TAIL_INDEX_WARNING
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.filterwarnings("ignore", message=".*not converging.*")
        deep.predict(X, y, X_test, beta, order=2, method="sampled", samples=3000, seed=0)


def _mean_map_by_jet_algebra(weights: dict, K_next: np.ndarray, S: Jet) -> Jet:
    """Oracle: ``m(K + X) = K_next + sum_beta c^beta X_aa^b1 X_bb^b2 X_ab^b3`` with whole-array jet products."""
    X = S.nonconstant()
    diagonal = X.map(lambda x: np.einsum("...ii->...i", x))
    variables = (diagonal.map(lambda d: d[..., :, None]), diagonal.map(lambda d: d[..., None, :]), X)
    out = Jet.constant(S.box, K_next)
    for beta, c in weights.items():
        term = Jet.constant(S.box, 1.0)
        for v, k in enumerate(beta):
            for _ in range(k):
                term = term * variables[v]
        out = out + term * c
    return out


@pytest.mark.parametrize("activation, top", [("-0.2*t**3", (2, 2)), ("0.5*t**2 - 0.3*t**3", (3,)),
                                             ("0.02*t**5 + 0.1*t**2", (2, 1, 1)), ("t", (2, 2))])
def test_fused_mean_map_equals_the_jet_algebra(activation, top):
    """The one-pass kernel (``jets.hadamard_polynomial``, Horner form) against whole-array jet products, on a sparse
    jet; ``t`` is the control network's linear map (one ``beta``, no powers of the diagonals)."""
    from perturbo.compiler.layer_maps import LocalMap

    rng = np.random.default_rng(7)
    X, y, _ = make_data(P=5, N0=8, T=0, seed=6)
    net = ShapedMLP(3, 40, activation=activation)
    kernels = net.kernels(X)
    network = SampledNetwork(net.activation.phi, sp.Rational(1), kernels, Readout.at(kernels[-1], 5, y, 0.5))
    box = Box(top)
    present = [alpha for alpha in box.indices[1:] if alpha[0] > 0][:3]  # reached by one copy so far
    S = Jet(box, {box.zero: kernels[1], **{a: 0.1 * (lambda e: e + np.swapaxes(e, -1, -2))(rng.normal(size=(2, 5, 5)))
                                           for a in present}})
    fused = network.mean_map(S, 2)
    oracle = _mean_map_by_jet_algebra(LocalMap(net.activation.phi, sp.Rational(1)).weights(kernels[1]), kernels[2], S)
    for alpha in box.indices:
        assert np.allclose(fused[alpha], oracle[alpha], rtol=1e-12, atol=1e-14), alpha
    assert set(fused.coefficients) <= set(oracle.coefficients) | {box.zero}
