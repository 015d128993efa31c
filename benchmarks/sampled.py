"""Benchmarks of the sampled estimator (issue 18). Run: python benchmarks/sampled.py [--quick] [--exact-500]

1. agreement with the exact terms and the standard error against the number of samples (fitted exponent);
2. per-sample relative spread of the order-1 coefficient, cubic psi = -0.6, L = 4, P = 40 and 100, noise
   variance 1, 0.1 and 0 (beta = inf), plain against the control variate;
3. acceptance runs, cubic psi = -0.6, L = 10, noise variance 1: order 1 at P = 500 (relative standard
   error and time; the exact compiled order 1 timed at smaller P and fitted, or at P = 500 with
   ``--exact-500``), order 2 at P = 100; the same budgets at noise variance 0.1 and beta = inf;
4. common random numbers: a sweep over widths from one set of draws;
5. against whole-network Monte Carlo: the time each needs to resolve the order-2 correction at N = 200 to
   3 standard errors (P = 6, L = 4, noise variance 1), as a ratio.
All in one process; the numbers go to the issue note.
"""
from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import sympy as sp

from perturbo import ShapedMLP
from perturbo.compiler import moments as compiled
from perturbo.problem import Problem
from perturbo.sampled.estimator import sampled_series


def problem(P: int, L: int, noise: float, order: int, width: int = 100, seed: int = 0) -> Problem:
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((P, P + 5)), rng.standard_normal(P)
    net = ShapedMLP(L, width, psi=-0.6)
    return Problem(net.activation.phi, sp.Rational(1), net.kernels(X), P, y, noise, net.widths, order)


def z_terms(series) -> tuple[np.ndarray, np.ndarray]:
    return series.statistic(lambda m: m.z)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def agreement_and_scaling(quick: bool) -> dict:
    pr = problem(8, 4, 1.0, 2)
    exact = compiled(pr).z
    rows = []
    for S in ([250, 1000] if quick else [250, 1000, 4000]):
        value, se = z_terms(sampled_series(pr, S, 1, show_progress=False))
        rows.append({"samples": S, "dev_over_se": ((value[1:] - exact[1:]) / se[1:]).tolist(), "se": se[1:].tolist()})
        print(f"  S={S:5d}: (est - exact)/se = {np.round(rows[-1]['dev_over_se'], 2)}, se = {se[1:]}", flush=True)
    S = [r["samples"] for r in rows]
    slopes = [float(np.polyfit(np.log(S), np.log([r["se"][k] for r in rows]), 1)[0]) for k in range(2)]
    print(f"  fitted se ~ samples^a: a = {np.round(slopes, 3)} (terms 1, 2)")
    return {"rows": rows, "exponents": slopes}


def spread_table(quick: bool) -> list[dict]:
    rows = []
    for P in ([40] if quick else [40, 100]):
        for noise in (1.0, 0.1, 0.0):
            pr = problem(P, 4, noise, 1)
            exact = compiled(pr).z[1]
            for control in (False, True):
                S = 400
                series, seconds = timed(lambda: sampled_series(pr, S, 0, control=control, show_progress=False))
                value, se = z_terms(series)
                spread = se[1] * math.sqrt(S) / abs(exact)
                rows.append({"P": P, "noise": noise, "control": control, "spread": spread,
                             "dev_over_se": (value[1] - exact) / se[1], "seconds": seconds})
                print(f"  P={P:3d} noise={noise:3.1f} control={control!s:5}: per-sample relative spread {spread:6.3f},"
                      f" (est - exact)/se {rows[-1]['dev_over_se']:+.2f}, {seconds:.1f} s", flush=True)
    return rows


def exact_first_order_times(sizes: list[int]) -> dict:
    rows = []
    for P in sizes:
        pr = problem(P, 10, 1.0, 1)
        _, seconds = timed(lambda: compiled(pr))
        rows.append((P, seconds))
        print(f"  exact order 1, P={P}: {seconds:.1f} s", flush=True)
    exponent = float(np.polyfit(np.log([r[0] for r in rows]), np.log([r[1] for r in rows]), 1)[0])
    return {"rows": rows, "exponent": exponent}


NOISES = ((1.0, "noise 1"), (0.1, "noise 0.1"), (0.0, "beta = inf"))


