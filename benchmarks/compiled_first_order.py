"""Benchmarks of the compiled first order (issues 4 and 25). Run: python benchmarks/compiled_first_order.py [--quick]

1. scaling: evidence + predictive (T = 10 test points), L = 10, time and peak memory against P,
   fitted exponents, for the deep linear network and the default cubic;
2. the factored lowering against ``--baseline`` (default: the last commit with the generated order-1 module), each
   in fresh processes from a temporary ``git worktree``, back to back: the cubic at ``L = 10``, ``T = 10``,
   ``P = 50, 100, 200`` and a degree-7 shaping at ``L = 6``; and its distance to the flop floor (its ``M^4``
   star products at this machine's BLAS speed, measured in the same run);
3. blocks: one layer's networks at 1 to 12 rows per block of a sliced loop (``factored.BLOCK_ROWS``);
4. compiled versus the reference path and the layer algebra's tables versus sympy.lambdify (ratios);
5. cold (derive + plan + Numba compile) versus warm (cached, a fresh process) start, order 1;
   the same for the reference path's moment tables at orders 2 and 3 (``--cubic-order-3`` adds the
   cubic at order 3, whose cold start is a Wick sum of degree 24: many minutes).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import sympy as sp

from perturbo import ShapedMLP

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test suite's oracles
from tests.oracle import pullback  # noqa: E402


def data(P: int, T: int, N0: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(P, N0)), rng.normal(size=P), rng.normal(size=(T, N0))


def first_order_run(net: ShapedMLP, P: int, T: int, backend: str = "compiled") -> tuple[float, float]:
    """Seconds and peak traced MB of order-1 evidence + predict (N0 = P + 5, finite beta)."""
    X, y, Xt = data(P, T, P + 5)
    start = time.perf_counter()
    net.evidence(X, y, beta=10.0, order=1, backend=backend)
    net.predict(X, y, Xt, beta=10.0, order=1, backend=backend)
    seconds = time.perf_counter() - start
    tracemalloc.start()  # a second, traced run for memory: tracing slows every Python call
    net.predict(X, y, Xt, beta=10.0, order=1, backend=backend)
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return seconds, peak


def exponent(sizes, values) -> float:
    return float(np.polyfit(np.log(sizes), np.log(values), 1)[0])


def scaling(psi: float, sizes: list[int]) -> dict:
    net = ShapedMLP(depth=10, width=100, psi=psi)
    first_order_run(net, 12, 2)  # warm: the factored plan derived or loaded, its loops compiled
    rows = [(P, *first_order_run(net, P, 10)) for P in sizes]
    for P, s, mb in rows:
        print(f"  psi={psi:+.1f} P={P:4d}: {s:8.3f} s  {mb:8.1f} MB", flush=True)
    tail = rows[-3:] if len(rows) >= 3 else rows
    return {
        "rows": rows,
        "time_exponent": exponent([r[0] for r in tail], [r[1] for r in tail]),
        "memory_exponent": exponent([r[0] for r in tail], [r[2] for r in tail]),
    }


def versus_reference(P: int) -> dict:
    net = ShapedMLP(depth=4, width=100, psi=-0.6)
    first_order_run(net, P, 1)  # warm: both lowerings' first call in the process
    X, y, Xt = data(P, 1, P + 5)
    out = {}
    start = time.perf_counter()
    net.evidence(X, y, beta=10.0, order=1)
    net.predict(X, y, Xt, beta=10.0, order=1)
    out["compiled"] = time.perf_counter() - start
    start = time.perf_counter()
    pullback.series(net, X, y, Xt, 10.0, order=1)
    out["reference"] = time.perf_counter() - start
    out["ratio"] = out["reference"] / out["compiled"]
    return out


BASELINE = "720ecd5"
"""The last commit whose factored first order ran the generated module (``codegen/printer.py``)."""
DEGREE_7 = "0.0013*t**7 - 0.011*t**5 - 0.31*t**3 - 0.1*t**2"

ONE_RUN = """
import json, resource, sys, time
import numpy as np, sympy as sp
from perturbo import ShapedMLP
activation, depth, P = (None if sys.argv[1] == "cubic" else sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
T = 10
net = ShapedMLP(depth=depth, width=100, psi=-0.6, activation=activation)
def problem(P):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(P + T, P + 5))
    return net.kernels(X), rng.normal(size=P)
