"""``perturbo derive`` prints the compiler's expansion; read back and evaluated with plain NumPy it is the engine."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from perturbo import ShapedMLP
from perturbo.activation import parse_shaping, t
from perturbo.problem import Problem
from perturbo.compiler.dense import dense_moments
from perturbo.derive import L, psi, sigma_w2
from perturbo.printed_expansion import write_expansion
from tests.datasets import make_data
from tests.oracle.printed import PrintedExpansion

COMMITTED = Path(__file__).resolve().parents[1] / "derivations"
NON_ODD = "0.5*t**2 - 0.3*t**3"


@pytest.mark.parametrize("order", [1, 2])
def test_committed_cubic_expansions_are_current(order, tmp_path):
    for path in write_expansion(order, sp.expand(t + psi * t**3 / (3 * L)), sigma_w2, tmp_path):
        assert path.read_text() == (COMMITTED / "cubic" / path.name).read_text(), f"re-run perturbo derive: {path.name}"


@pytest.mark.parametrize("folder, activation, order, beta", [
    ("cubic", None, 1, 2.0), ("cubic", None, 2, 2.0), ("cubic", None, 2, float("inf")),
    ("p_minus3t3over10plust2over2", NON_ODD, 1, 4.0), pytest.param(None, NON_ODD, 2, 4.0, marks=pytest.mark.slow),
])
def test_the_printed_expansion_evaluated_on_data_is_the_engine(folder, activation, order, beta, tmp_path):
    """Evidence ratio, ``E[z m]`` and ``E[z (C + m m')]`` of every order to 1e-12, unequal widths."""
    if folder is None:
        shaping = parse_shaping(activation, 0.0)
        write_expansion(order, sp.expand(t + shaping / L), sigma_w2, tmp_path)
        path = tmp_path / f"expansion_{order}.json"
    else:
        path = COMMITTED / folder / f"expansion_{order}.json"
    X, y, X_test = make_data(P=3, N0=4, T=2, seed=2, scale=0.8)
    net = ShapedMLP(3, [40, 55, 30], psi=-0.6, sigma_w2=1.2, activation=activation)
    kernels = net.kernels(np.vstack([X, X_test]))
    sigma2 = 3 / beta
    printed = PrintedExpansion(path, {"psi": -0.6, "L": 3, "sigma_w2": 1.2}).moments_of(kernels, 3, y, sigma2, net.widths)
    engine = dense_moments(Problem(net.activation.phi, sp.Rational(6, 5), kernels, 3, y, sigma2, tuple(net.widths), order))
    for name in ("z", "zm", "zs"):
        expected = getattr(engine, name)
        assert np.any(expected[order] != 0)
        np.testing.assert_allclose(printed[name], expected, rtol=1e-11, atol=1e-14 * np.max(np.abs(expected)))


def test_the_markdown_lists_every_term_with_its_count():
    """Each section announces its number of terms and lists exactly that many; the totals are the compiler's."""
    import re

    text = (COMMITTED / "cubic" / "expansion_2.md").read_text()
    sections = text.split("\n### ")[1:]
    counts = []
    for section in sections:
        announced = int(re.search(r": (\d+) terms", section.splitlines()[0]).group(1))
        assert section.count("\n- $") == announced, section.splitlines()[0]
        counts.append(announced)
    assert counts[:3] == [15, 118, 53]  # kappa_1..3 at order 2 (the compiler issue's counts)
    assert sum(counts[3:]) == 558 and len(counts) == 18  # read-out networks of z, z m, z (C + m m') to degree 4