def sampled_runs(P: int, order: int, samples: int) -> dict:
    """The order-``order`` term at ``P`` points, L = 10, for each noise: value, relative se, seconds."""
    out = {}
    for noise, label in NOISES:
        series, seconds = timed(lambda: sampled_series(problem(P, 10, noise, order), samples, 0, show_progress=False))
        value, se = z_terms(series)
        rel = se[1:] / np.abs(value[1:])
        out[f"order {order}, P={P}, {label}"] = {"samples": samples, "terms": value[1:].tolist(),
                                                  "rel_se": rel.tolist(), "seconds": seconds}
        print(f"  order {order}, P={P}, {label}: terms {np.array2string(value[1:], precision=4)}, relative se"
              f" {np.array2string(rel, precision=4)}, {samples} samples, {seconds:.0f} s", flush=True)
    return out


def acceptance(quick: bool, exact_500: bool) -> dict:
    big = 200 if quick else 500
    out = sampled_runs(big, 1, 60 if quick else 200)
    fit = exact_first_order_times([60, 100, 150] if quick else [100, 150, 200, 300])
    out["exact order 1 fit"] = fit
    P_last, t_last = fit["rows"][-1]
    out["exact order 1 extrapolated to P=%d" % big] = t_last * (big / P_last) ** fit["exponent"]
    print(f"  exact order 1 at P={big}, extrapolated: {out['exact order 1 extrapolated to P=%d' % big]:.0f} s")
    if exact_500:
        _, seconds = timed(lambda: compiled(problem(500, 10, 1.0, 1)))
        out["exact order 1, P=500, measured"] = seconds
        print(f"  exact order 1 at P=500, measured: {seconds:.0f} s", flush=True)
    out.update(sampled_runs(100, 2, 40 if quick else 250))
    return out


def common_random_numbers() -> dict:
    rows = []
    for N in (50, 100, 200, 400):
        pr = problem(40, 4, 1.0, 2, width=N)
        series, seconds = timed(lambda: sampled_series(pr, 400, 0, show_progress=False))
        value, se = z_terms(series)
        rows.append({"N": N, "seconds": seconds, "terms": value[1:].tolist(), "se": se[1:].tolist()})
        print(f"  N={N:3d}: {seconds:6.2f} s, N term1 = {N * value[1]:.4f}, N^2 term2 = {N * N * value[2]:.4f}",
              flush=True)
    return {"rows": rows}


def against_monte_carlo(quick: bool) -> dict:
    P, L, N = 6, 4, 200
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((P, P + 5)), rng.standard_normal(P)
    net = ShapedMLP(L, N, psi=-0.6)
    beta = float(P)  # noise variance 1
    exact = net.evidence(X, y, beta, order=2)
    target = abs(exact.terms[2]) / 3.0
    S_mc = 20_000 if quick else 200_000
    mc, mc_seconds = timed(lambda: net.monte_carlo(X, y, beta=beta, samples=S_mc, seed=0))
    mc_needed = mc_seconds * (mc.log_evidence_se / target) ** 2
    S_sampled = 400 if quick else 2000
    ev, sampled_seconds = timed(lambda: net.evidence(X, y, beta, order=2, method="sampled", samples=S_sampled, seed=0))
    sampled_needed = sampled_seconds * (ev.terms_se[2] / target) ** 2
    print(f"  term 2 = {exact.terms[2]:.3g} (3 se target {target:.2g}); Monte Carlo se {mc.log_evidence_se:.2g} with"
          f" {S_mc} networks in {mc_seconds:.1f} s -> {mc_needed:.0f} s; sampled se {ev.terms_se[2]:.2g} with"
          f" {S_sampled} samples in {sampled_seconds:.1f} s -> {sampled_needed:.1f} s; ratio {mc_needed / sampled_needed:.0f}")
    return {"term2": exact.terms[2], "monte_carlo_seconds": mc_needed, "sampled_seconds": sampled_needed,
            "ratio": mc_needed / sampled_needed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--exact-500", action="store_true", help="also time the exact order 1 at P = 500 (~20 min)")
    args = parser.parse_args()
    results = {}
    print("1. agreement and standard-error scaling (P = 8, L = 4, noise 1)")
    results["scaling"] = agreement_and_scaling(args.quick)
    print("2. per-sample relative spread, order 1, L = 4")
    results["spread"] = spread_table(args.quick)
    print("3. acceptance (L = 10)")
    results["acceptance"] = acceptance(args.quick, args.exact_500)
    print("4. common random numbers across widths (P = 40, L = 4, order 2)")
    results["crn"] = common_random_numbers()
    print("5. against whole-network Monte Carlo (P = 6, L = 4, N = 200, noise 1)")
    results["monte_carlo"] = against_monte_carlo(args.quick)
    print(json.dumps(results, default=float, indent=1)[:2000])


if __name__ == "__main__":
    main()