try:
    from perturbo.compiler.factored import first_order_terms
    run = lambda kernels, y, P: first_order_terms(net.activation.phi, sp.Integer(1), kernels, P, y, 1.0, [100] * depth)
except ImportError:  # the baseline: the generated module
    from perturbo.codegen import first_order_module
    from perturbo.runtime.first_order import first_order_terms
    module = first_order_module(net.activation.phi, sp.Integer(1))
    run = lambda kernels, y, P: first_order_terms(module, kernels, P, y, 1.0, [100] * depth)
run(*problem(8), 8)  # warm: derived, planned, compiled
kernels, y = problem(P)
start = time.perf_counter()
terms = run(kernels, y, P)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "maxrss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "terms": {k: np.asarray(v).tolist() for k, v in terms.items()}}))
"""


def one_run(tree: Path, activation: str, depth: int, P: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run([sys.executable, "-c", ONE_RUN, activation, str(depth), str(P)], env=env, cwd=tree,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def against_baseline(commit: str, cases: list[tuple[str, int, int]]) -> dict:
    """Per ``(activation, depth, P)``: now and the baseline, each in a fresh process, back to back; their ratio and
    the largest relative difference of the three read-outs' first-order terms."""
    root = Path(__file__).resolve().parents[1]
    out = {}
    with tempfile.TemporaryDirectory() as directory:
        tree = Path(directory) / "baseline"
        subprocess.run(["git", "-C", str(root), "worktree", "add", "--detach", str(tree), commit], check=True,
                       capture_output=True)
        try:
            for activation, depth, P in cases:
                now, before = one_run(root, activation, depth, P), one_run(tree, activation, depth, P)
                difference = max(float(np.max(np.abs(np.subtract(now["terms"][k], before["terms"][k])))
                                       / np.max(np.abs(before["terms"][k]))) for k in now["terms"])
                key = f"{'cubic' if activation == 'cubic' else 'degree 7'} L={depth} P={P}"
                out[key] = {"now": now["seconds"], "baseline": before["seconds"],
                            "ratio": now["seconds"] / before["seconds"],
                            "maxrss_MB": [now["maxrss_MB"], before["maxrss_MB"]], "relative_difference": difference}
                print(f"  {key}: now {now['seconds']:.3g} s, {commit} {before['seconds']:.3g} s "
                      f"(now/before {now['seconds'] / before['seconds']:.2f}), RSS {now['maxrss_MB']:.0f} / "
                      f"{before['maxrss_MB']:.0f} MB, terms differ by {difference:.1e}", flush=True)
        finally:
            subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(tree)], check=True)
    return out


def flop_floor(P: int, seconds: float) -> dict:
    """The cubic's ``M^4`` work (its distinct star products a layer, ``2 M^4`` flops each, ``L = 10``) at the speed
    of this machine's BLAS on the same shapes (an ``M^2 x M`` by ``M x M`` product, timed here), against
    ``seconds``, the measured evaluation."""
    from perturbo.compiler import program

    M = P + 10
    stars = program("t - 0.2*t**3", 1).factored_work.stars  # (the cubic's plan is the same for any coefficient)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(M * M, M)), rng.normal(size=(M, M))
    a @ b
    start = time.perf_counter()
    for _ in range(3):
        a @ b
    rate = 2.0 * M**4 / ((time.perf_counter() - start) / 3)
    floor = 10 * stars * 2.0 * M**4 / rate
    print(f"  P={P}: {stars} star products a layer, {rate / 1e9:.1f} GFlop/s: floor {floor:.3g} s, "
          f"measured {seconds:.3g} s ({seconds / floor:.2f}x the floor)", flush=True)
    return {"stars": stars, "gflops": rate / 1e9, "floor": floor, "measured": seconds, "ratio": seconds / floor}


