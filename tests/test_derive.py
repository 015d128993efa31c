"""perturbo derive: what it writes is what the runtime computes, and the committed files are current."""
import json
from pathlib import Path

import numpy as np
import sympy as sp

from perturbo.activation import t
from perturbo.cli import main
from perturbo.derive import L, derive, psi, series_algebra, sigma_w2
from perturbo.runtime import series
from perturbo.symbolic.mean_map import S_aa, S_ab, S_bb, mean_map_expr

COMMITTED = Path(__file__).resolve().parents[1] / "derivations"


def test_committed_derivations_are_current(tmp_path):
    for folder, activation in [("cubic", None), ("p_minus3t3over10plust2over2", "0.5*t**2 - 0.3*t**3")]:
        for fresh in derive(1, activation, tmp_path):
            assert fresh.read_text() == (COMMITTED / folder / fresh.name).read_text(), f"re-run perturbo derive: {fresh.name}"


def test_json_layer_map_is_the_cubic_mean_map():
    data = json.loads((COMMITTED / "cubic" / "order_1.json").read_text())
    m1 = data["copy_moments"]["1"]
    variables = [sp.Symbol(v) for v in m1["variables"]]
    expr = sum(sp.sympify(c, locals={"psi": psi, "L": L, "sigma_w2": sigma_w2}) * sp.Mul(*[v**k for v, k in zip(variables, m)])
               for m, c in m1["terms"])
    expr = expr.subs(dict(zip(variables, [S_aa, S_ab, S_bb])))
    assert sp.simplify(expr - mean_map_expr(t + psi * t**3 / (3 * L), sigma_w2)) == 0


def test_printed_series_algebra_is_the_runtime_series_algebra():
    order = 3
    rng = np.random.default_rng(0)
    c, a, a2, b = (rng.normal(size=order + 1) for _ in range(4))
    c[0] = 1.0
    values = {sp.Symbol(f"c_{k}"): c[k] for k in range(1, order + 1)}
    values |= {sp.Symbol(f"a_{k}"): a[k] for k in range(order + 1)}
    values |= {sp.Symbol(f"a'_{k}"): a2[k] for k in range(order + 1)}
    values |= {sp.Symbol(f"b_{k}"): b[k] for k in range(order + 1)}
    algebra = {name: np.array([float(term.subs(values)) for term in terms]) for name, terms in series_algebra(order).items()}
    np.testing.assert_allclose(algebra["log_evidence"], series.log(c), atol=1e-13)
    mean, mean2 = series.divide(a, c), series.divide(a2, c)
    np.testing.assert_allclose(algebra["mean"], mean, atol=1e-13)
    np.testing.assert_allclose(algebra["covariance"], series.divide(b, c) - series.multiply(mean, mean2), atol=1e-13)


def test_cli_derive_writes_files_and_rejects_bad_orders(tmp_path, capsys):
    assert main(["derive", "--order", "1", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "cubic" / "order_1.md").is_file()
    assert main(["derive", "--order", "0", "--out", str(tmp_path)]) == 2
    assert "order must be an integer from 1 to" in capsys.readouterr().err
