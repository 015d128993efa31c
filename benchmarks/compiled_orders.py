"""Benchmarks of the compiled backend at every order (issue 15). Run: python benchmarks/compiled_orders.py [--quick]

Every timing is one ``evidence`` plus one ``predict`` (``T`` test points), in seconds, warm (the order's
terms derived and compiled earlier in the process) unless marked cold; in the same process as the
reference path where that can run, and reported as ratios.

1. linear maps (``psi = 0``): equal and unequal widths, ``beta = inf`` and finite, orders 1-4, ``L = 10``,
   ``T = 10``, ``P = 125 .. 1000``; the first call of each order in the process includes its derivation;
2. the default cubic (``psi = -0.6``) and ``0.5 t^2 - 0.3 t^3``, orders 1 and 2, ``L = 6``, ``T = 2``, ``P`` from
   4 upwards until a run takes a minute; fitted exponents of time against ``M = P + T``;
   and the cubic's first order at ``L = 10``, ``T = 10``, ``P = 100, 200`` (issue 4's sizes);
3. cold start (``cold_start``): the cubic at orders 1-3 and a degree-7 shaping at orders 1-2, each lowering
   (dense with tables or printed kernels, factored), in fresh processes: nothing compiled, a new activation, all
   cached.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from perturbo import ShapedMLP

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test suite's oracles
from tests.oracle import pullback  # noqa: E402

MINUTE = 60.0


def data(P: int, T: int, seed: int = 0):
    """Inputs with ``|x|^2 / N0 = 0.64`` and ``N0 = P + T + 5`` (zero temperature needs ``P < N0``)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(P + T, P + T + 5))
    X *= 0.8 / np.sqrt((X**2).mean(axis=1, keepdims=True))
    return X[:P], rng.normal(size=P), X[P:]


def run(net: ShapedMLP, P: int, T: int, beta: float | None, order: int, oracle: bool = False) -> float | str:
    """Seconds of evidence + predict (or the pull-back oracle's series), or the refusal's message; ``beta=None``:
    ``beta = P`` (noise variance 1)."""
    beta = float(P) if beta is None else beta
    X, y, Xt = data(P, T)
    start = time.perf_counter()
    try:
        if oracle:
            pullback.series(net, X, y, Xt, beta, order)
        else:
            net.evidence(X, y, beta=beta, order=order)
            net.predict(X, y, Xt, beta=beta, order=order)
    except ValueError as error:
        return f"refused: {error}"
    return time.perf_counter() - start


def exponent(sizes, seconds) -> float | None:
    pairs = [(s, t) for s, t in zip(sizes, seconds) if isinstance(t, float)]
    if len(pairs) < 2:
        return None
    return float(np.polyfit(np.log([p[0] for p in pairs]), np.log([p[1] for p in pairs]), 1)[0])


def show(label: str, value) -> None:
    text = f"{value:9.3f} s" if isinstance(value, float) else value[:110]
    print(f"  {label:58s} {text}", flush=True)


def linear(sizes: list[int], orders: list[int]) -> dict:
    out = {}
    widths = {"equal": 100, "unequal": [60, 80, 100, 120, 140, 160, 140, 120, 100, 80]}
    for name, width in widths.items():
        net = ShapedMLP(depth=10, width=width)
        for beta in (math.inf, None):
            for order in orders:
                key = f"{name} widths, {'beta=inf' if beta else 'beta=P'}, order {order}"
                first = (name, beta) == ("equal", math.inf)
                rows = {f"first call in the process, P={sizes[0]}": run(net, sizes[0], 10, beta, order)} if first else {}
                rows.update({P: run(net, P, 10, beta, order) for P in sizes})
                for P, seconds in rows.items():
                    show(f"{key}, {P if isinstance(P, str) else f'P={P}'}", seconds)
                rows["exponent"] = exponent(sizes, [rows[P] for P in sizes])
                out[key] = rows
    net = ShapedMLP(depth=10, width=100)
    for order in orders[:3]:  # the reference path, where it runs in minutes: P = 3, T = 2 (order 3: P = 2, T = 1)
        P, T = (3, 2) if order < 3 else (2, 1)
        reference = run(net, P, T, None, order, oracle=True)
        compiled = run(net, P, T, None, order)
        out[f"reference versus compiled, P={P}, T={T}, order {order}"] = {
            "reference": reference, "compiled": compiled,
            "ratio": reference / compiled if isinstance(reference, float) and isinstance(compiled, float) else None,
        }
        show(f"order {order} at P={P}, T={T}: reference {reference:.3g} s, compiled", compiled)
    return out


