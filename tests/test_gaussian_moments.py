import numpy as np
import pytest
import sympy as sp

from perturbo.activation import Activation, parse_shaping
from perturbo.symbolic.gaussian_moments import gaussian_moment
from perturbo.symbolic.mean_map import S_aa, S_ab, S_bb, mean_map_expr, numeric_mean_map
from tests.independent import gauss_hermite_pair


@pytest.mark.parametrize("k", range(0, 9))
def test_univariate_moments_are_double_factorials(k):
    s = sp.Symbol("s")
    expected = 0 if k % 2 else sp.factorial2(k - 1) * s ** (k // 2)
    assert sp.expand(gaussian_moment((k,), lambda a, b: s) - expected) == 0


def test_four_point_moment_is_sum_over_three_pairings():
    S = sp.Matrix(4, 4, lambda i, j: sp.Symbol(f"S{min(i, j)}{max(i, j)}"))
    value = gaussian_moment((1, 1, 1, 1), lambda a, b: S[a, b])
    expected = S[0, 1] * S[2, 3] + S[0, 2] * S[1, 3] + S[0, 3] * S[1, 2]
    assert sp.expand(value - expected) == 0


def test_bivariate_moments_match_monte_carlo_free_formula():
    # E[x^2 y^2] = S_aa S_bb + 2 S_ab^2, E[x^3 y] = 3 S_aa S_ab
    cov = sp.Matrix([[S_aa, S_ab], [S_ab, S_bb]])
    assert sp.expand(gaussian_moment((2, 2), lambda a, b: cov[a, b]) - (S_aa * S_bb + 2 * S_ab**2)) == 0
    assert sp.expand(gaussian_moment((3, 1), lambda a, b: cov[a, b]) - 3 * S_aa * S_ab) == 0


@pytest.mark.parametrize("activation", [None, "0.5*t**2 - 0.3*t**3", "t**5 - 2*t"])
def test_mean_map_matches_gauss_hermite(activation):
    act = Activation(parse_shaping(activation, 0.6), depth=3)
    m = numeric_mean_map(act.phi, 1.3)
    S = np.array([[1.2, 0.4, -0.3], [0.4, 0.9, 0.1], [-0.3, 0.1, 0.7]])
    mS = m(S)
    for a in range(3):
        for b in range(3):
            ref = 1.3 * gauss_hermite_pair(act, S[a, a], S[b, b], S[a, b])
            assert mS[a, b] == pytest.approx(ref, rel=1e-12, abs=1e-14)


def test_cubic_mean_map_closed_form():
    psi, L = sp.symbols("psi L")
    act = Activation(parse_shaping(None, psi), depth=L)
    expr = mean_map_expr(act.phi, 1)
    expected = S_ab * (1 + psi * (S_aa + S_bb) / L + psi**2 * (S_aa * S_bb + sp.Rational(2, 3) * S_ab**2) / L**2)
    assert sp.expand(expr - expected) == 0
