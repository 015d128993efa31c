"""Every hand derivation in derivations/hand/ is checked against the engine (and a wrong variant is not)."""
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from perturbo import continuum_kernel, verify
from perturbo.activation import Activation, parse_shaping
from perturbo.symbolic.mean_map import S_aa, S_ab, S_bb, mean_map_expr

HAND = Path(__file__).resolve().parents[1] / "derivations" / "hand"
psi, L, sigma_w2, t = sp.symbols("psi L sigma_w2 t")
K_aa, K_bb, K_ab = sp.symbols("K_aa K_bb K_ab")
SYMBOLS = {s.name: s for s in (psi, L, sigma_w2, S_aa, S_bb, S_ab, K_aa, K_bb, K_ab)}


def formula(name: str) -> sp.Expr:
    """The expression in the file's single ```sympy block."""
    text = (HAND / name).read_text()
    blocks = text.split("```sympy\n")[1:]
    assert len(blocks) == 1, f"{name} must hold exactly one sympy block"
    return sp.sympify(blocks[0].split("```")[0], locals=SYMBOLS)


def differs_from_mean_map(candidate: sp.Expr) -> sp.Expr:
    act = Activation(parse_shaping(None, psi), depth=L)
    return sp.simplify(candidate - mean_map_expr(act.phi, sigma_w2))


VERIFIED = sorted(p.name for p in HAND.glob("*.md") if "```verify" in p.read_text())


def test_every_hand_derivation_is_checked():
    checked = {"cubic_mean_map.md", "cubic_continuum_kernel.md", *VERIFIED}
    assert {p.name for p in HAND.glob("*.md")} == checked
    assert len(VERIFIED) >= 5


def verify_block(name: str) -> dict[str, str]:
    """``key: value`` lines of the file's single ```verify block."""
    block = (HAND / name).read_text().split("```verify\n")[1].split("```")[0]
    return dict(line.split(": ", 1) for line in block.strip().splitlines())


@pytest.mark.parametrize("name", VERIFIED)
def test_hand_derivation_holds_and_its_wrong_variant_fails(name):
    spec = verify_block(name)
    settings = dict(quantity=spec["quantity"], order=int(spec["order"]), beta=float(spec["beta"]))
    right = verify(spec["candidate"], **settings)
    assert right.holds, right.detail
    if right.method.startswith("symbolic"):  # decided exactly; the engine on random data agrees too
        assert verify(spec["candidate"], **settings, method="random").holds
    wrong = verify(spec["wrong"], **settings)
    assert not wrong.holds and wrong.counterexample is not None and "counterexample" in wrong.detail


def test_cubic_mean_map():
    m = formula("cubic_mean_map.md")
    assert differs_from_mean_map(m) == 0
    assert differs_from_mean_map(m.subs(sp.Rational(2, 3), sp.Rational(1, 3))) != 0  # a wrong Wick count


def continuum_flow_residual(K: sp.Expr) -> float:
    """Largest |dK_ab/dt - psi (K_aa + K_bb) K_ab| and |K(0) - K_ab|, K(t) = K at psi -> psi t.

    Evaluated to 50 digits at random points with 2 psi K < 1 (where sqrt((1 - 2 psi K)^2) = 1 - 2 psi K,
    which SymPy cannot assume symbolically).
    """
    Kt = K.subs(psi, psi * t)
    diag_a = Kt.subs({K_bb: K_aa, K_ab: K_aa})
    diag_b = Kt.subs({K_aa: K_bb, K_ab: K_bb})
    residuals = [sp.diff(Kt, t) - psi * (diag_a + diag_b) * Kt, Kt.subs(t, 0) - K_ab]
    rng = np.random.default_rng(1)
    worst = 0.0
    for _ in range(5):
        a, b = rng.uniform(0.1, 1.0, size=2)
        point = {K_aa: a, K_bb: b, K_ab: rng.uniform(-1, 1) * np.sqrt(a * b), psi: rng.uniform(-1, 0.45), t: rng.uniform(0, 1)}
        point = {k: sp.Rational(float(v)) for k, v in point.items()}
        worst = max(worst, *(abs(float(r.evalf(50, subs=point))) for r in residuals))
    return worst


def test_cubic_continuum_kernel_solves_the_flow_and_matches_the_runtime():
    K = formula("cubic_continuum_kernel.md")
    assert continuum_flow_residual(K) < 1e-40
    assert continuum_flow_residual(K.subs(2 * psi, psi)) > 1e-3  # the factor 2 matters

    X = np.random.default_rng(0).normal(size=(3, 6)) * 0.5
    G = X @ X.T / 6
    value = sp.lambdify((K_aa, K_bb, K_ab, psi), K)
    ours = np.array([[value(G[a, a], G[b, b], G[a, b], -0.7) for b in range(3)] for a in range(3)])
    np.testing.assert_allclose(continuum_kernel(X, -0.7), ours, rtol=1e-13)
