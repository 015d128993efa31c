"""Order 0 is GP regression with the exact finite-depth kernel."""
import math

import numpy as np
import pytest

from perturbo import ShapedMLP
from perturbo.model import MAX_ORDER
from tests.datasets import make_data
from tests.independent import gp_regression, kernel_by_quadrature


@pytest.mark.parametrize("psi", [0.0, 0.6, -0.8])
@pytest.mark.parametrize("beta", [math.inf, 3.0])
def test_order0_is_gp_regression_with_exact_kernel(psi, beta):
    X, y, X_test = make_data(P=4, N0=8, T=3, seed=1)
    net = ShapedMLP(depth=3, width=50, psi=psi, sigma_w2=1.1)
    P = len(y)
    noise = 0.0 if math.isinf(beta) else P / beta
    K = kernel_by_quadrature(np.vstack([X, X_test]), net.activation, 3, 1.1)
    log_ev, mean, cov = gp_regression(K, y, P, noise)

    ev = net.evidence(X, y, beta=beta, order=0)
    pr = net.predict(X, y, X_test, beta=beta, order=0)
    assert ev.log_evidence == pytest.approx(log_ev, rel=1e-10)
    np.testing.assert_allclose(pr.mean, mean, rtol=1e-10)
    np.testing.assert_allclose(pr.cov, cov, rtol=1e-10, atol=1e-12 * np.abs(cov).max())
    np.testing.assert_allclose(pr.var, np.diag(cov), rtol=1e-10)


def test_result_fields_and_shapes():
    X, y, X_test = make_data(T=5)
    net = ShapedMLP(depth=2, width=[30, 40], psi=0.6)
    ev = net.evidence(X, y, beta=2.0, order=0)
    assert ev.terms.shape == (1,)
    assert ev.log_partition == pytest.approx(ev.log_evidence + 0.5 * 4 * math.log(2 * math.pi * 4 / 2.0))
    assert net.evidence(X, y, order=0).log_partition is None
    pr = net.predict(X, y, X_test, beta=2.0, order=0)
    assert pr.mean.shape == pr.var.shape == (5,)
    assert pr.mean_terms.shape == pr.var_terms.shape == (1, 5)
    assert pr.cov.shape == (5, 5)
    assert net.depth == 2 and net.width == [30, 40]


def test_zero_temperature_interpolates_training_points():
    X, y, _ = make_data(P=3, N0=6)
    pr = ShapedMLP(depth=3, width=20, psi=-0.8).predict(X, y, X, order=0)
    np.testing.assert_allclose(pr.mean, y, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(pr.var, 0.0, atol=1e-9)


def test_order0_is_independent_of_width():
    X, y, _ = make_data()
    a = ShapedMLP(depth=3, width=10, psi=0.6).evidence(X, y, beta=5.0).log_evidence
    b = ShapedMLP(depth=3, width=[7, 1000, 3], psi=0.6).evidence(X, y, beta=5.0).log_evidence
    assert a == b


def test_orders_beyond_the_maximum_are_a_value_error():
    X, y, X_test = make_data()
    net = ShapedMLP(depth=3, width=10)
    with pytest.raises(ValueError, match=f"order must be an integer from 0 to {MAX_ORDER}"):
        net.evidence(X, y, order=MAX_ORDER + 1)
    with pytest.raises(ValueError, match="order must be an integer from 0"):
        net.predict(X, y, X_test, order=-1)
