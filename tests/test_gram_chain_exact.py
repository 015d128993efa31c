"""Orders 2 and 3 on three and four distinct points against the exact Gram chain (``tests/gram_chain.py``).

The chain shares no code with perturbo: forward moments of the Gram entries from conditional
cumulants (moment-cumulant formula over all set partitions), Isserlis' recursion for the
copies' moments, Cramer's rule for the read-out. Every earlier exact order-2 test used one or
two points; a term coupling three distinct points (a third cumulant over the pairs
{a,b}, {b,c}, {c,a}, say) is first seen here.
"""
import math

import numpy as np
import pytest

from perturbo import ShapedMLP
from tests.datasets import make_data
from tests.gram_chain import exact_terms
from tests.oracle import pullback

ISSUE_19_X = np.array([
    [0.28701872640313136, 1.208541846514766, -1.4290649898489458, 1.3492908069326017, -0.03785376972491006,
     -0.6399828675001227, -0.6423653747122896, -0.8662532132660727],
    [-0.17891628672596063, 0.667107343641726, 0.46725098531437625, 0.5106288194049463, -1.3558467134152103,
     -1.2567696941531237, 1.2430425394317217, 0.7751082923653281],
    [1.7465712011781123, 0.9678526679188917, -0.8195130680436453, 1.028217963849819, 0.502715411416265,
     0.1718599421431355, -0.6558986580575067, 0.0022241774457791644],
])
ISSUE_19_Y = np.array([-1.1812660464710163, 1.013579500325613, 0.5174404713814393])


def chain_terms(net: ShapedMLP, X, y, X_test, beta: float, order: int) -> dict[str, np.ndarray]:
    points = X if X_test is None else np.vstack([X, X_test])
    sigma2 = 0.0 if math.isinf(beta) else len(y) / beta
    return exact_terms(list(net.activation.coefficients), net.sigma_w2, points, list(net.widths), y, sigma2, order)


def assert_terms_equal(engine: np.ndarray, exact: np.ndarray, scale: float) -> None:
    """Terms 1..K equal to 1e-10 of the order-1 term's size (term 0 is the Gaussian process, not compared)."""
    np.testing.assert_allclose(engine[1:], exact[1:], rtol=1e-10, atol=1e-13 * scale)


CASES = [
    # activation, psi, beta, training points, test point
    (None, 0.6, 4.0, 3, True),
    (None, -0.6, math.inf, 3, True),
    ("0.5*t**2 - 0.3*t**3", 0.0, 2.0, 4, False),
    ("0.5*t**2 - 0.3*t**3", 0.0, math.inf, 2, True),
    (None, 0.0, math.inf, 3, True),
    (None, 0.0, 3.0, 4, False),
]


@pytest.mark.parametrize(
    "activation, psi, beta, P, with_test", CASES,
    ids=["cubic+0.6-3+1", "cubic-0.6-zeroT-3+1", "non-odd-4", "non-odd-zeroT-2+1", "linear-zeroT-3+1", "linear-4"],
)
def test_second_order_on_three_and_four_points_equals_the_exact_chain(activation, psi, beta, P, with_test):
    X, y, X_test = make_data(P=P, N0=6, T=1, seed=5, scale=0.8)
    X_test = X_test if with_test else None
    net = ShapedMLP(depth=2, width=[30, 50], psi=psi, activation=activation, sigma_w2=1.0)
    exact = chain_terms(net, X, y, X_test, beta, 2)
    ev = net.evidence(X, y, beta=beta, order=2)
    assert_terms_equal(ev.terms, exact["log_evidence"], abs(ev.terms[1]))
    if with_test:
        pr = net.predict(X, y, X_test, beta=beta, order=2)
        assert_terms_equal(pr.mean_terms[:, 0], exact["mean"], abs(pr.mean_terms[0, 0]))
        assert_terms_equal(pr.var_terms[:, 0], exact["var"], abs(pr.var_terms[0, 0]))


def test_issue_19_second_order_coefficient_is_the_exact_one():
    """The reported case (L = 3, psi = 0.6, beta = 6, three points): c2 = 20.586..., not about 1.

    Monte Carlo disagreed because the series is badly asymptotic there: c3 = -4043.9
    (``test_issue_19_third_order``), so the order-2 and order-3 terms cancel near N = |c3/c2| = 196.
    """
    net = ShapedMLP(depth=3, width=1000, psi=0.6)
    exact = chain_terms(net, ISSUE_19_X, ISSUE_19_Y, None, 6.0, 2)
    ev = net.evidence(ISSUE_19_X, ISSUE_19_Y, beta=6.0, order=2)
    assert_terms_equal(ev.terms, exact["log_evidence"], abs(ev.terms[1]))
    assert ev.terms[2] * 1000**2 == pytest.approx(20.58617896, rel=1e-9)


@pytest.mark.slow
def test_issue_19_third_order():
    """c3 of the issue's case from both: about 3 minutes for the chain, 11 for the engine's cold moment table."""
    net = ShapedMLP(depth=3, width=1000, psi=0.6)
    exact = chain_terms(net, ISSUE_19_X, ISSUE_19_Y, None, 6.0, 3)
    for ev in (net.evidence(ISSUE_19_X, ISSUE_19_Y, beta=6.0, order=3),
               pullback.series(net, ISSUE_19_X, ISSUE_19_Y, None, 6.0, 3)):
        assert_terms_equal(ev.terms, exact["log_evidence"], abs(ev.terms[1]))
        assert ev.terms[3] * 1000**3 == pytest.approx(-4043.87829, rel=1e-8)


@pytest.mark.parametrize("beta", [math.inf, 2.0])
def test_third_order_deep_linear_on_three_points_equals_the_exact_chain(beta):
    X, y, X_test = make_data(P=2, N0=5, T=1, seed=7, scale=0.8)
    net = ShapedMLP(depth=2, width=[20, 35])
    exact = chain_terms(net, X, y, X_test, beta, 3)
    compiled = (net.evidence(X, y, beta=beta, order=3), net.predict(X, y, X_test, beta=beta, order=3))
    oracle = pullback.series(net, X, y, X_test, beta, 3)
    for ev, pr in (compiled, (oracle, oracle)):
        assert_terms_equal(ev.terms, exact["log_evidence"], abs(ev.terms[1]))
        assert_terms_equal(pr.var_terms[:, 0], exact["var"], abs(pr.var_terms[0, 0]))
