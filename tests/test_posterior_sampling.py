"""Posterior sampling of the finite network (``net.sample_posterior``, NUTS in numpyro), the packaged datasets and the
neural tangent kernel predictor (``net.ntk``).

Code paths: ``reference/posterior.py`` (whitened hidden weights, read-out integrated out, ``postprocess_fn`` keeping
each draw's Gaussian-process mean and covariance), ``perturbo.datasets``, ``runtime.kernel_flow.tangent_kernel_flow``.
References: the Gram-chain Monte Carlo (``net.monte_carlo``), the exact deep linear answer (``net.exact``), a finite
network's empirical tangent kernel by explicit back-propagation.
"""
from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from perturbo import ShapedMLP
from perturbo.datasets import digits, linear_teacher

pytest.importorskip("numpyro")


def combined(a_mean, a_se, b_mean, b_se) -> np.ndarray:
    return np.abs(a_mean - b_mean) / np.hypot(a_se, b_se)


@pytest.mark.parametrize("depth, width, psi, activation, noise, scale", [
    (2, 20, -0.6, None, 0.5, 0.8),
    pytest.param(2, 30, 0.0, "0.5*t**2 - 0.3*t**3", 0.5, 0.8, marks=pytest.mark.slow),
    pytest.param(3, 30, 0.0, None, 2.0, 0.8, marks=pytest.mark.slow),
    pytest.param(4, 30, 0.6, None, 2.0, 0.5, marks=pytest.mark.slow),
])
def test_nuts_agrees_with_the_gram_chain_monte_carlo(depth, width, psi, activation, noise, scale):
    """Small held-in cases (``P = 6``, two temperatures, shaped, non-odd and deep linear): the sampled predictive mean
    and variance are within 3 combined standard errors of the Gram-chain Monte Carlo (4e5 networks), R-hat < 1.01.
    (With ``psi = +0.6`` and inputs of scale 0.8 the Gram entries are heavy-tailed and neither reference's variance
    is reliable; the inputs are halved there.)"""
    X, y, X_test, _ = linear_teacher(6, 3, dimension=10, noise=0.3, seed=depth)
    X, X_test = scale * X, scale * X_test
    beta = 6 / noise
    net = ShapedMLP(depth=depth, width=width, psi=psi, activation=activation)
    post = net.sample_posterior(X, y, X_test, beta=beta, samples=1000, chains=2, warmup=500, seed=1, progress=False)
    mc = net.monte_carlo(X, y, X_test, beta=beta, samples=400_000, seed=0)
    assert np.all(combined(post.mean, post.mean_se, mc.mean, mc.mean_se) < 3), (post.mean, mc.mean)
    assert np.all(np.abs(post.var - mc.var) / post.var_se < 3), (post.var, mc.var)
    assert np.max(post.rhat) < 1.01 and post.divergences == 0


@pytest.mark.slow
def test_nuts_agrees_with_the_exact_deep_linear_answer_at_fifty_points():
    """``P = 50``, ``L = 2``, ``N = 50``, noise variance 1: within 3 standard errors of ``net.exact`` (about 3 minutes)."""
    X, y, X_test, _ = linear_teacher(50, 4, dimension=30, noise=0.5, seed=3)
    net = ShapedMLP(depth=2, width=50)
    post = net.sample_posterior(X, y, X_test, beta=50.0, samples=1000, chains=2, warmup=500, seed=0, progress=False)
    exact = net.exact(X, y, X_test, beta=50.0)
    assert np.all(np.abs(post.mean - exact.mean) / post.mean_se < 3)
    assert np.all(np.abs(post.var - exact.var) / post.var_se < 3)
    assert np.max(post.rhat) < 1.01


def test_sampling_is_reproducible_and_refuses_zero_temperature(monkeypatch):
    X, y, X_test, _ = linear_teacher(4, 2, dimension=6, seed=1)
    net = ShapedMLP(depth=2, width=8, psi=-0.6)
    runs = [net.sample_posterior(X, y, X_test, beta=4.0, samples=10, chains=1, warmup=10, seed=7, progress=False)
            for _ in range(2)]
    np.testing.assert_array_equal(runs[0].mean, runs[1].mean)
    with pytest.raises(ValueError, match="finite beta.*net.exact.*net.monte_carlo"):
        net.sample_posterior(X, y, X_test, beta=math.inf)
    with pytest.raises(ValueError, match="samples must be an integer >= 4"):
        net.sample_posterior(X, y, X_test, beta=2.0, samples=2)
    monkeypatch.setitem(sys.modules, "numpyro", None)
    with pytest.raises(ValueError, match=r"pip install 'perturbo\[sampling\]'"):
        net.sample_posterior(X, y, X_test, beta=2.0, samples=10, chains=1, warmup=10)


