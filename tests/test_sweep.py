"""perturbo sweep (issue 26): a grid to a table and plots, resumable from content-addressed point files, the
same rows serially and on two workers."""
from __future__ import annotations

import json

import numpy as np
import pytest

from perturbo import ShapedMLP
from perturbo.cli import main
from perturbo.datasets import digits, digits_count
from perturbo.results import expected_squared_error
from perturbo.sweep import checked, load, run

GRID = """
data = ["digits:0,1"]
n_train = [12, 24]
n_test = 20
depths = [3]
widths = [40, 160]
psi = -0.6
order = 1
renormalized = ["Wishart, saddle + loop"]
"""


@pytest.fixture()
def config(tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text(GRID)
    return path


def test_the_table_holds_each_methods_answer(config, tmp_path):
    outcome = run(load(config), tmp_path / "out", show_progress=False)
    assert (outcome.computed, outcome.reused) == (4, 0)
    assert len(outcome.rows) == 4 * 3  # orders 0, 1 and the renormalised answer per point
    # one test set of 20 images for every n_train; the training sets are nested
    total = digits_count((0, 1))
    X, y, X_test, y_test = digits((0, 1), n_train=total - 20, n_test=20)
    net = ShapedMLP(3, 160, psi=-0.6)
    pr = net.predict(X[:24], y[:24], X_test, beta=24.0, order=1)
    row = next(r for r in outcome.rows if (r["n_train"], r["width"], r["method"]) == (24, 160, "series, order 1"))
    assert row["test_error"] == pytest.approx(expected_squared_error(y_test, pr.mean, pr.var), rel=1e-12)
    assert row["depth_ratio"] == pytest.approx(3 * 24 / 160)
    table = (tmp_path / "out" / "results.csv").read_text().splitlines()
    assert len(table) == 1 + len(outcome.rows)
    names = sorted(p.name for p in outcome.files[1:])
    assert names == ["learning_curves_digits-0-1_3_160_1.0.png", "learning_curves_digits-0-1_3_40_1.0.png",
                     "regimes_digits-0-1_12_3_1.0.png", "regimes_digits-0-1_24_3_1.0.png"]


def test_a_rerun_computes_only_what_is_missing_or_changed(config, tmp_path):
    out = tmp_path / "out"
    first = run(load(config), out, show_progress=False)
    files = sorted((out / "points").iterdir())
    stamps = {f: f.stat().st_mtime_ns for f in files}
    assert run(load(config), out, show_progress=False).computed == 0
    files[0].unlink()  # as if the run had stopped before this point
    again = run(load(config), out, show_progress=False)
    assert (again.computed, again.reused) == (1, 3)
    assert all(f.stat().st_mtime_ns == stamps[f] for f in files[1:])  # nothing finished was recomputed
    assert again.rows == first.rows
    config.write_text(GRID.replace("order = 1", "order = 0"))  # another evaluation: every point anew
    assert run(load(config), out, show_progress=False).computed == 4


def test_an_interrupted_sweep_keeps_its_finished_points(tmp_path):
    """A point that fails stops the run with its name; the points finished before it are on disk and reused."""
    data = tmp_path / "small.npz"
    rng = np.random.default_rng(0)
    np.savez(data, X=rng.normal(size=(6, 5)), y=rng.normal(size=6), X_test=rng.normal(size=(3, 5)),
             y_test=rng.normal(size=3))
    config = {"data": ["digits:0,1", str(data)], "n_train": [8], "n_test": 10, "depths": [2], "widths": [50],
              "psi": -0.3}
    with pytest.raises(ValueError, match=r"sweep point \(data .*small.npz, n_train 8.*has 6 training points"):
        run(checked(config), tmp_path / "out", show_progress=False)
    assert len(list((tmp_path / "out" / "points").iterdir())) == 1  # the digits point
    resumed = run(checked({**config, "data": ["digits:0,1"]}), tmp_path / "out", show_progress=False)
    assert (resumed.computed, resumed.reused) == (0, 1)


def test_two_workers_give_the_rows_of_one_process(config, tmp_path, capsys):
    serial = run(load(config), tmp_path / "serial", show_progress=False)
    assert main(["sweep", str(config), "--out", str(tmp_path / "two"), "--workers", "2"]) == 0
    assert "4 points: 4 computed, 0 found" in capsys.readouterr().out
    two = json.loads((tmp_path / "two" / "results.json").read_text())
    assert [(r["n_train"], r["width"], r["method"]) for r in two] == [
        (r["n_train"], r["width"], r["method"]) for r in serial.rows]
    np.testing.assert_allclose([r["test_error"] for r in two], [r["test_error"] for r in serial.rows], rtol=1e-10)
    np.testing.assert_allclose([r["log_evidence"] for r in two], [r["log_evidence"] for r in serial.rows], rtol=1e-10)


@pytest.mark.parametrize("config, message", [
    ({"widths": [10]}, "data must name at least one dataset"),
    ({"data": "digits:0,1", "widths": [10], "temperature": 1}, "unknown keys"),
    ({"data": "digits:0,1", "depths": [2], "widths": [0]}, "widths must be a positive integer"),
    ({"data": "digits:0,1", "widths": [10]}, "depths must be a positive integer"),
    ({"data": "digits:0,1", "depths": [2]}, "widths must be a positive integer"),
    ({"data": "digits:0,1", "depths": [2], "widths": [10], "noise": [-1.0]}, "noise must be positive"),
    ({"data": "digits:0,1", "depths": [2], "widths": [10], "method": "mcmc"}, "method must be one of"),
    ({"data": "digits:0,1", "depths": [2], "widths": [10], "renormalized": ["nested"]}, "renormalized must list"),
    ({"data": "digits:0,1", "depths": [2], "widths": [10], "activation": "exp(t)"}, "polynomial"),
])
def test_bad_sweeps_are_clear_errors(config, message):
    with pytest.raises(ValueError, match=message):
        checked(config)


def test_the_cli_reports_a_bad_file(tmp_path, capsys):
    path = tmp_path / "sweep.toml"
    path.write_text("data = [digits")
    assert main(["sweep", str(path)]) == 2
    assert "is not valid TOML" in capsys.readouterr().err
