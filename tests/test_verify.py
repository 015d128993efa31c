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


HAND_ORDER2 = ("-L*(3*L*P**2*r - 6*L*P*r**2 + 12*L*P*r + 3*L*r**3 - 15*L*r**2 + 12*L*r - P**3 + 3*P**2*r - 3*P**2"
               " - 3*P*r**2 + 12*P*r - 2*P + r**3 - 9*r**2 + 12*r)/12")


def test_symbolic_decisions_in_the_closed_forms_invariants():
    """Deep linear candidates in P, L, r, v0 (zero temperature) or t_m, q_m (finite) are decided exactly."""
    report = verify(HAND_ORDER2, order=2)
    assert report.holds and report.method.startswith("symbolic") and report.detail.endswith("= 0")
    wrong = verify(HAND_ORDER2 + " + L*P/7", order=2)
    assert not wrong.holds and "= L*P/7" in wrong.detail and wrong.counterexample is not None
    finite = "L*((q1 - t1)**2/4 - q2 + t2/2)"  # the guide's finite-temperature order 1, tr(W^2)/2 - ...
    assert verify(finite, beta=2.0, method="symbolic").holds
    assert verify(finite, beta=2.0, method="random").holds  # the same invariants, evaluated on data
    assert not verify(finite.replace("q2", "q1"), beta=2.0, method="symbolic").holds
    # at zero temperature W = I, so the finite-temperature formula becomes the zero-temperature one
    assert verify(finite, beta=math.inf, method="symbolic").holds


def test_symbolic_decisions_with_per_layer_widths():
    """``sum_l(N_l**-a)`` are the power sums; order 2 has ``sum_{l<l'} 1/(N_l N_l')`` = (p1^2 - p2)/2."""
    import sympy as sp

    from perturbo import closed_form
    from perturbo.closed_forms import p

    term = closed_form("var", 2, widths="per-layer")
    text = sp.sstr(term.subs({p(1): sp.Symbol("S1"), p(2): sp.Symbol("S2")}))
    text = text.replace("S1", "sum_l(1/N_l)").replace("S2", "sum_l(N_l**-2)")
    report = verify(text, quantity="var", order=2)
    assert report.holds and report.method.startswith("symbolic")
    assert verify(text, quantity="var", order=2, method="random").holds


def test_symbolic_method_says_when_it_cannot_decide():
    with pytest.raises(ValueError, match="cannot decide symbolically: the network is shaped"):
        verify(ORDER1, psi=-0.5, method="symbolic")
    with pytest.raises(ValueError, match="cannot decide symbolically: it uses A, y"):
        verify("L*(y@A@y)", method="symbolic")
    with pytest.raises(ValueError, match="not power sums"):
        verify("sum_l(log(N_l))", method="symbolic")
    with pytest.raises(ValueError, match="method must be"):
        verify(ORDER1, method="exact")
    assert verify("L*(tr(W@W)/2 - y@A@W@W@y + (y@A@W@y - tr(W))**2/4)", beta=2.0).method.startswith("random")


def test_cli_shows_the_method(capsys):
    assert main(["verify", "--order", "2", HAND_ORDER2]) == 0
    assert "method: symbolic" in capsys.readouterr().out
    assert main(["verify", "--order", "2", "--method", "random", HAND_ORDER2]) == 0
    assert "method: randomised" in capsys.readouterr().out
