"""The papers' headline claims, as recomputed in ``docs/reproductions/`` (each test pins one qualitative claim on a case
where it should hold and, where the claim has a condition, on one where it should fail).

Code paths: the NNGP kernel flow (``net.kernels``), the first-order series (compiled), ``net.exact``,
``perturbo.depth_benefit`` (finite depths and the continuum limit).
"""
from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from perturbo import ShapedMLP
from perturbo.datasets import linear_teacher
from perturbo.depth_benefit import depth_benefit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "reproductions"))
from hanin_zlokapa import spiked_teacher  # noqa: E402


def test_the_shaping_sets_the_curvature_of_the_feature_map():
    """Hanin & Zlokapa (i): along a ray, ``K_L(x, x)`` (``L = 32``) is concave and bounded by ``1/(2|psi|)`` for
    ``psi < 0`` (a sphere), linear for ``psi = 0`` (a plane) and convex, blowing up before ``|x|^2/N0 = 1/(2 psi)``,
    for ``psi > 0`` (a hyperboloid)."""
    q = np.array([0.1, 0.2, 0.3, 0.4])

    def along_ray(psi: float, norms: np.ndarray) -> np.ndarray:
        net = ShapedMLP(depth=32, width=1, psi=psi)
        return np.array([net.kernels(np.full((1, 10), math.sqrt(v)))[-1][0, 0] for v in norms])

    curvature = {psi: np.diff(along_ray(psi, q), 2) for psi in (-0.6, 0.0, 0.6)}
    assert np.all(curvature[-0.6] < 0) and np.all(np.abs(curvature[0.0]) < 1e-14) and np.all(curvature[0.6] > 0)
    assert np.all(along_ray(-0.6, np.array([2.0, 4.0])) < 1 / 1.2)  # far beyond the linear K = q
    assert along_ray(0.6, np.array([1.0]))[0] > 1e15  # 2 psi q = 1.2 > 1: past the blow-up (continuum: at q = 0.83)
    with pytest.raises(ValueError, match="overflows"):
        along_ray(0.6, np.array([1.5]))


def test_the_zero_temperature_posterior_mean_is_a_data_dependent_kernel_method():
    """Hanin & Zlokapa (ii): at ``beta = inf`` the first-order correction to the posterior mean vanishes for the deep
    linear network, and for ``psi = -0.6`` it is odd in the targets but not linear in them (a kernel that depends on
    ``y``): doubling ``y`` multiplies it by more than 4 (measured 6 to 18)."""
    X, y, X_test, _ = linear_teacher(6, 3, dimension=12, noise=0.3, seed=1)

    def correction(psi: float, targets: np.ndarray) -> np.ndarray:
        return ShapedMLP(depth=8, width=200, psi=psi).predict(X, targets, X_test, beta=math.inf, order=1).mean_terms[1]

    assert np.max(np.abs(correction(0.0, y))) < 1e-12
    c = correction(-0.6, y)
    np.testing.assert_allclose(correction(-0.6, -y), -c, rtol=1e-10)
    assert np.all(np.abs(correction(-0.6, 2 * y)) > 4 * np.abs(c))


def test_deep_linear_benign_overfitting_is_best_at_zero_temperature_and_improves_with_depth():
    """Hanin & Zlokapa (iii): on spiked data whose long flat tail of weak input directions absorbs the label noise, the
    exact log evidence and the test error on noisy labels are best at ``beta = inf`` and improve as ``L P / N`` grows
    (``N = 10^4, 200, 50, 20`` at ``L = 4``, ``P = 50``)."""
    X, y, X_test, y_test = spiked_teacher()
    P = len(y)
    evidence, error = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for N in (10_000, 200, 50, 20):
            net = ShapedMLP(depth=4, width=N)
            answers = [net.exact(X, y, X_test, beta=beta) for beta in (math.inf, P / 0.1, P / 0.25, P / 1.0)]
            values = [a.log_evidence for a in answers]
            errors = [a.generalization_error(y_test, noisy=True) for a in answers]
            assert np.argmax(values) == 0 and np.argmin(errors) == 0, (N, values, errors)
            evidence.append(values[0])
            error.append(errors[0])
    assert np.all(np.diff(evidence) > 0) and np.all(np.diff(error) < 0), (evidence, error)


def test_the_first_order_criterion_for_depth_raising_the_evidence():
    """Hanin & Jiang: the first-order coefficient of the log evidence per unit ``L P / N``. For the deep linear network
    at ``beta = inf`` it is ``[(r - P)^2/4 - r + P/2]/P`` at every depth and in the continuum: positive (depth helps)
    with targets far from ``r = P`` and negative at ``r = P``; for the cubic the finite depths approach the continuum."""
    X, y, _, _ = linear_teacher(20, 0, dimension=40, noise=0.3, seed=1)
    P = len(y)
    K = ShapedMLP(depth=4, width=1).kernels(X)[-1]
    for r0, helps in ((4.0, True), (1.0, False)):
        targets = y * math.sqrt(r0 / (y @ np.linalg.solve(K, y) / P))
        d = depth_benefit(X, targets)
        r = d.r0 * P
        expected = ((r - P) ** 2 / 4 - r + P / 2) / P
        np.testing.assert_allclose(d.coefficient, expected, rtol=1e-9)
        assert d.continuum == pytest.approx(expected, rel=1e-9) and d.depth_helps is helps
    cubic = depth_benefit(X, y, psi=-0.6)
    gaps = np.abs(cubic.coefficient - cubic.continuum)
    assert np.all(np.diff(gaps) < 0) and gaps[-1] < 0.05 * abs(cubic.continuum), (cubic.coefficient, cubic.continuum)


def test_finite_width_helps_exactly_when_the_targets_are_fit_below_their_scale():
    """The Rotondo talk's criterion, deep linear network at ``beta = inf``: finite width (``L P/N = 2``) lowers the
    exact test error where ``y^T K^-1 y < P`` and raises it where ``y^T K^-1 y > P``."""
    X, y, X_test, y_test = linear_teacher(20, 200, dimension=40, noise=0.3, seed=2)
    K = ShapedMLP(depth=4, width=1).kernels(X)[-1]
    for r0, finite_better in ((0.3, True), (3.0, False)):
        scale = math.sqrt(r0 / (y @ np.linalg.solve(K, y) / len(y)))
        infinite, finite = (ShapedMLP(depth=4, width=N).exact(X, scale * y, X_test).generalization_error(scale * y_test)
                            for N in (4000, 40))
        assert (finite < infinite) is finite_better, (r0, infinite, finite)
