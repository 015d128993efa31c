"""The command line: each command on real data, machine-readable output, clean failures."""
import json
import math

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
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(args, message, npz_file, tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip archive")
    args = [a.format(npz=npz_file, bad=bad) for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
