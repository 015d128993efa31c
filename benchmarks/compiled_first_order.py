"""Benchmarks of the compiled first order (issue 4). Run: python benchmarks/compiled_first_order.py [--quick]

1. scaling: evidence + predictive (T = 10 test points), L = 10, time and peak memory against P,
   fitted exponents, for the deep linear network and the default cubic;
2. compiled versus the reference path and versus sympy.lambdify of the same local expressions (ratios);
3. cold (derive + write + import + Numba compile) versus warm (cached, a fresh process) start, order 1;
   the same for the reference path's moment tables at orders 2 and 3 (``--cubic-order-3`` adds the
   cubic at order 3, whose cold start is a Wick sum of degree 24: many minutes).
"""
from __future__ import annotations

import argparse
import json
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
    first_order_run(net, 8, 2)  # warm: module generated and compiled
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
    first_order_run(net, 4, 1)
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


def versus_lambdify(M: int) -> dict:
    """The generated Numba kernel of the local algebra against sympy.lambdify of the same expressions."""
    from perturbo.codegen import first_order_module
    from perturbo.runtime.first_order import _layer_algebra
    from perturbo.symbolic.derivative_kernels import local_algebra
    from perturbo.symbolic.mean_map import S_aa, S_ab, S_bb

    net = ShapedMLP(depth=10, width=100, psi=-0.6)
    phi = net.activation.phi
    module = first_order_module(phi, sp.Integer(1))
    K = net.kernels(data(M, 0, M + 5)[0])[5]
    _layer_algebra(module, K)
    start = time.perf_counter()
    for _ in range(5):
        _layer_algebra(module, K)
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
    return {"M": M, "numba": compiled, "lambdify": lambdified, "ratio": lambdified / compiled}


COLD_WARM = """
import time
start = time.perf_counter()
import numpy as np, sympy as sp
from perturbo import ShapedMLP
from perturbo.codegen import first_order_module
from perturbo.runtime.first_order import _layer_algebra
net = ShapedMLP(depth=10, width=100, psi={psi})
imported = time.perf_counter()
_layer_algebra(first_order_module(net.activation.phi, sp.Integer(1)), np.eye(3))  # derive or load; JIT or load
ready = time.perf_counter()
rng = np.random.default_rng(0)
net.evidence(rng.normal(size=(20, 25)), rng.normal(size=20), beta=10.0, order=1, backend="compiled")
print(ready - imported, time.perf_counter() - start)
"""


def cold_and_warm(psi: float) -> dict:
    """Two fresh processes sharing an empty cache: kernels-ready time and whole-process time (P = 20).

    Python writes bytecode as usual (``PYTHONDONTWRITEBYTECODE`` is dropped from the
    environment): the generated module is large, and recompiling it from source costs
    about 0.4 s per process when bytecode caching is off.
    """
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
    args = parser.parse_args()
    linear_sizes = [50, 100, 200] if args.quick else [50, 100, 200, 400, 800]
    cubic_sizes = [25, 50] if args.quick else [25, 50, 100]
    results = {"machine": f"{os.cpu_count()} cores"}
    print("scaling, first order, L = 10, T = 10:")
    results["linear"] = scaling(0.0, linear_sizes)
    results["cubic"] = scaling(-0.6, cubic_sizes)
    print("compiled versus reference path (cubic, L = 4, P = 12, T = 1):")
    results["versus_reference"] = versus_reference(12)
    print(" ", results["versus_reference"])
    print("Numba local kernel versus sympy.lambdify (cubic, M = 400):")
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
