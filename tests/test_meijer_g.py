"""The Meijer-G closed form of the deep linear evidence (benchmarks/meijer_g.py) against ``net.exact``."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from perturbo import ShapedMLP

from .datasets import make_data

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from meijer_g import deep_linear_log_evidence_meijer_g, deep_linear_posterior_scale_meijer_g  # noqa: E402

CASES = [  # (depth, width, P): equal and unequal widths, L = 1..4, a layer narrower than P
    (1, 8, 3),
    (1, 40, 2),
    (2, [5, 9], 2),
    (3, 16, 4),
    (3, [3, 5, 7], 4),
    (4, 64, 3),
    (4, [32, 16, 64, 8], 2),
    (4, 768, 3),  # mpmath.meijerg alone returns G < 0 here: the Mellin-Barnes check corrects it
]


def kernel_and_exact(depth, width, P):
    X, y, X_test = make_data(P=P, N0=P + 4, T=1, seed=depth + P)
    net = ShapedMLP(depth, width)
    return net.kernels(np.vstack([X, X_test]))[-1], y, net.widths, net.exact(X, y, X_test)


@pytest.mark.parametrize("depth, width, P", CASES)
def test_log_evidence_matches_exact(depth, width, P):
    K, y, widths, exact = kernel_and_exact(depth, width, P)
    log_evidence = deep_linear_log_evidence_meijer_g(K[:P, :P], y, widths)
    assert log_evidence == pytest.approx(exact.log_evidence, rel=1e-8, abs=0)


@pytest.mark.parametrize("depth, width, P", CASES[::4])
def test_posterior_variance_matches_exact(depth, width, P):
    """At ``beta = inf`` the variance is ``v0 E_post[s]``, ``v0`` the Gaussian-process variance."""
    K, y, widths, exact = kernel_and_exact(depth, width, P)
    k = K[P, :P]
    v0 = K[P, P] - k @ np.linalg.solve(K[:P, :P], k)
    var = v0 * deep_linear_posterior_scale_meijer_g(K[:P, :P], y, widths)
    assert var == pytest.approx(exact.var[0], rel=1e-8, abs=0)
