"""The dense read-out along the plan's shared pairwise steps against the networks contracted one by one (issue 25).
Run: python benchmarks/readout_plan.py [--quick]

For orders 1-3 and a few numbers of points ``M`` (two of them test points), on random cumulants of the last layer's
fluctuation (``tests/test_compiler.random_cumulants``: every row of ``kappa_1 .. kappa_(K + 1)`` at or above its
lowest filled but one):

- ``one by one``: ``runtime_terms.readout_moments`` without a plan, the path of 935550d: each network, partition of
  its letters and choice of power rows contracted through its own ``opt_einsum`` expression (planned on first use
  in a process: the ``first`` column), warm in the ``warm`` column;
- ``plan``: the same read-out along ``readout.plan_readout``'s steps: made once (``build``; kept on disk by
  ``readout.readout_plan``), then run (``warm``).

Also the counts that explain the ratio: contractions, the pairwise steps they would take one by one, and the plan's
distinct steps. Both results agree to 1e-12 (``tests/test_compiler.py``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import opt_einsum

from perturbo.compiler.readout import (OUTPUTS, ReadoutOperands, contraction_count, contractions, plan_readout,
                                       readout_networks)
from perturbo.compiler.runtime_terms import _expression, readout_moments

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test suite's data
from tests.test_compiler import random_cumulants  # noqa: E402

SIZES = {1: [6, 20, 40], 2: [6, 10, 14], 3: [4, 5, 7]}
QUICK = {1: [6], 2: [6], 3: [4]}


def unshared_steps(networks: dict, order: int) -> int:
    """The pairwise steps of every contraction taken on its own (one fewer than its arrays)."""
    return sum(len(net.operands) + len(tau) - 1 for _, net, tau, _ in contractions(networks, order, OUTPUTS))


def seconds(function) -> tuple[float, object]:
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(f"opt_einsum {opt_einsum.__version__}, numpy {np.__version__}")
    rng = np.random.default_rng(0)
    results = {}
    for order, sizes in (QUICK if args.quick else SIZES).items():
        networks = {degree: readout_networks(degree, 2 * order) for degree in range(2 * order + 1)}
        build, plan = seconds(lambda: plan_readout(networks, order))
        unshared, contractions = unshared_steps(networks, order), contraction_count(networks, order, OUTPUTS)
        print(f"order {order}: plan made in {build:.2f} s; {contractions} contractions, {unshared} pairwise steps one "
              f"by one, {len(plan.steps)} distinct ({unshared / len(plan.steps):.1f}x fewer)", flush=True)
        rows = {}
        for M in sizes:
            P = M - 2  # and two test points
            X = rng.normal(size=(M, 4))
            K, y, state = X @ X.T / 4 + 0.1 * np.eye(M), rng.normal(size=P), random_cumulants(rng, order, M)

            def run(plan_or_none):
                return readout_moments(ReadoutOperands(K, P, y, 0.3), state, order, plan_or_none)

            _expression.cache_clear()
            first, _ = seconds(lambda: run(None))
            warm, reference = seconds(lambda: run(None))
            run(plan)
            planned, value = seconds(lambda: run(plan))
            error = max(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), 1e-300)
                        for a, b in ((reference.z, value.z), (reference.zm, value.zm), (reference.zs, value.zs)))
            rows[M] = {"one_by_one_first": first, "one_by_one_warm": warm, "plan_warm": planned,
                       "ratio_warm": warm / planned, "ratio_first": first / (planned + build),
                       "relative_difference": error}
            print(f"  M={M:3d}: one by one {first:7.3f} s first, {warm:7.3f} s warm; plan {planned:7.3f} s warm "
                  f"({warm / planned:5.1f}x warm; first call with the plan made: {first / (planned + build):4.1f}x); "
                  f"relative difference {error:.1e}", flush=True)
        results[order] = {"build_seconds": build, "contractions": contractions, "unshared_steps": unshared,
                          "plan_steps": len(plan.steps), "rows": rows}
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
