"""The standalone evaluator (``perturbo compile``, issue 25) against the package, in one run.
Run: python benchmarks/standalone.py [--quick]

For the cubic (``psi = -0.6``) and a degree-7 shaping at order 2, ``L = 6``, ``T = 2``:

- writing the module (``perturbo compile``: derive, lower, print);
- a fresh process, empty ``__pycache__``: import + evidence + predict at ``P = 6`` (Numba compiles everything);
- a fresh process again (Numba's cache beside the module) at each ``P``;
- the package, warm, evidence + predict at each ``P`` (same data), with the largest relative difference.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from perturbo import ShapedMLP
from perturbo.cli import main as cli

DEPTH, T, WIDTH, BETA = 6, 2, 100, 4.0
ACTIVATIONS = {"cubic psi=-0.6": "-0.2*t**3", "degree 7": "0.001*t**7 - 0.01*t**5 - 0.3*t**3 - 0.1*t**2"}

RUN = r'''
import json, sys, time
start = time.perf_counter()
import numpy as np
sys.path.insert(0, sys.argv[1])
import evaluator
case = json.loads(sys.argv[2])
X, y, X_test = (np.array(case[k]) for k in ("X", "y", "X_test"))
evidence = evaluator.log_evidence_terms(X, y, case["beta"], case["widths"])
mean, var = evaluator.predictive_terms(X, y, X_test, case["beta"], case["widths"])
print(json.dumps({"seconds": time.perf_counter() - start, "evidence": evidence.tolist(), "mean": mean.tolist(),
                  "var": var.tolist()}))
'''


def data(P: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(P + T, P + T + 5))
    X *= 0.8 / np.sqrt((X**2).mean(axis=1, keepdims=True))
    return {"X": X[:P].tolist(), "y": np.sin(X[:P, 0]).tolist(), "X_test": X[P:].tolist(), "beta": BETA,
            "widths": [WIDTH] * DEPTH}


def run_fresh(folder: Path, case: dict) -> dict:
    """Wall time of a whole fresh process (interpreter start included) and its answer."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(folder / "run.py"), str(folder), json.dumps(case)],
                          capture_output=True, text=True, check=True)
    out = json.loads(done.stdout)
    out["wall"] = time.perf_counter() - start
    return out


def package(activation: str, case: dict) -> tuple[float, dict]:
    net = ShapedMLP(DEPTH, WIDTH, activation=activation)
    X, y, X_test = (np.array(case[k]) for k in ("X", "y", "X_test"))
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        evidence = net.evidence(X, y, BETA, order=2)
        prediction = net.predict(X, y, X_test, BETA, order=2)
    return time.perf_counter() - start, {"evidence": evidence.terms, "mean": prediction.mean_terms,
                                         "var": prediction.var_terms}


def difference(a: dict, b: dict) -> float:
    return max(float(np.max(np.abs(np.array(a[k]) - b[k])) / np.max(np.abs(b[k]))) for k in ("evidence", "mean", "var"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="P = 6 and 10 only")
    sizes = [6, 10] if parser.parse_args().quick else [6, 10, 12, 14]
    for label, activation in ACTIVATIONS.items():
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "run.py").write_text(RUN)
            start = time.perf_counter()
            cli(["compile", "--order", "2", f"--activation={activation}", "-o", str(folder / "evaluator.py")])
            written = time.perf_counter() - start
            lines = (folder / "evaluator.py").read_text().count("\n")
            cold = run_fresh(folder, data(sizes[0]))
            print(f"{label}: written in {written:.2f} s ({lines} lines); first fresh process (Numba compiles) "
                  f"{cold['wall']:.1f} s at P = {sizes[0]}")
            package(activation, data(4))  # the package warm
            print(f"  {'P':>4} {'evaluator (fresh process)':>26} {'package (warm)':>15} {'max rel diff':>13}")
            for P in sizes:
                case = data(P)
                fresh = run_fresh(folder, case)
                seconds, reference = package(activation, case)
                print(f"  {P:>4} {fresh['wall']:>22.2f} s {seconds:>13.2f} s {difference(fresh, reference):>13.1e}")
            shutil.rmtree(folder / "__pycache__", ignore_errors=True)


if __name__ == "__main__":
    main()
