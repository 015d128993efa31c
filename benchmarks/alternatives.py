"""perturbo against the alternatives a theorist has, side by side in one process, as time ratios (issue 7).

    python benchmarks/alternatives.py [--quick] [--json FILE]

Every ratio is ``alternative time / perturbo time`` (above 1: perturbo is faster).

1. **Order-2 series versus Monte Carlo at the same accuracy.** Log evidence, ``L = 4``, ``P = 3``,
   ``beta = inf``, reference path. Deep linear network: the series error is known,
   ``err = |series - net.exact|``. Monte Carlo over finite networks (``net.monte_carlo``) has a
   standard error ``se ~ S^-1/2``, so a pilot run (``S0`` samples, standard error ``se0``, ``t0``
   seconds) gives ``S* = S0 (se0/err)^2`` samples and ``t* = t0 S*/S0`` seconds for ``se = err``.
   Runs with ``t*`` within the budget are made (``measured``), longer ones are extrapolated. The
   series error falls like ``N^-3`` while ``se0`` falls like ``N^-1/2`` and a sample costs ``~N``,
   so the ratio grows like ``N^6``. The cubic (``psi = -0.6``) has no exact answer: its error is measured
   against a long Monte Carlo run whose standard error is a tenth of ``|terms[2]|`` (perturbo's
   ``error_estimate``; the order-3 term would take 12 minutes to derive), so it is resolved only
   where it is above about three of those standard errors. ``|terms[2]|`` is shown for all rows.
2. **Order-4 series versus the Meijer-G closed form** (``meijer_g.py``) of the deep linear log evidence
   at ``beta = inf``, ``L = 4``, all with their relative error against ``net.exact`` (whose own grid
   quadrature is timed as well). The order-4 error falls like ``N^-5``. Two Meijer-G timings: plain
   ``mpmath.meijerg`` at 15 digits (what a theorist would call; it can be silently wrong) and the
   certified evaluation (checked against the Mellin-Barnes integral, digits raised until they agree).
3. **Numba local kernel versus sympy.lambdify** of the same expressions
   (``compiled_first_order.versus_lambdify``, cubic, ``M`` points).

Times are ``time.perf_counter`` seconds of warm calls (the best of three when a call takes under a
second). Derivation time is excluded: a first call derives the symbolic moments of the order (and
imports or compiles kernels); it is reported as ``first call`` and is not part of any ratio.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
import warnings
from collections.abc import Callable
from functools import partial
from typing import TypeVar

import mpmath
import numba
import numpy as np
import sympy as sp

import perturbo
from compiled_first_order import data, versus_lambdify
from meijer_g import deep_linear_log_evidence_meijer_g
from perturbo import ShapedMLP

R = TypeVar("R")
DEPTH = 4

SETTINGS = {
    "default": {
        "linear_widths": [32, 128, 512], "cubic_widths": [32, 128], "pilot": 20_000, "budget": 60.0,
        "order4": {1: [128, 512, 2048], 2: [128, 512]}, "lambdify_M": 400,
    },
    "quick": {
        "linear_widths": [32, 128], "cubic_widths": [], "pilot": 5_000, "budget": 3.0,
        "order4": {1: [128, 512]}, "lambdify_M": 400,
    },
}


def machine() -> dict:
    return {
        "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(), "python": platform.python_version(), "perturbo": perturbo.__version__,
        "numpy": np.__version__, "numba": numba.__version__, "sympy": sp.__version__, "mpmath": mpmath.__version__,
    }


def seconds(f: Callable[[], R]) -> tuple[R, float]:
    start = time.perf_counter()
    result = f()
    return result, time.perf_counter() - start


def timed(f: Callable[[], R]) -> tuple[R, float]:
    """Result and seconds of ``f()``: the best of three calls when one takes under a second, else one call."""
    result, best = seconds(f)
    if best < 1.0:
        best = min(best, *(seconds(f)[1] for _ in range(2)))
    return result, best


def samples_for(pilot: int, pilot_se: float, se: float) -> int:
    """``S = S0 (se0/se)^2``: a Monte Carlo standard error falls like ``S^-1/2``."""
    return max(100, math.ceil(pilot * (pilot_se / se) ** 2))


def series_versus_monte_carlo(psi: float, widths: list[int], pilot: int, budget: float, P: int = 3) -> dict:
    """Part 1 for one activation: order-2 series and Monte Carlo at the series' accuracy, per width.

    The series error is ``|series - net.exact|`` (deep linear) or ``|series - long Monte Carlo|`` with the
    long run's standard error a tenth of ``|terms[2]|`` (cubic).
    """
    X, y, _ = data(P, 0, P + 6)
    rows = []
    first_call = None
    for N in widths:
        net = ShapedMLP(DEPTH, N, psi=psi)
        series = partial(net.evidence, X, y, beta=math.inf, order=2)
        if first_call is None:
            first_call = seconds(series)[1]
        ev, t_series = timed(series)
        run, t0 = timed(partial(net.monte_carlo, X, y, beta=math.inf, samples=pilot, seed=1))
        row = {"N": N, "series_seconds": t_series, "last_term": ev.error_estimate, "pilot_se": run.log_evidence_se}
        if psi == 0:
            reference = net.exact(X, y).log_evidence
        else:
            long_samples = samples_for(pilot, run.log_evidence_se, ev.error_estimate / 10)
            long = net.monte_carlo(X, y, beta=math.inf, samples=long_samples, seed=3)
            reference, row["reference_se"] = long.log_evidence, long.log_evidence_se
        row["series_error"] = abs(ev.log_evidence - reference)
        needed = samples_for(pilot, run.log_evidence_se, row["series_error"])
        row |= {"samples": needed, "seconds": t0 * needed / pilot, "measured": False}
        if row["seconds"] <= budget:
            run, row["seconds"] = timed(partial(net.monte_carlo, X, y, beta=math.inf, samples=needed, seed=2))
            row |= {"measured": True, "se": run.log_evidence_se}
        row["ratio"] = row["seconds"] / t_series
        rows.append(row)
        print(f"  psi={psi:+.1f} N={N:5d}: series {t_series:.3f} s, error {row['series_error']:.2e}; Monte Carlo "
              f"{needed:.3g} samples {row['seconds']:.3g} s ({'measured' if row['measured'] else 'extrapolated'})",
              flush=True)
    growth = float(np.polyfit(np.log(widths), np.log([r["ratio"] for r in rows]), 1)[0]) if len(rows) > 1 else None
    return {"psi": psi, "P": P, "first_call_seconds": first_call, "rows": rows, "ratio_exponent_in_N": growth}


def meijer_g_or_nan(K: np.ndarray, y: np.ndarray, widths: list[int], certify: bool) -> float:
    try:
        return deep_linear_log_evidence_meijer_g(K, y, widths, certify=certify)
    except ValueError:  # plain mpmath.meijerg did not converge or returned G <= 0
        return math.nan


def series_versus_meijer_g(cases: dict[int, list[int]]) -> dict:
    """Part 2: order-4 series, Meijer G (plain and certified) and the grid quadrature ``net.exact``;
    relative errors against the last."""
    rows = []
    first_call = None
    for P, widths in cases.items():
        X, y, _ = data(P, 0, P + 6)
        for N in widths:
            net = ShapedMLP(DEPTH, N)
            series = partial(net.evidence, X, y, beta=math.inf, order=4)
            if first_call is None:
                first_call = seconds(series)[1]
            ev, t_series = timed(series)
            exact, t_exact = timed(partial(net.exact, X, y))
            exact = exact.log_evidence
            row = {"P": P, "N": N, "series_seconds": t_series, "converging": bool(ev.converging),
                   "series_rel_error": abs(ev.log_evidence - exact) / abs(exact), "exact_seconds": t_exact}
            for name, certify in (("plain", False), ("certified", True)):
                value, t = timed(partial(meijer_g_or_nan, net.kernels(X)[-1], y, net.widths, certify))
                row |= {f"{name}_seconds": t, f"{name}_rel_error": abs(value - exact) / abs(exact),
                        f"{name}_ratio": t / t_series}
            rows.append(row)
            print(f"  P={P} N={N:5d}: series {t_series:.3f} s, Meijer G {row['plain_seconds']:.3f} s plain, "
                  f"{row['certified_seconds']:.3f} s certified", flush=True)
    return {"first_call_seconds": first_call, "rows": rows}


def table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """Rows as an aligned text table; ``columns`` are (header, key, format spec)."""
    cells = [[header for header, _, _ in columns]]
    cells += [[format(row[key], spec) if row.get(key) is not None else "-" for _, key, spec in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  " + "  ".join(c.rjust(w) for c, w in zip(line, widths)) for line in cells)


MONTE_CARLO_COLUMNS = [
    ("N", "N", "d"), ("series s", "series_seconds", ".3f"), ("series error", "series_error", ".2e"),
    ("(its se)", "reference_se", ".1e"), ("|terms[2]|", "last_term", ".2e"),
    ("MC pilot se", "pilot_se", ".2e"), ("MC samples S*", "samples", ".3g"), ("MC s", "seconds", ".3g"),
    ("measured", "measured", ""), ("MC se", "se", ".2e"), ("MC/series", "ratio", ".3g"),
]
MEIJER_COLUMNS = [
    ("P", "P", "d"), ("N", "N", "d"), ("series s", "series_seconds", ".3f"), ("series err", "series_rel_error", ".1e"),
    ("conv.", "converging", ""), ("meijerg s", "plain_seconds", ".3f"), ("meijerg err", "plain_rel_error", ".1e"),
    ("certified s", "certified_seconds", ".3f"), ("certified err", "certified_rel_error", ".1e"),
    ("net.exact s", "exact_seconds", ".4f"), ("meijerg/series", "plain_ratio", ".3g"),
    ("certified/series", "certified_ratio", ".3g"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer widths and cases (under a minute)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    settings = SETTINGS["quick" if args.quick else "default"]
    warnings.filterwarnings("ignore", message="the 1/N series", category=RuntimeWarning)  # tabulated as "conv."
    results = {"machine": machine(), "settings": settings}
    print("\n".join(f"{k}: {v}" for k, v in results["machine"].items()), flush=True)

    print(f"\n1. order-2 log evidence vs Monte Carlo at the same accuracy (L = {DEPTH}, P = 3, beta = inf)", flush=True)
    results["monte_carlo"] = [
        series_versus_monte_carlo(psi, settings[key], settings["pilot"], settings["budget"])
        for psi, key in ((0.0, "linear_widths"), (-0.6, "cubic_widths")) if settings[key]
    ]
    print(f"\n2. deep linear order-4 log evidence vs Meijer G (mpmath) (L = {DEPTH}, beta = inf)", flush=True)
    results["meijer_g"] = series_versus_meijer_g(settings["order4"])
    print(f"\n3. Numba local kernel vs sympy.lambdify (cubic, M = {settings['lambdify_M']})", flush=True)
    results["lambdify"] = versus_lambdify(settings["lambdify_M"])

    for part in results["monte_carlo"]:
        accuracy = "|series - net.exact|" if part["psi"] == 0 else "|series - long Monte Carlo| (that run's se: '(its se)')"
        print(f"\nSeries vs Monte Carlo, psi = {part['psi']}, series accuracy = {accuracy}; first call (derivation) "
              f"{part['first_call_seconds']:.2f} s excluded; MC S* from a {settings['pilot']}-sample pilot")
        print(table(part["rows"], MONTE_CARLO_COLUMNS))
        if part["ratio_exponent_in_N"] is not None:
            print(f"  MC/series grows like N^{part['ratio_exponent_in_N']:.1f}")
    print(f"\nOrder-4 series vs Meijer G (meijerg: mpmath.meijerg at 15 digits; certified: checked against the "
          f"Mellin-Barnes integral, digits raised until they agree); errors relative to net.exact; "
          f"first call (derivation) "
          f"{results['meijer_g']['first_call_seconds']:.2f} s excluded")
    print(table(results["meijer_g"]["rows"], MEIJER_COLUMNS))
    lam = results["lambdify"]
    print(f"\nNumba vs lambdify, M = {lam['M']}: Numba {lam['numba'] * 1e3:.2f} ms, "
          f"lambdify {lam['lambdify'] * 1e3:.2f} ms, "
          f"lambdify/Numba = {lam['ratio']:.2f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1, default=float)


if __name__ == "__main__":
    main()
