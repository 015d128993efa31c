"""perturbo.verify: right formulas hold, wrong ones fail with a counterexample, nothing else is evaluated."""
import math

import numpy as np
import pytest

from perturbo import verify
from perturbo.cli import main

ORDER1 = "L*((r - P)**2/4 - r + P/2)"


def order1_term(X, y, X_test, net, beta):
    """The whole order-1 term, 1/N included, computed from the data (a callable candidate)."""
    K = net.kernels(X)[-1]
    r, P = y @ np.linalg.solve(K, y), len(y)
    return net.depth / net.width * ((r - P) ** 2 / 4 - r + P / 2)


def test_callable_candidates_are_whole_terms():
    assert verify(order1_term).holds
    assert not verify(lambda *args: 1.01 * order1_term(*args)).holds


@pytest.mark.parametrize("relative_error", [1e-5, 1e-3])
def test_never_holds_beyond_the_tolerance(relative_error):
    report = verify(f"(1 + {relative_error})*{ORDER1}", rtol=1e-7)
    assert not report.holds
    assert report.largest_discrepancy > 1e-7


def test_the_shaping_matters():
    """The deep linear formula is not the order-1 term of a shaped network."""
    report = verify(ORDER1, psi=-0.5, beta=4.0)
    assert not report.holds and report.counterexample["candidate"] != report.counterexample["engine"]


def test_pinned_parameters_are_used():
    report = verify(ORDER1, depth=3, width=50, n_train=2, trials=3)
    assert report.holds
    bad = verify("3*(1/4)*((r - P)**2 + 1)", depth=3, width=50, n_train=2, trials=3)
    assert bad.counterexample["depth"] == 3 and bad.counterexample["width"] == 50 and bad.counterexample["P"] == 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(candidate="L*q"), "uses 'q'"),
        (dict(candidate="__import__('os')"), "uses '__import__'|only tr"),
        (dict(candidate="L.real"), "Attribute"),
        (dict(candidate="L*(r"), "not a valid expression"),
        (dict(candidate=ORDER1, quantity="entropy"), "quantity must be one of"),
        (dict(candidate=ORDER1, order=0), "order 0 is the Gaussian process"),
        (dict(candidate=ORDER1, order=9), "order must be an integer from 0 to"),
        (dict(candidate=ORDER1, beta=-1.0), "beta must be > 0"),
    ],
)
def test_bad_requests_are_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        verify(**kwargs)


def test_cli_exit_status(capsys):
    assert main(["verify", "--order", "1", "--quantity", "log_evidence", ORDER1, "--psi", "0", "--beta", "inf"]) == 0
    assert "HOLDS" in capsys.readouterr().out
    assert main(["verify", "--order", "1", "L*((r-P)**2/4 + r + P/2)"]) == 1
    assert "counterexample" in capsys.readouterr().out
    assert main(["verify", "L*q"]) == 2


def test_sympy_expressions_are_candidates_too():
    import sympy as sp

    L, r, P = sp.symbols("L r P")
    assert verify(L * ((r - P) ** 2 / 4 - r + P / 2)).holds
    assert not verify(L * ((r - P) ** 2 / 4 - r + P)).holds


def test_per_layer_widths_need_sum_l():
    with pytest.raises(ValueError, match="use N_l only inside sum_l"):
        verify("N_l*r")
    with pytest.raises(ValueError, match="both N and N_l"):
        verify("sum_l(1/N_l) + 1/N")


def test_a_candidate_that_is_not_a_number_never_holds():
    report = verify("log(-L)*r")
    assert not report.holds and math.isinf(report.largest_discrepancy)
    with pytest.raises(ValueError, match="trials must be"):
        verify(ORDER1, trials=0)
    with pytest.raises(ValueError, match="rtol must be"):
        verify(ORDER1, rtol=0)


@pytest.mark.parametrize("order", [1, 2])
def test_an_exactly_zero_term_holds(order):
    """The deep linear mean has no correction at zero temperature: the engine's 1e-17 is roundoff, not a term."""
    assert verify("0", quantity="mean", order=order, beta=math.inf).holds
    assert not verify("0", quantity="mean", order=order, beta=3.0).holds  # at finite beta it is corrected
    assert not verify("v0*L", quantity="mean", order=order, beta=math.inf).holds