def shaped(orders: list[int], quick: bool) -> dict:
    out = {}
    sizes = {1: [4, 8, 16, 32, 64, 128, 256], 2: [4, 6, 8, 10, 12, 14]}
    for psi, activation in ((-0.6, None), (0.0, "0.5*t**2 - 0.3*t**3")):
        net = ShapedMLP(depth=6, width=100, psi=psi, activation=activation)
        for order in orders:
            key = f"{activation or 'cubic psi=-0.6'}, order {order}"
            rows = {"first call in the process, P=4": run(net, 4, 2, None, order)}
            if order == 1:  # the factored lowering (from 12 points) generates its module on its first call
                rows["first factored call (module generated or loaded), P=16"] = run(net, 16, 2, None, order)
            for P in sizes[order][: 3 if quick else None]:
                rows[P] = run(net, P, 2, None, order)
                show(f"{key}, P={P}", rows[P])
                if not isinstance(rows[P], float) or rows[P] > MINUTE:
                    break
            measured = [P for P in rows if isinstance(P, int)]
            rows["exponent_in_M"] = exponent([P + 2 for P in measured[-3:]], [rows[P] for P in measured[-3:]])
            reference = run(net, 4, 2, None, order, oracle=True)
            rows["reference_P4"] = reference
            rows["ratio_P4"] = reference / rows[4] if isinstance(reference, float) else None
            show(f"{key}, reference at P=4 (ratio {rows['ratio_P4']:.3g})", reference)
            out[key] = rows
    return out


def first_order_as_before() -> dict:
    """The cubic's first order at issue 4's size (``L = 10``, ``T = 10``, ``P = 100, 200``): no slower than then."""
    net = ShapedMLP(depth=10, width=100, psi=-0.6)
    run(net, 12, 2, None, 1)
    out = {P: run(net, P, 10, None, 1) for P in (100, 200)}
    for P, seconds in out.items():
        show(f"cubic order 1, L=10, T=10, P={P}", seconds)
    return out


COLD = """
import json, sys, time
start = time.perf_counter()
import numpy as np
from perturbo import ShapedMLP
from perturbo.compiler import program
activation, order, P = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
X, Xt = rng.normal(size=(P, 6)) * 0.3, rng.normal(size=(1, 6)) * 0.3
y = np.sin(X[:, 0])
net = ShapedMLP(depth=6, width=100, activation=activation)
net.evidence(X, y, beta=3.0, order=order)
net.predict(X, y, Xt, beta=3.0, order=order)
print(json.dumps({"seconds": time.perf_counter() - start, "plan": program(activation, order).plan(P + 1, 6).describe()}))
"""
DEGREE_7 = "0.0013*t**7 - 0.011*t**5 - 0.31*t**3 - 0.1*t**2"
COLD_CASES = [  # (name, activation, another activation of the same degree, order, P)
    ("cubic", "-0.2*t**3", "-0.21*t**3", 1, 3),
    ("cubic", "-0.2*t**3", "-0.21*t**3", 1, 12),
    ("cubic", "-0.2*t**3", "-0.21*t**3", 2, 10),
    ("cubic", "-0.2*t**3", "-0.21*t**3", 3, 3),
    ("degree 7", DEGREE_7, DEGREE_7.replace("0.0013", "0.0012"), 1, 12),
    ("degree 7", DEGREE_7, DEGREE_7.replace("0.0013", "0.0012"), 2, 9),
]


def cold_start(quick: bool) -> dict:
    """Per case, three fresh processes sharing one empty cache (evidence + predict, ``L = 6``, ``T = 1``): the
    first compiles everything (a machine that has run nothing); the second finds it all cached; the third runs
    another activation of the same degree with perturbo's runtime compiled: its derivation and (factored) its
    generated module are new, while printed dense kernels (where the plan prints) are keyed by term structure and
    shared."""
    out = {}
    for name, activation, other, order, P in COLD_CASES[:3] if quick else COLD_CASES:
        with tempfile.TemporaryDirectory() as directory:
            env = dict(os.environ, PERTURBO_CACHE_DIR=f"{directory}/perturbo", NUMBA_CACHE_DIR=f"{directory}/numba")
            runs = [json.loads(subprocess.run([sys.executable, "-c", COLD, shaping, str(order), str(P)], env=env,
                                              capture_output=True, text=True, check=True).stdout)
                    for shaping in (activation, activation, other)]
        seconds = [r["seconds"] for r in runs]
        key = f"{name} order {order} P={P}"
        out[key] = {"plan": runs[0]["plan"], "cold": seconds[0], "cached": seconds[1], "new_activation": seconds[2]}
        print(f"  {key} ({runs[0]['plan']}): nothing compiled {seconds[0]:.3g} s, new activation {seconds[2]:.3g} s, "
              f"cached {seconds[1]:.3g} s", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes, orders 1-2 (about two minutes)")
    parser.add_argument("--only", choices=["linear", "shaped", "cold"], action="append")
    args = parser.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)  # convergence notes: these are timings
    sections = args.only or ["linear", "shaped", "cold"]
    results = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"}
    if "linear" in sections:
        print("linear maps, L = 10, T = 10:")
        results["linear"] = linear([25, 50] if args.quick else [125, 250, 500, 1000], [1, 2] if args.quick else [1, 2, 3, 4])
    if "shaped" in sections:
        print("shaped, L = 6, T = 2, beta = P:")
        results["shaped"] = shaped([1, 2], args.quick)
        if not args.quick:
            results["first_order_as_before"] = first_order_as_before()
    if "cold" in sections:
        print("cold start, L = 6, T = 1:")
        results["cold"] = cold_start(args.quick)
    print(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
