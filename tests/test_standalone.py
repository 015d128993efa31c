"""``perturbo compile`` (``compiler/standalone.py``): the written evaluator, run in a fresh process that cannot import
SymPy, opt_einsum, SciPy or perturbo, against the package's ``evidence`` and ``predict``.

The package side runs its own dense lowering, the evaluator the same kernels, tables and read-out plan as data and
copied source: agreement checks that nothing is lost in writing them out, at every order (order 3's kernels are
above the print limit, so its evaluator runs their tables with the copied ``run_products``).
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest

from perturbo import ShapedMLP
from perturbo.cli import main

RUNNER = r'''
import importlib.abc, json, math, sys


class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {"sympy", "opt_einsum", "scipy", "perturbo"}:
            raise ImportError(f"{name} must not be needed by the evaluator")


sys.meta_path.insert(0, Blocked())
import numpy as np

sys.path.insert(0, sys.argv[1])
evaluator = __import__(sys.argv[2])
case = json.loads(sys.argv[3])
X, y, X_test = (np.array(case[k]) for k in ("X", "y", "X_test"))
beta = math.inf if case["beta"] is None else case["beta"]
evidence = evaluator.log_evidence_terms(X, y, beta, case["widths"], sigma_w2=case["sigma_w2"])
mean, var = evaluator.predictive_terms(X, y, X_test, beta, case["widths"], sigma_w2=case["sigma_w2"])
errors = []
too_many = {"X": np.repeat(X, 80, axis=0)[:80], "y": np.repeat(y, 80)[:80]}  # 82 points: over the memory limit
for bad in ({"y": y[:-1]}, {"widths": [case["widths"][0], 0]}, {"beta": -1.0}, {"X_test": X_test[:, :-1]},
            *([too_many] if evaluator.ORDER else [])):
    arguments = {"X": X, "y": y, "X_test": X_test, "beta": beta, "widths": case["widths"]} | bad
    try:
        evaluator.predictive_terms(**arguments, sigma_w2=case["sigma_w2"])
    except ValueError as error:
        errors.append(str(error))
print(json.dumps({"evidence": evidence.tolist(), "mean": mean.tolist(), "var": var.tolist(), "errors": errors}))
'''


def run_evaluator(tmp_path, activation: str, order: int, case: dict) -> dict:
    module = tmp_path / "evaluator.py"
    assert main(["compile", "--order", str(order), f"--activation={activation}", "-o", str(module)]) == 0
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    done = subprocess.run([sys.executable, str(runner), str(tmp_path), "evaluator", json.dumps(case)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def data_case(P: int, T: int, N0: int, widths: list[int], beta: float | None, sigma_w2: float, seed: int,
              scale: float = 1.0) -> dict:
    rng = np.random.default_rng(seed)
    X, X_test = scale * rng.normal(size=(P, N0)), scale * rng.normal(size=(T, N0))
    return {"X": X.tolist(), "y": rng.normal(size=P).tolist(), "X_test": X_test.tolist(), "widths": widths,
            "beta": beta, "sigma_w2": sigma_w2}


def relative_error(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


@pytest.mark.parametrize("activation, order, case", [
    ("-0.2*t**3", 2, data_case(5, 2, 3, [30, 40, 50], 4.0, 1.2, 0)),  # the cubic, psi = -0.6
    ("0.2*t**3 - 0.1*t**2", 1, data_case(4, 3, 6, [20, 25], None, 0.9, 1)),  # non-odd, beta = inf
    ("0.3*t**2 - 0.05*t**7", 0, data_case(6, 2, 4, [10, 10, 10, 10], 2.0, 1.0, 2, scale=0.35)),  # degree 7: the kernel recursion
    ("-0.2*t**3", 3, data_case(3, 2, 3, [30, 40, 50], 4.0, 1.2, 4)),  # order 3: the transfer's tables, run_products
])
def test_written_evaluator_matches_the_package_without_sympy_or_perturbo(tmp_path, activation, order, case):
    out = run_evaluator(tmp_path, activation, order, case)
    net = ShapedMLP(len(case["widths"]), case["widths"], sigma_w2=case["sigma_w2"], activation=activation)
    X, y, X_test = (np.array(case[k]) for k in ("X", "y", "X_test"))
    beta = math.inf if case["beta"] is None else case["beta"]
    with warnings.catch_warnings():  # (the package's convergence warnings are not the point here)
        warnings.simplefilter("ignore", RuntimeWarning)
        evidence = net.evidence(X, y, beta, order=order)
        prediction = net.predict(X, y, X_test, beta, order=order)
    assert relative_error(out["evidence"], evidence.terms) < 1e-12
    assert relative_error(out["mean"], prediction.mean_terms) < 1e-12
    assert relative_error(out["var"], prediction.var_terms) < 1e-12
    if order:  # the corrections themselves, not only term 0, are compared
        assert np.max(np.abs(evidence.terms[1:])) > 1e-6 * np.abs(evidence.terms[0])
    assert len(out["errors"]) == 4 + (order > 0), out["errors"]  # every bad input a ValueError
    assert any("widths" in e for e in out["errors"]) and any("beta" in e for e in out["errors"])
    assert not order or any("GB" in e and "fewer points" in e for e in out["errors"])  # the package's memory rule


def test_compile_refuses_a_file_that_is_not_a_module(tmp_path, capsys):
    assert main(["compile", "--order", "1", "-o", str(tmp_path / "not-a-module.py")]) == 2
    assert "must name a Python module" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing written


@pytest.mark.slow
def test_written_evaluator_runs_in_a_venv_with_only_numpy_and_numba(tmp_path):
    """The acceptance as stated: a new virtual environment, ``pip install numpy numba``, nothing else."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "numpy", "numba"], check=True, timeout=900)
    case = data_case(4, 2, 5, [30, 30, 30], 2.0, 1.0, 3)
    module = tmp_path / "evaluator.py"
    assert main(["compile", "--order", "1", "-o", str(module)]) == 0
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    done = subprocess.run([str(python), str(runner), str(tmp_path), "evaluator", json.dumps(case)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    listed = subprocess.run([str(python), "-m", "pip", "list"], capture_output=True, text=True).stdout
    assert "sympy" not in listed and "perturbo" not in listed
    net = ShapedMLP(3, 30, psi=-0.6)
    X, y = np.array(case["X"]), np.array(case["y"])
    assert relative_error(json.loads(done.stdout)["evidence"], net.evidence(X, y, 2.0, order=1).terms) < 1e-12
