"""Invariances of the Bayesian answers (hypothesis): rotations, permutations, y -> -y."""
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perturbo import ShapedMLP

settings.register_profile("perturbo", deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("perturbo")

cases = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**31),
        "P": st.integers(1, 4),
        "T": st.integers(1, 3),
        "depth": st.integers(1, 5),
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