# ------------------------------------------------------------------ datasets
def test_digits_task_is_a_standardised_binary_split(monkeypatch):
    X, y, X_test, y_test = digits((3, 8), n_train=120, n_test=40, seed=2)
    assert X.shape == (120, 64) and X_test.shape == (40, 64) and set(np.unique(y)) == {-1.0, 1.0}
    np.testing.assert_allclose(np.sum(X**2, axis=1) / 64, 1.0, rtol=1e-12)  # on the sphere |x|^2 = N0
    np.testing.assert_allclose(np.sum(X_test**2, axis=1) / 64, 1.0, rtol=1e-12)
    again = digits((3, 8), n_train=120, n_test=40, seed=2)
    np.testing.assert_array_equal(again[0], X)
    assert not np.array_equal(digits((3, 8), n_train=120, n_test=40, seed=3)[0], X)
    _, parity, _, _ = digits("even-odd", n_train=400, n_test=0)
    assert abs(np.mean(parity)) < 0.2  # about as many even as odd digits
    with pytest.raises(ValueError, match="two different digits"):
        digits((3, 3))
    with pytest.raises(ValueError, match="has 365 images"):
        digits((3, 5), n_train=300, n_test=100)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ValueError, match=r"pip install 'perturbo\[datasets\]'"):
        digits((0, 1))


# ------------------------------------------------------------------ the neural tangent kernel
def test_ntk_of_the_deep_linear_network_is_gaussian_process_regression():
    """Linear maps: ``Theta_L = (L + 1) K_L``, so gradient flow's mean and its variance over initialisations are the
    zero-temperature Gaussian-process posterior's."""
    X, y, X_test, _ = linear_teacher(8, 3, dimension=20, seed=5)
    net = ShapedMLP(depth=3, width=10, sigma_w2=1.3)
    nt, gp = net.ntk(X, y, X_test), net.predict(X, y, X_test, beta=math.inf)
    np.testing.assert_allclose(nt.kernel, 4 * net.kernels(np.vstack([X, X_test]))[-1], rtol=1e-13)
    np.testing.assert_allclose(nt.mean, gp.mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(nt.cov, gp.cov, rtol=1e-9, atol=1e-12)


def test_ntk_of_a_shaped_network_is_the_empirical_tangent_kernel_of_wide_networks():
    """Two hidden layers of the cubic (``psi = -0.6``): the empirical tangent kernel ``sum_theta df(x)/dtheta
    df(x')/dtheta`` of networks of width 4000 (NTK parametrisation, back-propagated by hand), averaged over 6 draws,
    is within 2% of ``Theta_L``."""
    rng = np.random.default_rng(0)
    X = 0.8 * rng.normal(size=(4, 10))
    net = ShapedMLP(depth=2, width=4000, psi=-0.6)
    theta = net.ntk(X[:2], np.zeros(2), X[2:]).kernel
    phi = net.activation
    c = phi.coefficients
    derivative = [k * c[k] for k in range(1, len(c))]

    def dphi(z):
        return sum(d * z**k for k, d in enumerate(derivative))

    N, N0 = 4000, 10
    draws = []
    for _ in range(6):
        w1, w2, w3 = rng.normal(size=(N, N0)), rng.normal(size=(N, N)), rng.normal(size=N)
        z1 = X @ w1.T / math.sqrt(N0)
        h1 = phi(z1)
        z2 = h1 @ w2.T / math.sqrt(N)
        h2 = phi(z2)
        d2 = w3 * dphi(z2) / math.sqrt(N)  # df/dz2
        d1 = (d2 @ w2) * dphi(z1) / math.sqrt(N)  # df/dz1
        draws.append(h2 @ h2.T / N + (d2 @ d2.T) * (h1 @ h1.T) / N + (d1 @ d1.T) * (X @ X.T) / N0)
    assert np.max(np.abs(np.mean(draws, axis=0) - theta)) < 0.02 * np.max(np.abs(theta))
