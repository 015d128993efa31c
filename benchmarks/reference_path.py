"""How large a dataset the pull-back oracle (``tests/oracle/pullback``, the former ``backend="reference"``, pure
Python/NumPy) handles, per order.

Times ``evidence`` + ``predict`` (one test point) for a depth-4 network, growing the
number of training points ``P`` at each order until one evaluation takes over a
minute; prints a table and the fitted exponent of time in ``P``. Symbolic moments are
derived once before timing (``derive`` column: first call, cold).

    python benchmarks/reference_path.py [--budget 60]
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

from perturbo import ShapedMLP

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test suite's oracles
from tests.oracle import pullback  # noqa: E402


def one_run(net: ShapedMLP, P: int, order: int) -> float:
    rng = np.random.default_rng(P)
    X = rng.normal(size=(P + 1, 2 * P + 4)) * 0.8
    y = rng.normal(size=P)
    start = time.perf_counter()
    pullback.series(net, X[:P], y, X[P:], 4.0, order)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per evaluation before stopping")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    for label, psi, orders in [("cubic psi=-0.6", -0.6, (1, 2)), ("linear", 0.0, (1, 2, 3))]:
        net = ShapedMLP(depth=4, width=64, psi=psi)
        for order in orders:
            cold = one_run(net, 2, order)
            sizes, times = [], []
            for P in range(2, 40):
                seconds = one_run(net, P, order)
                sizes.append(P)
                times.append(seconds)
                print(f"{label:15s} order {order}  P = {P:3d}  {seconds:8.2f} s", flush=True)
                if seconds > args.budget:
                    break
            fit = np.polyfit(np.log(sizes[-4:]), np.log(times[-4:]), 1)[0] if len(sizes) >= 4 else float("nan")
            within = max((p for p, s in zip(sizes, times) if s <= args.budget), default=None)
            print(f"==> {label}, order {order}: cold start {cold:.1f} s; largest P within {args.budget:.0f} s: "
                  f"{within}; time ~ P^{fit:.1f} at the largest sizes\n", flush=True)


if __name__ == "__main__":
    main()