def blocks(sizes: list[int], rows: list[int]) -> dict:
    """One layer's networks (the cubic, a kernel of the 6th layer, ``T = 10``) per ``M`` and rows per block."""
    from perturbo.compiler import program
    from perturbo.compiler.factored import derivative_kernels, layer_algebra, run_networks
    from perturbo.compiler.readout import ReadoutOperands
    from perturbo.ir.networks import Hadamard, Kernel

    net = ShapedMLP(depth=10, width=100, psi=-0.6)
    plan = program(net.activation.phi, 1).factored["quadratic"]
    out = {}
    for P in sizes:
        X, y, _ = data(P + 10, 0, P + 5)
        K = net.kernels(X)[5]
        M = len(K)
        operands = ReadoutOperands(K, P, y[:P], 1.0)
        algebra = layer_algebra(net.activation.phi, sp.Integer(1)).at(K)
        layer = {Kernel(i, j): g for (i, j), g in derivative_kernels(algebra, algebra["F"], algebra["E"]).items()}
        layer |= {Hadamard(n): K**n / math.factorial(n) for n in range(1, 7)}
        times = {}
        for r in rows + rows:  # twice: the better of two
            start = time.perf_counter()
            run_networks(plan, operands, layer, [np.zeros(()), np.zeros(10), np.zeros((10, 10))], block_rows=r)
            times[r] = min(times.get(r, math.inf), time.perf_counter() - start)
        out[M] = times
        print(f"  M={M}: " + ", ".join(f"{r} rows {t:.3g} s" for r, t in times.items()), flush=True)
    return out


def versus_lambdify(M: int) -> dict:
    """The layer algebra from monomial tables (``factored.LayerAlgebra``, compiled loops) against sympy.lambdify of
    the same local expressions."""
    from perturbo.compiler.factored import layer_algebra
    from perturbo.symbolic.derivative_kernels import local_algebra
    from perturbo.symbolic.mean_map import S_aa, S_ab, S_bb

    net = ShapedMLP(depth=10, width=100, psi=-0.6)
    phi = net.activation.phi
    tables = layer_algebra(phi, sp.Integer(1))
    K = net.kernels(data(M, 0, M + 5)[0])[5]
    tables.at(K)
    start = time.perf_counter()
    for _ in range(5):
        tables.at(K)
    compiled = (time.perf_counter() - start) / 5
    algebra = local_algebra(phi, sp.Integer(1))
    exprs = list(algebra.kernels.values()) + list(algebra.square_derivatives.values()) + list(algebra.jacobian)
    exprs += list(algebra.hessian.values())
    f = sp.lambdify((S_aa, S_bb, S_ab), exprs, modules="numpy")
    d = np.diagonal(K)
    start = time.perf_counter()
    for _ in range(5):
        f(d[:, None], d[None, :], K)
    lambdified = (time.perf_counter() - start) / 5
    return {"M": M, "tables": compiled, "lambdify": lambdified, "ratio": lambdified / compiled}


COLD_WARM = """
import time
start = time.perf_counter()
import numpy as np, sympy as sp
from perturbo import ShapedMLP
from perturbo.compiler import program
from perturbo.compiler.factored import layer_algebra
net = ShapedMLP(depth=10, width=100, psi={psi})
imported = time.perf_counter()
program(net.activation.phi, 1).factored  # derive and plan, or load
layer_algebra(net.activation.phi, sp.Integer(1)).at(np.eye(3))  # JIT or load
ready = time.perf_counter()
rng = np.random.default_rng(0)
net.evidence(rng.normal(size=(20, 25)), rng.normal(size=20), beta=10.0, order=1, backend="compiled")
print(ready - imported, time.perf_counter() - start)
"""


def cold_and_warm(psi: float) -> dict:
    """Two fresh processes sharing an empty cache: plan-ready time and whole-process time (P = 20)."""
    with tempfile.TemporaryDirectory() as directory:
        env = dict(os.environ, PERTURBO_CACHE_DIR=directory)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        runs = []
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", COLD_WARM.format(psi=psi)], env=env, capture_output=True, text=True, check=True)
            runs.append([float(v) for v in out.stdout.split()])
    (cold_ready, cold_total), (warm_ready, warm_total) = runs
    return {"cold_ready": cold_ready, "warm_ready": warm_ready, "ready_ratio": cold_ready / warm_ready,
            "cold_process": cold_total, "warm_process": warm_total, "process_ratio": cold_total / warm_total}


