"""The engine's parts, each against an independent computation."""
import itertools
import math

import numpy as np
import pytest
import sympy as sp

from perturbo.activation import Activation, parse_shaping
from perturbo.runtime import series
from perturbo.symbolic.copy_moments import copy_moment, local_pairs
from perturbo.symbolic.mean_map import S_aa, S_ab, S_bb, mean_map_expr
from tests.oracle.pullback.contraction import readout_polynomials
from tests.oracle.pullback.layer_step import falling_factorial_weight, partitions_without_singletons
from tests.oracle.pullback.tables import TaylorTable, taylor_table
from tests.oracle.pullback.truncated_poly import GramEntries

eps = sp.Symbol("eps")


def as_series(coefficients) -> sp.Expr:
    return sum(sp.Rational(float(c)) * eps**k for k, c in enumerate(coefficients))


def sympy_coefficients(expr: sp.Expr, order: int) -> np.ndarray:
    expanded = sp.series(expr, eps, 0, order + 1).removeO()
    return np.array([float(expanded.coeff(eps, k)) for k in range(order + 1)])


def test_series_algebra_matches_sympy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=5), rng.normal(size=5)
    a[0], b[0] = 1.3, -0.7
    np.testing.assert_allclose(series.multiply(a, b), sympy_coefficients(as_series(a) * as_series(b), 4))
    np.testing.assert_allclose(series.divide(a, b), sympy_coefficients(as_series(a) / as_series(b), 4))
    expected_log = sympy_coefficients(sp.log(as_series(a) / sp.Rational(1.3)), 4)
    np.testing.assert_allclose(series.log(a), expected_log, atol=1e-14)


@pytest.mark.parametrize("n, count", [(0, 1), (1, 0), (2, 1), (3, 1), (4, 4), (5, 11), (6, 41)])
def test_partitions_without_singletons_are_counted_right(n, count):
    partitions = list(partitions_without_singletons(list(range(n))))
    assert len(partitions) == count
    assert all(sorted(x for block in p for x in block) == list(range(n)) for p in partitions)
    assert all(len(block) >= 2 for p in partitions for block in p)


@pytest.mark.parametrize("t, b", [(2, 1), (4, 2), (5, 2), (6, 3)])
def test_falling_factorial_weight(t, b):
    lam = sp.Rational(1, 7)
    N = 1 / (eps * lam)
    exact = sp.prod([N - i for i in range(b)]) / N**t
    np.testing.assert_allclose(falling_factorial_weight(t, b, float(lam), 4), sympy_coefficients(exact, 4), atol=1e-15)


