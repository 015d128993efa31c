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
