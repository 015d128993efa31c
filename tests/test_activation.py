import numpy as np
import pytest
import sympy as sp

from perturbo.activation import Activation, parse_shaping, t


def test_default_cubic_is_psi_t3_over_3():
    assert sp.simplify(parse_shaping(None, 0.6) - sp.Rational(1, 5) * t**3) == 0


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0.5*t**2 - 0.3*t**3", sp.Rational(1, 2) * t**2 - sp.Rational(3, 10) * t**3),
        ("1e-3*t^3", t**3 / 1000),
        ("(t+1)**2", t**2 + 2 * t + 1),
    ],
)
def test_strings_become_exact_polynomials(text, expected):
    assert sp.expand(parse_shaping(text, psi=123.0) - expected) == 0


def test_sympy_expression_with_foreign_t_symbol():
    u = sp.Symbol("t")  # not the package's real symbol
    assert sp.expand(parse_shaping(2 * u**3, 0.0) - 2 * t**3) == 0


@pytest.mark.parametrize("bad", ["sin(t)", "1/t", "x*t", "E*t", "", "t**0.5", "__import__('os')", 3.0])
def test_non_polynomials_are_rejected(bad):
    with pytest.raises(ValueError):
        parse_shaping(bad, 0.0)


def test_phi_evaluation_matches_formula():
    act = Activation(parse_shaping(None, -0.8), depth=4)
    z = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(act(z), z - 0.8 * z**3 / 12, rtol=1e-14, atol=1e-14)
    assert act.degree == 3 and not act.is_linear
    assert Activation(parse_shaping(None, 0.0), depth=2).is_linear
