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


def test_committed_deep_linear_closed_forms_are_current(tmp_path):
    """``derivations/deep_linear/order_K.{md,json}`` re-derived with the temperatures each file records."""
    from perturbo.derived_results import read_deep_linear, write_deep_linear

    committed = sorted((COMMITTED / "deep_linear").glob("order_*.json"))
    assert [p.name for p in committed] == [f"order_{k}.json" for k in (1, 2, 3, 4)]
    for path in committed:
        data = json.loads(path.read_text())
        fresh, terms = write_deep_linear(data["order"], tmp_path, tuple(data["temperatures"]))
        for new in fresh:
            assert new.read_text() == (path.parent / new.name).read_text(), f"re-run perturbo derive: {new.name}"
        assert read_deep_linear(path) == terms  # the JSON reads back to the same SymPy expressions
    assert json.loads((COMMITTED / "deep_linear" / "order_3.json").read_text())["temperatures"] == ["zero", "finite"]


def test_guide_table_is_generated_from_the_committed_derivations():
    from perturbo.derived_results import guide_section

    guide = (COMMITTED.parent / "docs" / "guide.md").read_text()
    assert guide_section(COMMITTED) in guide, "re-run perturbo derive --guide docs/guide.md"


def test_derive_linear_prints_the_hand_derived_second_order(capsys, tmp_path):
    """Acceptance: the zero-temperature order-2 log evidence, a polynomial in P, r, L, equals the hand result."""
    import time

    from perturbo.closed_forms import L as depth, P, r
    from tests.test_hand_derivations import verify_block

    start = time.perf_counter()
    assert main(["derive", "--order", "2", "--network", "linear", "--out", str(tmp_path)]) == 0
    assert time.perf_counter() - start < 60
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("log_evidence, beta = inf"))
    printed = sp.parse_expr(line.split(": ", 1)[1], local_dict={"P": P, "r": r, "L": depth})
    hand = verify_block("deep_linear_order2_zero_temperature.md")["candidate"]
    assert sp.expand(printed - sp.parse_expr(hand, local_dict={"P": P, "r": r, "L": depth})) == 0
    assert (tmp_path / "deep_linear" / "order_2.md").is_file()


def test_derive_linear_rejects_what_it_cannot_do(capsys, tmp_path):
    assert main(["derive", "--order", "5", "--network", "linear", "--out", str(tmp_path)]) == 2
    assert "order must be an integer from 1 to 4" in capsys.readouterr().err
    assert main(["derive", "--order", "1", "--network", "linear", "--activation", "t**3", "--out", str(tmp_path)]) == 2
    assert "--activation is for --network shaped" in capsys.readouterr().err
    assert main(["derive", "--out", str(tmp_path)]) == 2
    assert "derive needs --order" in capsys.readouterr().err
    guide = tmp_path / "guide.md"
    guide.write_text("no markers here\n")
    assert main(["derive", "--guide", str(guide), "--out", str(COMMITTED)]) == 2
    assert "needs one line" in capsys.readouterr().err and guide.read_text() == "no markers here\n"


def test_committed_continuum_formula_is_current(tmp_path, capsys):
    assert main(["derive", "--order", "1", "--limit", "continuum", "--out", str(tmp_path)]) == 0
    for name in ("order_1.md", "order_1.json"):
        fresh = (tmp_path / "cubic_continuum" / name).read_text()
        assert fresh == (COMMITTED / "cubic_continuum" / name).read_text(), "re-run perturbo derive --limit continuum"
    assert main(["derive", "--order", "2", "--limit", "continuum", "--out", str(tmp_path)]) == 2
    assert "--limit continuum is derived for the default cubic at --order 1" in capsys.readouterr().err