REFERENCE_COLD_WARM = """
import time
start = time.perf_counter()
import numpy as np, sympy as sp
from perturbo import ShapedMLP
from tests.oracle import pullback
from tests.oracle.pullback.tables import cached_layer_moments
net = ShapedMLP(depth=4, width=100, psi={psi})
imported = time.perf_counter()
cached_layer_moments(net.activation.phi, sp.Integer(1), {order})  # derive or load
ready = time.perf_counter()
rng = np.random.default_rng(0)
P = 3 if {order} < 3 else 2  # the cubic's order 3 at P = 3 takes minutes
pullback.series(net, rng.normal(size=(P, 6)), rng.normal(size=P), None, 10.0, {order})
print(ready - imported, time.perf_counter() - start)
"""


def cold_and_warm_reference(psi: float, order: int) -> dict:
    """Two fresh processes sharing an empty cache: moment tables ready, and the whole process.

    The evidence runs at ``L = 4`` and ``P = 3`` (``P = 2`` at order 3).
    """
    with tempfile.TemporaryDirectory() as directory:
        env = dict(os.environ, PERTURBO_CACHE_DIR=directory)
        script = REFERENCE_COLD_WARM.format(psi=psi, order=order)
        runs = []
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True,
                                 cwd=Path(__file__).resolve().parents[1])  # the oracle imports from tests/
            runs.append([float(v) for v in out.stdout.split()])
    (cold_ready, cold_total), (warm_ready, warm_total) = runs
    return {"cold_ready": cold_ready, "warm_ready": warm_ready, "ready_ratio": cold_ready / warm_ready,
            "cold_process": cold_total, "warm_process": warm_total, "process_ratio": cold_total / warm_total}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cubic-order-3", action="store_true", help="also time the cubic's order-3 cold start")
    parser.add_argument("--baseline", default=BASELINE, help="the commit to compare the factored lowering with")
    args = parser.parse_args()
    linear_sizes = [50, 100, 200] if args.quick else [50, 100, 200, 400, 800]
    cubic_sizes = [25, 50] if args.quick else [25, 50, 100]
    results = {"machine": f"{os.cpu_count()} cores"}
    print("scaling, first order, L = 10, T = 10:")
    results["linear"] = scaling(0.0, linear_sizes)
    results["cubic"] = scaling(-0.6, cubic_sizes)
    print(f"factored first order against {args.baseline} (fresh processes, T = 10):")
    cases = [("cubic", 10, P) for P in ([50, 100] if args.quick else [50, 100, 200])]
    cases += [(DEGREE_7, 6, P) for P in ([32] if args.quick else [32, 64])]
    results["against_baseline"] = against_baseline(args.baseline, cases)
    print("distance to the flop floor (cubic, L = 10, T = 10):")
    largest = cases[len([c for c in cases if c[0] == "cubic"]) - 1]
    results["flop_floor"] = flop_floor(largest[2], results["against_baseline"][f"cubic L=10 P={largest[2]}"]["now"])
    print("rows per block of a sliced loop (one layer, cubic):")
    results["blocks"] = blocks([50, 100] if args.quick else [50, 100, 200], [1, 3, 6, 12])
    print("compiled versus reference path (cubic, L = 4, P = 12, T = 1):")
    results["versus_reference"] = versus_reference(12)
    print(" ", results["versus_reference"])
    print("layer algebra from monomial tables versus sympy.lambdify (cubic, M = 400):")
    results["versus_lambdify"] = versus_lambdify(400)
    print(" ", results["versus_lambdify"])
    print("cold versus warm start (fresh processes; kernels ready, and the whole process with an evidence at P = 20):")
    results["cold_warm"] = {psi: cold_and_warm(psi) for psi in (0.0, -0.6)}
    print(" ", results["cold_warm"])
    print("cold versus warm start of the reference path's moment tables (orders 2 and 3):")
    cases = [(0.0, 2), (0.0, 3), (-0.6, 2)] + [(-0.6, 3)] * args.cubic_order_3
    results["cold_warm_reference"] = {f"psi={psi} order={k}": cold_and_warm_reference(psi, k) for psi, k in cases}
    print(" ", results["cold_warm_reference"])
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
