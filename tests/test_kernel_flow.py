import numpy as np
import pytest

from perturbo import ShapedMLP, continuum_kernel
from tests.datasets import make_data


def test_linear_flow_is_a_power_of_sigma_w2():
    X, _, _ = make_data()
    K = ShapedMLP(depth=5, width=10, sigma_w2=1.7).kernels(X)[-1]
    np.testing.assert_allclose(K, 1.7**6 * X @ X.T / X.shape[1], rtol=1e-13)


@pytest.mark.parametrize("psi", [0.6, -0.8])
def test_finite_depth_flow_approaches_continuum_like_one_over_depth(psi):
    X, _, _ = make_data(P=5, N0=10, scale=0.5)
    K_inf = continuum_kernel(X, psi)
    errors = [np.abs(ShapedMLP(depth=L, width=1, psi=psi).kernels(X)[-1] - K_inf).max() for L in (16, 32, 64, 128)]
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert np.all(np.abs(ratios - 2.0) < 0.15), ratios


def test_continuum_kernel_is_a_feature_map_kernel():
    X, _, _ = make_data(P=3, N0=6, scale=0.5)
    psi = -0.8
    xh = X / np.sqrt(1 - 2 * psi * np.sum(X**2, axis=1) / 6)[:, None]
    np.testing.assert_allclose(continuum_kernel(X, psi), xh @ xh.T / 6, rtol=1e-14)


def test_continuum_kernel_blow_up_is_an_input_error():
    X = np.ones((2, 4))  # |x|^2/N0 = 1
    with pytest.raises(ValueError, match="blows up"):
        continuum_kernel(X, psi=0.5)
    continuum_kernel(X, psi=0.49)  # just inside is fine


def test_finite_depth_kernel_is_psd_even_where_continuum_blows_up():
    X = 1.5 * np.ones((3, 4)) + np.eye(3, 4)
    with pytest.raises(ValueError):
        continuum_kernel(X, psi=0.6)
    K = ShapedMLP(depth=4, width=10, psi=0.6).kernels(X)[-1]
    assert np.all(np.isfinite(K)) and np.linalg.eigvalsh(K).min() > -1e-10 * np.abs(K).max()


def test_kernel_overflow_is_reported():
    X = np.full((2, 3), 1e3) + np.eye(2, 3)
    with pytest.raises(ValueError, match="overflows"):
        ShapedMLP(depth=60, width=10, activation="t**5").kernels(X)


@pytest.mark.parametrize("activation", [None, "t**2", "0.5*t**2 - 0.3*t**3", "0.001*t**7 - 0.01*t**5 - 0.3*t**3 - 0.1*t**2"])
@pytest.mark.parametrize("sigma_w2", [1.0, 1.3])
def test_fused_recursion_matches_layer_by_layer(activation, sigma_w2):
    """The fused pass over all layers (``LocalPolynomial.iterate``) against the layer map applied once per layer
    (``LocalPolynomial.apply``, itself checked against Gauss-Hermite quadrature in test_gaussian_moments); every
    layer, exactly symmetric, and ``last_only`` the same final kernel. Enough points (37) that the parallel loop
    splits rows between threads."""
    from perturbo.runtime.kernel_flow import input_kernel
    from perturbo.symbolic.mean_map import numeric_mean_map

    net = ShapedMLP(depth=7, width=10, psi=-0.6, sigma_w2=sigma_w2, activation=activation)
    X, _, _ = make_data(P=37, N0=8, scale=0.6)
    m = numeric_mean_map(net.activation.phi, sigma_w2)
    expected = [input_kernel(X, sigma_w2)]
    for _ in range(net.depth):
        expected.append(m.apply(expected[-1]))
    kernels = net.kernels(X)
    assert len(kernels) == net.depth + 1
    for K, K_ref in zip(kernels, expected):
        np.testing.assert_allclose(K, K_ref, rtol=1e-12, atol=1e-15 * np.abs(K_ref).max())
        assert np.array_equal(K, K.T)
    assert np.array_equal(net.kernels(X, last_only=True)[-1], kernels[-1])


def test_kernel_overflow_names_the_first_layer_that_overflows():
    X = np.full((3, 4), 40.0) + np.eye(3, 4)
    net = ShapedMLP(depth=12, width=10, activation="t**3")
    from perturbo.symbolic.mean_map import numeric_mean_map

    m, K = numeric_mean_map(net.activation.phi, 1.0), X @ X.T / 4
    first = next(layer for layer in range(1, 13) if not np.all(np.isfinite(K := m.apply(K))))
    for last_only in (False, True):
        with pytest.raises(ValueError, match=f"overflows at layer {first} of 12"):
            net.kernels(X, last_only=last_only)
