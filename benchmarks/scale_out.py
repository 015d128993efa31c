"""Benchmark of the sampled estimator on Dask (issue 26). Run: python benchmarks/scale_out.py [--samples S] [--P P]

The order-2 estimate of the log evidence on digits 0 vs 1 (cubic psi = -0.6, L = 10, N = 1000, noise
variance 1, ``P`` training points, ``S`` samples per pattern), in one run:

- in this process (today's code path: NumPy with this machine's BLAS threads),
- on a local cluster of 1 and of 2 single-threaded worker processes (started before the clock runs),

with the wall times, the speed-up of 2 workers over 1, whether the three answers are bit-identical, and the
seconds per sample (all 75 order-2 patterns) that the plan in the README extrapolates from.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from perturbo import ShapedMLP
from perturbo.datasets import digits
from perturbo.sampled.estimator import forget_draws


def run(P: int, samples: int) -> dict:
    X, y, _, _ = digits(classes=(0, 1), n_train=P, n_test=10, seed=0)
    net = ShapedMLP(10, 1000, psi=-0.6)
    rows, answers = [], {}
    for workers in (None, 1, 2):
        # start-up not timed: the cluster, and perturbo imported on its workers
        net.evidence(X[:8], y[:8], beta=8, order=1, method="sampled", samples=2 * workers if workers else 2,
                     workers=workers)
        forget_draws()
        start = time.perf_counter()
        ev = net.evidence(X, y, beta=P, order=2, method="sampled", samples=samples, seed=0, workers=workers)
        seconds = time.perf_counter() - start
        answers[workers] = ev
        rows.append({"workers": workers or "serial", "seconds": seconds, "seconds_per_sample": seconds / samples,
                     "term_2": ev.terms[2], "term_2_se": ev.terms_se[2]})
        print(rows[-1], flush=True)
    one, two, serial = answers[1], answers[2], answers[None]
    return {"P": P, "samples": samples, "rows": rows, "speedup_2_over_1": rows[1]["seconds"] / rows[2]["seconds"],
            "speedup_2_over_serial": rows[0]["seconds"] / rows[2]["seconds"],
            "bit_identical_1_and_2_workers": bool(np.array_equal(one.terms, two.terms)
                                                  and np.array_equal(one.terms_se, two.terms_se)),
            "serial_relative_difference": float(np.max(np.abs(serial.terms - two.terms) / np.abs(two.terms)))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--P", type=int, default=200)
    parser.add_argument("--samples", type=int, default=16)
    args = parser.parse_args()
    print(json.dumps(run(args.P, args.samples), indent=2))


if __name__ == "__main__":
    main()