def gauss_hermite_expectation(function, cov: np.ndarray, nodes: int = 6) -> float:
    """``E[function(z)]`` for ``z ~ N(0, cov)``, tensor Gauss-Hermite (exact for degree < 2 nodes per axis)."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / math.sqrt(2 * math.pi)
    grid = np.array(list(itertools.product(range(nodes), repeat=len(cov))))
    lam, U = np.linalg.eigh(cov)
    z = x[grid] @ (U * np.sqrt(np.clip(lam, 0, None))).T
    return float(np.prod(w[grid], axis=1) @ function(z))


def random_covariance(n: int, seed: int) -> np.ndarray:
    A = np.random.default_rng(seed).normal(size=(n, n)) * 0.5
    return A @ A.T / n + 0.2 * np.eye(n)


def evaluate(poly, cov: np.ndarray) -> float:
    """The polynomial at ``s_pq = cov[p, q]`` (the numeric evaluator is checked in the Taylor test)."""
    base = np.array([cov[p, q] for p, q in local_pairs(len(cov))])
    return TaylorTable.from_poly(poly, len(cov), degree=0).coefficients(base)[0][1]


ACTIVATION = Activation(parse_shaping("0.5*t**2 - 0.3*t**3", 0.0), 2)


def test_mean_map_is_the_first_copy_moment():
    m1 = copy_moment(ACTIVATION.phi, sp.Rational(3, 2), 1)
    s = dict(zip(m1.ring.symbols, [S_aa, S_ab, S_bb]))  # local_pairs(2): (0,0), (0,1), (1,1)
    assert sp.expand(m1.as_expr().subs(s) - mean_map_expr(ACTIVATION.phi, sp.Rational(3, 2))) == 0


@pytest.mark.parametrize("r", [2, 3])
def test_central_copy_moments_match_quadrature(r):
    """The integrand has degree 6r along each rotated axis: 3r + 1 Gauss-Hermite nodes are exact."""
    cov = random_covariance(2 * r, seed=r)
    nodes = 3 * r + 1
    Y = lambda z, i: 1.5 * ACTIVATION(z[:, 2 * i]) * ACTIVATION(z[:, 2 * i + 1])  # noqa: E731
    means = [gauss_hermite_expectation(lambda z, i=i: Y(z, i), cov, nodes) for i in range(r)]
    central = gauss_hermite_expectation(lambda z: np.prod([Y(z, i) - means[i] for i in range(r)], axis=0), cov, nodes)
    assert evaluate(copy_moment(ACTIVATION.phi, sp.Rational(3, 2), r), cov) == pytest.approx(central, rel=1e-10)


def test_coincident_labels_give_the_moment_of_fewer_points():
    """Labels (0, 0 | 0, 1): Cov(Y_00, Y_01) from the 4-label formula with a degenerate covariance."""
    cov2 = random_covariance(2, seed=5)
    cov4 = cov2[np.ix_([0, 0, 0, 1], [0, 0, 0, 1])]
    value = evaluate(copy_moment(ACTIVATION.phi, sp.Integer(1), 2), cov4)

    def integrand(z):
        a, b = ACTIVATION(z[:, 0]), ACTIVATION(z[:, 1])
        return a * a * a * b

    exact = gauss_hermite_expectation(integrand, cov2, 12)
    exact -= gauss_hermite_expectation(lambda z: ACTIVATION(z[:, 0]) ** 2, cov2) * gauss_hermite_expectation(
        lambda z: ACTIVATION(z[:, 0]) * ACTIVATION(z[:, 1]), cov2)
    assert value == pytest.approx(exact, rel=1e-10)


def test_taylor_table_reconstructs_the_polynomial():
    poly = copy_moment(ACTIVATION.phi, sp.Integer(1), 2)
    local = TaylorTable.from_poly(poly, 4, degree=12)  # beyond the degree of poly: exact
    base, delta = random_covariance(4, 1), random_covariance(4, 2) * 0.1
    pairs = local_pairs(4)
    b = np.array([base[p, q] for p, q in pairs])
    d = np.array([delta[p, q] for p, q in pairs])
    reconstructed = sum(c * np.prod(d[list(alpha)]) for alpha, c in local.coefficients(b))
    assert reconstructed == pytest.approx(evaluate(poly, base + delta), rel=1e-12)
    assert len(taylor_table(poly, 0)) == 1


@pytest.mark.parametrize("sigma2", [0.0, 0.7])
def test_readout_polynomial_is_the_taylor_expansion_of_gp_regression(sigma2):
    """Error of the degree-k read-out falls like |D|^(k+1) for the evidence, mean and second moment."""
    rng = np.random.default_rng(0)
    P, T = 3, 2
    X = rng.normal(size=(P + T, 6))
    K, y = X @ X.T / 6, rng.normal(size=P)
    direction = rng.normal(size=(P + T, P + T))
    direction = direction + direction.T
    entries = GramEntries(P + T)

    def gp(S):
        C = S[:P, :P] + sigma2 * np.eye(P)
        A = np.linalg.inv(C)
        z = math.exp(-0.5 * y @ A @ y - 0.5 * np.linalg.slogdet(C)[1])
        m = S[P:, :P] @ A @ y
        second = S[P:, P:] - S[P:, :P] @ A @ S[:P, P:] + np.outer(m, m)
        return np.array([z, z * m[0], z * m[1], z * second[0, 0], z * second[0, 1], z * second[1, 1]])

    z0 = gp(K)[0]
    for degree, sizes in ((2, (1e-3, 5e-4)), (4, (4e-3, 2e-3))):  # asymptotic, and far above roundoff
        polys = readout_polynomials(K, P, y, sigma2, entries, degree)
        errors = []
        for size in sizes:
            d = np.array([direction[a, b] * size for a, b in entries.pairs])
            values = np.array([sum(c * np.prod(d[list(m)]) for m, c in p.terms.items()) for p in polys])
            errors.append(np.abs(values * z0 - gp(K + direction * size)))
        slopes = np.log2(errors[0] / errors[1])
        assert np.all(np.abs(slopes - (degree + 1)) < 0.2), slopes
