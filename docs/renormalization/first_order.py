"""How wrong is the proportional theory, to first order? The ansatz's own 1/N coefficient against the engine's exact
``terms[1]`` (log evidence), for both ansaetze, on three datasets.

    python docs/renormalization/first_order.py          # about 3 minutes; writes first_order.json beside it

For the deep linear network both ansaetze are exact (tested to 1e-8, ``tests/test_renormalized.py``); for shaped
networks they drop each layer's mean shift and non-Wishart fluctuations. The relative error of the ansatz's
coefficient, ``(c_ansatz - c_exact) / |c_exact|``, is what this prints.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from perturbo import ShapedMLP


def datasets(P: int, N0: int, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Three kinds of targets on Gaussian inputs with ``|x|^2/N0 = 1``."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(P, N0))
    w = rng.normal(size=N0)
    linear = X @ w / math.sqrt(N0)
    return {
        "linear teacher + noise 0.3": (X, linear + 0.3 * rng.normal(size=P)),
        "tanh teacher": (X, np.tanh(2.0 * linear)),
        "random labels": (X, rng.normal(size=P)),
    }


CASES = [  # (label, network arguments, noise variance P/beta)
    ("cubic psi = -0.6, L = 10", {"depth": 10, "psi": -0.6}, 1.0),
    ("cubic psi = +0.6, L = 3", {"depth": 3, "psi": 0.6}, 1.0),
    ("non-odd 0.5 t^2 - 0.3 t^3, L = 3", {"depth": 3, "activation": "0.5*t**2 - 0.3*t**3"}, 1.0),
]
SIZES = (10, 40, 160)


def main() -> None:
    rows = []
    for label, arguments, noise in CASES:
        for P in SIZES:
            for name, (X, y) in datasets(P, 2 * P).items():
                net = ShapedMLP(width=4 * P, **arguments)  # alpha = 1/4: the coefficient does not depend on it
                beta = P / noise
                start = time.perf_counter()
                exact = net.evidence(X, y, beta=beta, order=1).terms[1]
                seconds = time.perf_counter() - start
                row = {"case": label, "P": P, "data": name, "exact": exact, "seconds_exact": seconds}
                for ansatz in ("wishart", "nested"):
                    first = net.renormalized(X, y, beta=beta, ansatz=ansatz).first_order
                    row[ansatz] = first.log_evidence
                    row[f"{ansatz}_tree"] = first.tree.log_evidence
                    row[f"{ansatz}_error"] = (first.log_evidence - exact) / abs(exact)
                rows.append(row)
                print(f"{label:34} P = {P:4d} {name:28} exact {exact:+.4e}  Wishart {row['wishart_error']:+7.1%}  "
                      f"nested {row['nested_error']:+7.1%}  ({seconds:.1f} s)", flush=True)
    Path(__file__).with_name("first_order.json").write_text(json.dumps(rows, indent=1))
    print("\n| network | data | P | exact `terms[1]` | Wishart | nested |\n| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['case']} | {row['data']} | {row['P']} | {row['exact']:.4g} | {row['wishart_error']:+.1%} | "
              f"{row['nested_error']:+.1%} |")


if __name__ == "__main__":
    main()
