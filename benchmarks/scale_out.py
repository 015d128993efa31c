"""Benchmark of the sampled estimator on Dask (issue 26).

    python benchmarks/scale_out.py [--samples S] [--P P]            # scaling over workers
    python benchmarks/scale_out.py --per-sample 500 1000 [--baseline DIR]   # seconds per sample, single thread
    python benchmarks/scale_out.py --target 500 --samples 36 [--workers 2]   # relative error reached, and time

Scaling: the order-2 estimate of the log evidence on digits 0 vs 1 (cubic psi = -0.6, L = 10, N = 1000,
noise variance 1, ``P`` training points, ``S`` samples per pattern), in one run: in this process (NumPy with
this machine's BLAS threads), and on a local cluster of 1 and of 2 single-threaded worker processes (started
before the clock runs); wall times, the speed-up of 2 workers over 1, whether the answers are bit-identical.

Per sample: the seconds one sample of all 75 order-2 patterns takes at each ``P`` (digits even vs odd, one BLAS
thread), in a fresh process for this tree and for the perturbo tree at ``DIR`` (say, a git worktree of an
earlier commit), side by side: the cost the plan in the README extrapolates from, and the ratio to before.

Target: order 2 at ``P`` (digits even vs odd or ``--data gaussian``, the rest as above) with ``S`` samples on ``workers`` local workers:
the wall time, term 2 and its relative standard error, and the samples and time 10% would take (the error
falls like ``S^-1/2``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

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


PER_SAMPLE = """
import time
from perturbo import ShapedMLP
from perturbo.datasets import digits
X, y, _, _ = digits(classes="even-odd", n_train={P}, n_test=1, seed=0)
net = ShapedMLP(10, 1000, psi=-0.6)
net.evidence(X[:8], y[:8], beta=8.0, order=2, method="sampled", samples=2)  # imports and compilation untimed
start = time.perf_counter()
net.evidence(X, y, beta={P}.0, order=2, method="sampled", samples={S}, seed=0)
print((time.perf_counter() - start) / {S})
"""


def per_sample(points: list[int], samples: int, baseline: str | None) -> dict:
    """Seconds per sample in fresh single-threaded processes, this tree and the ``baseline`` tree."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    trees = {"this tree": str(Path(__file__).resolve().parents[1])}
    if baseline:
        trees["baseline"] = str(Path(baseline).resolve())
    out = {}
    for P in points:
        row = {}
        for name, tree in trees.items():
            code = PER_SAMPLE.format(P=P, S=samples)
            done = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True,
                                  env={**env, "PYTHONPATH": tree}, cwd=tree, check=True)  # cwd: '' leads sys.path
            row[name] = float(done.stdout.split()[-1])
        if baseline:
            row["ratio"] = row["baseline"] / row["this tree"]
        out[P] = row
        print(P, row, flush=True)
    if len(points) > 1:
        for name in trees:
            slope = np.polyfit(np.log(points), np.log([out[P][name] for P in points]), 1)[0]
            out[f"exponent in M, {name}"] = float(slope)
    return out


def target(P: int, samples: int, workers: int, data: str) -> dict:
    if data == "gaussian":  # the inputs of benchmarks/sampled.py: P + 5 dimensions, targets N(0, 1)
        rng = np.random.default_rng(0)
        X, y = rng.standard_normal((P, P + 5)), rng.standard_normal(P)
    else:
        X, y, _, _ = digits(classes="even-odd", n_train=P, n_test=1, seed=0)
    net = ShapedMLP(10, 1000, psi=-0.6)
    net.evidence(X[:8], y[:8], beta=8.0, order=1, method="sampled", samples=2 * workers, workers=workers)
    forget_draws()
    start = time.perf_counter()
    ev = net.evidence(X, y, beta=float(P), order=2, method="sampled", samples=samples, seed=0, workers=workers)
    seconds = time.perf_counter() - start
    relative = float(ev.terms_se[2] / abs(ev.terms[2]))
    needed = samples * (relative / 0.10) ** 2
    return {"P": P, "data": data, "samples": samples, "workers": workers, "seconds": seconds, "term_2": float(ev.terms[2]),
            "term_2_se": float(ev.terms_se[2]), "relative_se": relative, "samples_for_10%": needed,
            "seconds_for_10%": seconds * needed / samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--P", type=int, default=200)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--per-sample", type=int, nargs="+", metavar="P", help="seconds per sample at these P")
    parser.add_argument("--baseline", help="another perturbo tree to time beside this one (--per-sample)")
    parser.add_argument("--target", type=int, metavar="P", help="order 2 at this P with --samples on --workers")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data", choices=["digits", "gaussian"], default="digits",
                        help="--target: digits even vs odd, or Gaussian inputs in P + 5 dimensions")
    args = parser.parse_args()
    if args.target:
        print(json.dumps(target(args.target, args.samples, args.workers, args.data), indent=2))
    elif args.per_sample:
        print(json.dumps(per_sample(args.per_sample, 2, args.baseline), indent=2))
    else:
        print(json.dumps(run(args.P, args.samples), indent=2))


if __name__ == "__main__":
    main()
