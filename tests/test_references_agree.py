"""The two references agree: Monte Carlo over finite deep linear networks versus the exact answer."""
import math

import numpy as np
import pytest

from perturbo import ShapedMLP
from tests.datasets import make_data

Z_TOL = 4.0  # standard errors


@pytest.mark.parametrize(
    "width, beta",
    [(6, math.inf), ([5, 9, 7], math.inf), (6, 3.0), ([4, 12, 8], 0.7)],
    ids=["equal-zero-T", "unequal-zero-T", "equal-finite-beta", "unequal-small-beta"],
)
def test_monte_carlo_agrees_with_exact_for_deep_linear(width, beta):
    X, y, X_test = make_data(P=3, N0=6, T=2, seed=5)
    net = ShapedMLP(depth=3, width=width, sigma_w2=1.2)
    ex = net.exact(X, y, X_test, beta=beta)
    mc = net.monte_carlo(X, y, X_test, beta=beta, samples=40_000, seed=3)
    gp = net.evidence(X, y, beta=beta, order=0)
    # the widths are small, so the finite-width effect dwarfs the Monte Carlo error ...
    assert abs(gp.log_evidence - ex.log_evidence) > 10 * mc.log_evidence_se
    # ... and Monte Carlo still lands on the exact answer
    assert abs(mc.log_evidence - ex.log_evidence) < Z_TOL * mc.log_evidence_se
    # (at beta = inf the GP mean does not depend on the kernel scale: both are exact to rounding)
    assert np.all(np.abs(mc.mean - ex.mean) < Z_TOL * mc.mean_se + 1e-12 * np.abs(ex.mean).max())
