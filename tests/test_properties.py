"""Properties of the Bayesian answers (hypothesis): invariances, consistency, determinism, clean failures."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perturbo import ShapedMLP
from tests.oracle import pullback

settings.register_profile("perturbo", deadline=None, max_examples=8, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("perturbo")

cases = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**31),
        "P": st.integers(1, 4),
        "T": st.integers(1, 3),
        "depth": st.integers(1, 4),
        "psi": st.floats(-0.8, 0.8),
        "beta": st.sampled_from([math.inf, 0.5, 4.0]),
        "order": st.sampled_from([0, 1]),
    }
)


def draw(case):
    rng = np.random.default_rng(case["seed"])
    N0 = case["P"] + 3
    X = 0.7 * rng.normal(size=(case["P"], N0))
    X_test = 0.7 * rng.normal(size=(case["T"], N0))
    y = rng.normal(size=case["P"])
    net = ShapedMLP(depth=case["depth"], width=16, psi=case["psi"])
    Q, _ = np.linalg.qr(rng.normal(size=(N0, N0)))
    return net, X, y, X_test, Q, rng.permutation(case["P"])


def answers(net, X, y, X_test, beta, order):
    """Every term separately: an invariance of the sum that held only by cancellation would fail."""
    ev = net.evidence(X, y, beta=beta, order=order)
    pr = net.predict(X, y, X_test, beta=beta, order=order)
    return ev.terms, pr.mean_terms, pr.var_terms


def assert_close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-9)


@given(cases)
def test_rotation_of_inputs_changes_nothing(case):
    net, X, y, X_test, Q, _ = draw(case)
    beta, order = case["beta"], case["order"]
    for a, b in zip(answers(net, X, y, X_test, beta, order), answers(net, X @ Q, y, X_test @ Q, beta, order)):
        assert_close(a, b)


@given(cases)
def test_permuting_training_points_changes_nothing(case):
    net, X, y, X_test, _, perm = draw(case)
    beta, order = case["beta"], case["order"]
    for a, b in zip(answers(net, X, y, X_test, beta, order), answers(net, X[perm], y[perm], X_test, beta, order)):
        assert_close(a, b)


@given(cases)
def test_flipping_targets_flips_only_the_mean(case):
    net, X, y, X_test, _, _ = draw(case)
    ev, mean, var = answers(net, X, y, X_test, case["beta"], case["order"])
    ev_flip, mean_flip, var_flip = answers(net, X, -y, X_test, case["beta"], case["order"])
    assert_close(ev, ev_flip)
    assert_close(mean, -mean_flip)
    assert_close(var, var_flip)
    assert np.all(np.isfinite(ev)) and np.all(np.isfinite(mean)) and np.all(var[0] > -1e-9)


# ------------------------------------------------------------ consistency
@given(cases)
def test_results_have_their_shapes_and_are_finite(case):
    net, X, y, X_test, _, _ = draw(case)
    beta, order = case["beta"], case["order"]
    ev = net.evidence(X, y, beta=beta, order=order)
    pr = net.predict(X, y, X_test, beta=beta, order=order)
    assert ev.terms.shape == (order + 1,) and pr.mean_terms.shape == (order + 1, len(X_test))
    np.testing.assert_allclose(pr.cov, pr.cov.T, rtol=1e-12, atol=1e-14)
    for values in (ev.terms, pr.mean_terms, pr.cov_terms):
        assert np.all(np.isfinite(values))


@given(cases)
def test_log_partition_differs_from_log_evidence_by_the_stated_constant(case):
    net, X, y, _, _, _ = draw(case)
    ev = net.evidence(X, y, beta=case["beta"], order=case["order"])
    P = len(y)
    if math.isinf(case["beta"]):
        assert ev.log_partition is None
    else:
        assert ev.log_partition - ev.log_evidence == pytest.approx(0.5 * P * math.log(2 * math.pi * P / case["beta"]))


@given(cases)
def test_posterior_mean_at_a_training_point_is_its_target_at_zero_temperature(case):
    """Exactly at beta = inf (every order), and within O(P/beta) at large finite beta."""
    net, X, y, X_test, _, _ = draw(case)
    at_training = np.vstack([X[:1], X_test])
    exact = net.predict(X, y, at_training, beta=math.inf, order=case["order"])
    assert exact.mean[0] == pytest.approx(y[0], abs=1e-8)
    assert exact.var[0] == pytest.approx(0.0, abs=1e-8)
    np.testing.assert_allclose(exact.mean_terms[1:, 0], 0.0, atol=1e-8)
    cold = net.predict(X, y, at_training, beta=1e7, order=case["order"])
    assert cold.mean[0] == pytest.approx(y[0], abs=1e-3 * (1 + abs(y[0])))


@given(cases)
def test_same_input_same_answer_bit_for_bit(case):
    net, X, y, X_test, _, _ = draw(case)
    first = answers(net, X, y, X_test, case["beta"], case["order"])
    second = answers(net, X.copy(), y.copy(), X_test.copy(), case["beta"], case["order"])
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=5)
@given(cases)
def test_compiler_and_pullback_oracle_agree(case):
    net, X, y, X_test, _, _ = draw(case)
    beta = case["beta"]
    compiled = (net.evidence(X, y, beta=beta, order=1), net.predict(X, y, X_test, beta=beta, order=1))
    reference = (pullback.series(net, X, y, X_test, beta, order=1),) * 2
    # rtol 1e-9 of each quantity's leading term: a correction that is exactly zero (the deep linear mean at
    # beta = inf) comes out of the oracle as a cancellation of order-one numbers (seen: 2.7e-11 at psi = 0)
    for a, b in ((compiled[0].terms, reference[0].terms), (compiled[1].mean_terms, reference[1].mean_terms),
                 (compiled[1].cov_terms, reference[1].cov_terms)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * max(1.0, float(np.max(np.abs(b[0])))))


# ------------------------------------------------------------ arbitrary input
entries = st.one_of(
    st.floats(-3, 3), st.sampled_from([math.nan, math.inf, -math.inf, 1e200, 0.0]), st.integers(-5, 5)
)


@settings(max_examples=60)
@given(
    X=st.lists(st.lists(entries, min_size=0, max_size=5), min_size=0, max_size=4),
    y=st.lists(entries, min_size=0, max_size=4),
    beta=st.one_of(st.floats(allow_nan=True), st.sampled_from([math.inf, 0, -1, "2"])),
    order=st.one_of(st.integers(-1, 1), st.just(1.5), st.just(5)),
    depth=st.integers(0, 3),
    width=st.integers(0, 30),
    psi=st.floats(-1, 1),
)
def test_arbitrary_input_gives_a_finite_answer_or_a_value_error(X, y, beta, order, depth, width, psi):
    """Never NaN, never an exception other than ValueError, for any shapes and values."""
    try:
        net = ShapedMLP(depth=depth, width=width, psi=psi)
        ev = net.evidence(X, y, beta=beta, order=order)
        pr = net.predict(X, y, X, beta=beta, order=order)
    except ValueError as exc:
        assert str(exc)
        return
    assert np.all(np.isfinite(ev.terms)) and np.all(np.isfinite(pr.mean_terms)) and np.all(np.isfinite(pr.cov_terms))
