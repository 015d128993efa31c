"""The command line: each command on real data, machine-readable output, clean failures."""
import json
import math
from pathlib import Path

import numpy as np
import pytest

from perturbo import ShapedMLP
from perturbo.cli import main
from tests.datasets import make_data

X, Y, XT = make_data(P=4, N0=8, T=2, seed=3)


@pytest.fixture
def npz_file(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, X=X, y=Y, X_test=XT)
    return path


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "data.csv"
    header = ",".join([f"x{i}" for i in range(X.shape[1])] + ["y"])
    rows = [",".join(repr(float(v)) for v in [*x, t]) for x, t in zip(X, Y)]
    rows += [",".join(repr(float(v)) for v in x) + "," for x in XT]
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_evaluate_json_matches_the_api(npz_file, capsys):
    code = main(["evaluate", "--data", str(npz_file), "--depth", "3", "--width", "40", "--psi", "-0.5",
                 "--beta", "4", "--order", "1", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    net = ShapedMLP(depth=3, width=40, psi=-0.5)
    ev = net.evidence(X, Y, beta=4.0, order=1)
    pr = net.predict(X, Y, XT, beta=4.0, order=1)
    assert out["log_evidence"] == pytest.approx(ev.log_evidence, rel=1e-14)
    assert out["log_partition"] == pytest.approx(ev.log_partition, rel=1e-14)
    np.testing.assert_allclose(out["mean"], pr.mean, rtol=1e-14)
    np.testing.assert_allclose(out["var"], pr.var, rtol=1e-14)


def test_csv_and_npz_give_the_same_answer(npz_file, csv_file, capsys):
    answers = []
    for path in (npz_file, csv_file):
        assert main(["evaluate", "--data", str(path), "--width", "10,20,30,40", "--json"]) == 0
        answers.append(json.loads(capsys.readouterr().out))
    assert answers[0]["log_evidence"] == pytest.approx(answers[1]["log_evidence"], rel=1e-14)
    np.testing.assert_allclose(answers[0]["mean"], answers[1]["mean"], rtol=1e-14)


def test_evaluate_table_names_its_quantities(npz_file, capsys):
    assert main(["evaluate", "--data", str(npz_file), "--order", "0"]) == 0
    out = capsys.readouterr().out
    assert "log evidence" in out and "Posterior predictive" in out


def test_check_reports_deviation_from_monte_carlo(npz_file, capsys):
    assert main(["check", "--data", str(npz_file), "--depth", "2", "--width", "400", "--beta", "2",
                 "--samples", "3000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # wide network: order 0 is within a few standard errors plus the O(L/N) finite-width shift
    assert abs(out["series"]["log_evidence"] - out["monte_carlo"]["log_evidence"]) < 0.05
    assert math.isfinite(out["deviation_in_standard_errors"]["log_evidence"])


def test_demo_prints_both_references(capsys):
    assert main(["demo", "--samples", "2000"]) == 0
    out = capsys.readouterr().out
    assert "exact" in out and "Monte Carlo" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["evaluate", "--data", "missing.npz"], "does not exist"),
        (["evaluate", "--data", "{npz}", "--depth", "0"], "depth must be an integer >= 1"),
        (["evaluate", "--data", "{npz}", "--beta", "-1"], "beta must be > 0"),
        (["evaluate", "--data", "{npz}", "--order", "9"], "order must be an integer from 0 to"),
        (["evaluate", "--data", "{npz}", "--activation", "sin(t)"], "not a polynomial"),
        (["evaluate", "--data", "{bad}"], "not a readable .npz"),
        (["evaluate", "--data", "{strings}"], "array X has dtype <U"),
        (["evaluate", "--data", "{csv_word}"], "line 2: an input is not a number"),
        (["evaluate", "--data", "{csv_ragged}"], "line 2: 2 fields, the header has 3"),
        (["evaluate", "--data", "{csv_no_y}"], "needs a column named 'y'"),
        (["evaluate", "--data", "{npz}", "--activation", "t**"], "could not be parsed"),
        (["evaluate", "--data", "{npz}", "--sigma-w2", "0"], "sigma_w2 must be > 0"),
        (["check", "--data", "{npz}", "--seed", "-5", "--samples", "10"], "seed must be an integer >= 0"),
        (["derive", "--order", "99"], "order must be an integer from 1 to 4"),
        (["evaluate", "--data", "{npz}", "--regime", "proportional", "--order", "2"], "apply to --regime series"),
        (["evaluate", "--data", "{npz}", "--mixture"], "apply to --regime proportional"),
        (["evaluate", "--data", "{npz}", "--regime", "proportional", "--ansatz", "nested", "--mixture"],
         "needs ansatz='wishart'"),
        (["derive", "--order", "1", "--out", "{blocked}/out"], "Not a directory"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(args, message, npz_file, tmp_path, capsys):
    files = {
        "bad.npz": b"not a zip archive",
        "csv_word.csv": b"a,b,y\n1,x,2\n",
        "csv_ragged.csv": b"a,b,y\n1,2\n",
        "csv_no_y.csv": b"a,b,c\n1,2,3\n",
        "blocked": b"a file where a folder is expected",
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    np.savez(tmp_path / "strings.npz", X=X.astype(str), y=Y)
    names = {Path(name).stem: tmp_path / name for name in [*files, "strings.npz"]}
    args = [a.format(npz=npz_file, **names) for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_unparsable_argument_is_one_line_and_exit_status_2(npz_file, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["evaluate", "--data", str(npz_file), "--width", "a,b"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "width must be an integer or a comma-separated list" in err and err.count("\n") == 1


def test_json_is_strict_at_zero_temperature(npz_file, capsys):
    """Strict JSON has no Infinity: beta = inf is written as "inf"; the error estimates are included."""
    assert main(["evaluate", "--data", str(npz_file), "--order", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out, parse_constant=lambda name: pytest.fail(f"non-JSON constant {name}"))
    assert out["beta"] == "inf" and out["log_partition"] is None
    assert out["log_evidence_error_estimate"] == pytest.approx(abs(out["log_evidence_terms"][1]))
    np.testing.assert_allclose(out["mean_error_estimate"], np.abs(np.array(out["mean_terms"])[1]))


def test_cost_prints_the_plan_the_term_classes_and_refusals(capsys):
    assert main(["cost", "--order", "2", "--points", "4,24"]) in (0, None)
    out = capsys.readouterr().out
    from perturbo.compiler import program
    net = ShapedMLP(depth=6, width=1, psi=-0.6)
    for c in program(net.activation.phi, 2).term_classes:
        assert f"kappa_{c.n}: {c.terms} terms, {c.products} products (printed)" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()[:1].isdigit()}
    assert "dense" in lines["4"]
    assert "refused" in lines["24"] and "GB" in lines["24"]


def test_cost_of_order_zero_is_a_one_line_error(capsys):
    assert main(["cost", "--order", "0"]) == 2
    assert "order 0 is the Gaussian process" in capsys.readouterr().err


def test_evaluate_proportional_regime_prints_the_order_parameters(npz_file, capsys):
    """``--regime proportional``: the order parameters, the action and its loop correction, and the predictive, the same
    numbers as ``net.renormalized``."""
    args = ["evaluate", "--data", str(npz_file), "--depth", "3", "--width", "6", "--psi", "-0.5", "--beta", "4",
            "--regime", "proportional", "--ansatz", "nested"]
    assert main(args + ["--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    kr = ShapedMLP(depth=3, width=6, psi=-0.5).renormalized(X, Y, XT, beta=4.0, ansatz="nested")
    np.testing.assert_allclose(out["order_parameters"], kr.order_parameters, rtol=1e-14)
    assert out["log_evidence"] == pytest.approx(kr.log_evidence, rel=1e-14)
    assert out["log_evidence"] == pytest.approx(out["action"] + out["loop_correction"], rel=1e-14)
    np.testing.assert_allclose(out["var"], kr.var, rtol=1e-14)
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "Order parameters at the saddle point" in table and "one-loop correction" in table and "alpha = P/N_l" in table


def test_depth_benefit_on_a_digits_task(capsys):
    """``perturbo depth-benefit``: the coefficient per unit ``L P/N`` at each depth and in the continuum, the same as
    ``perturbo.depth_benefit`` on ``digits:0,1:30``."""
    from perturbo import depth_benefit
    from perturbo.datasets import digits

    assert main(["depth-benefit", "--data", "digits:0,1:30:0", "--psi", "-0.6", "--depths", "4,8"]) == 0
    out = capsys.readouterr().out
    X, y, _, _ = digits((0, 1), 30, 0)
    d = depth_benefit(X, y, psi=-0.6, depths=(4, 8))
    assert f"{d.coefficient[1]:.8g}" in out and f"{d.continuum:.8g}" in out and "raises the evidence" in out


def test_check_against_nuts_reports_the_sampler_diagnostics(npz_file, capsys):
    pytest.importorskip("numpyro")
    args = ["check", "--data", str(npz_file), "--depth", "2", "--width", "8", "--psi", "-0.5", "--beta", "4",
            "--sampler", "nuts", "--samples", "40", "--warmup", "40", "--chains", "1", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["nuts"]) >= {"mean", "mean_se", "var", "var_se", "rhat", "ess", "divergences"}
    assert len(out["deviation_in_standard_errors"]["var"]) == len(XT)
