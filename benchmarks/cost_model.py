"""The compiler's cost model against measured time and memory (issue 25). Run: python benchmarks/cost_model.py [--quick]

For each lowering and a range of sizes, the plan's estimate (``perturbo.compiler.plan``: seconds and bytes) next to
measured ``compiler.moments`` calls (wall seconds, warm; then, in another call, the peak traced NumPy memory:
tracing slows Python code several times, so it is never timed), with the ratio measured / estimated. A cost model
is useful when the ratio is steady across sizes (it ranks plans and warns before a long run) and within a small
factor of one (it refuses what does not fit).
"""
from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
import sympy as sp

from perturbo import ShapedMLP
from perturbo.compiler import moments, plan
from perturbo.problem import Problem
from perturbo.runtime.gp_posterior import noise_variance

CASES = {  # label -> (activation, order, lowering, depth, sizes P (T = 2))
    "cubic order 1, dense": (None, 1, "dense", 6, [4, 8, 12, 16]),
    "cubic order 1, factored": (None, 1, "factored", 6, [16, 32, 64, 128, 256]),
    "degree 7 order 1, factored": ("0.0013*t**7 - 0.011*t**5 - 0.31*t**3 - 0.1*t**2", 1, "factored", 6, [16, 32, 64]),
    "cubic order 2, dense": (None, 2, "dense", 6, [4, 6, 8, 10]),
    "degree 7 order 2, dense": ("0.0013*t**7 - 0.011*t**5 - 0.31*t**3 - 0.1*t**2", 2, "dense", 6, [4, 6, 8]),
    "cubic order 3, dense": (None, 3, "dense", 6, [2, 3, 4]),
    "linear order 3, scale": ("0", 3, "scale", 6, [100, 200, 400, 800]),
}


def problem(activation: str | None, order: int, lowering: str, depth: int, P: int, T: int = 2) -> Problem:
    net = ShapedMLP(depth=depth, width=100, psi=-0.6, activation=activation)
    rng = np.random.default_rng(P)
    X = rng.normal(size=(P + T, P + T + 5))
    X *= 0.8 / np.sqrt((X**2).mean(axis=1, keepdims=True))
    return Problem(net.activation.phi, sp.Integer(1), net.kernels(X), P, rng.normal(size=P), noise_variance(P, float(P)),
                   net.widths, order, lowering)


def measure(pr: Problem) -> tuple[float, float]:
    """Seconds of one warm ``compiler.moments`` call (the first call compiles) and, from a third call, its peak
    traced bytes."""
    moments(pr)
    start = time.perf_counter()
    moments(pr)
    seconds = time.perf_counter() - start
    tracemalloc.start()
    moments(pr)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, float(peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the two smallest sizes of each case")
    parser.add_argument("--only", help="the cases whose label contains this text (e.g. factored)")
    args = parser.parse_args()
    for label, (activation, order, lowering, depth, sizes) in CASES.items():
        if args.only and args.only not in label:
            continue
        print(f"\n{label} (L = {depth}, T = 2)")
        print(f"{'P':>5} {'estimated s':>12} {'measured s':>11} {'ratio':>7} {'estimated MB':>13} {'peak MB':>9} {'ratio':>7}")
        for P in sizes[:2] if args.quick else sizes:
            pr = problem(activation, order, lowering, depth, P)
            chosen = plan(pr)
            assert chosen.lowering == lowering
            seconds, peak = measure(pr)
            print(f"{P:>5} {chosen.seconds:>12.3g} {seconds:>11.3g} {seconds / chosen.seconds:>7.2f} "
                  f"{chosen.memory / 1e6:>13.3g} {peak / 1e6:>9.3g} {peak / chosen.memory:>7.2f}")


if __name__ == "__main__":
    main()
