"""The compiled transfer kernels (printed, and run from their tables) against the interpreted terms of before
(issue 25). Run: python benchmarks/fused_transfer.py [--baseline COMMIT] [--quick] [--only SECTION]

1. The cubic (``psi = -0.6``) at order 2, ``L = 6``, ``T = 2``, noise variance 1: one ``evidence`` plus one
   ``predict``, warm, for ``P = 4, 6, ..`` until a run takes a minute; the same in a subprocess running the
   ``--baseline`` commit (default: the last commit before the printed kernels) from a temporary ``git worktree``,
   in the same run; ratios and the exponents in ``M = P + T``.
2. One layer at ``P = 12``: each cumulant's printed kernel and table against the interpreted terms, and their
   arithmetic rates (multiplications and additions of the products over the canonical entries).
3. The cubic at order 3 (``L = 6``, ``T = 2``; no kernel printed: all run from tables), ``P = 2, 3, ..`` until a
   run takes a minute, against ``--baseline-order-3`` (default: the last commit that interpreted them).
4. Cold start for a new activation at ``P = 6``, ``T = 2`` (where the plan prints order 2's kernels): a fresh
   process with an empty perturbo cache (derive, print, compile the activation's modules; the package's own Numba
   kernels already compiled), then a second process sharing it.
5. Posterior representations of the cubic at order 2 (``L = 6``, ``T = 2``), ``P = 2, 4, ..`` until the memory
   limit or a minute, against ``--baseline-representations`` (default: the last commit that interpreted the mixed
   cumulants' spectator terms).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "de04051"
BASELINE_UP_TO = 14
"""The baseline's largest ``P`` (164 s at 14 when the issue was filed; about 400 s at 16)."""
BASELINE_ORDER_3 = "a3b0cbe"
"""The last commit whose dense lowering interpreted the terms of the cumulants it did not print (all of order 3's
but ``kappa_1``)."""
BASELINE_ORDER_3_UP_TO = 3
"""Order 3 interpreted (``T = 2``): about a minute at ``P = 3``, several at 4."""
BASELINE_REPRESENTATIONS = "b65d4f7"
"""The last commit whose posterior representations interpreted the spectator terms (``LayerTransfer``)."""
MINUTE = 60.0

TIMING = """
import json, sys, time, warnings
import numpy as np
from perturbo import ShapedMLP
warnings.simplefilter("ignore")
sizes, limit, order = json.loads(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
net = ShapedMLP(depth=6, width=100, psi=-0.6)
out = {}
for P in sizes:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(P + 2, P + 7))
    X *= 0.8 / np.sqrt((X**2).mean(axis=1, keepdims=True))
    y = rng.normal(size=P)
    best = None
    try:
        for _ in range(1 if P > 8 else 2):  # the first small run also derives and compiles
            start = time.perf_counter()
            RUN
            seconds = time.perf_counter() - start
            best = seconds if best is None else min(best, seconds)
    except ValueError:  # refused: the memory limit
        break
    out[P] = best
    print(json.dumps({P: best}), flush=True)
    if best > limit:
        break
"""

COLD = """
import time
start = time.perf_counter()
import numpy as np
from perturbo import ShapedMLP
rng = np.random.default_rng(0)
X, y, Xt = rng.normal(size=(6, 10)) * 0.5, rng.normal(size=6), rng.normal(size=(2, 10)) * 0.5
net = ShapedMLP(depth=6, width=100, activation={activation!r})
net.evidence(X, y, beta=6.0, order={order})
net.predict(X, y, Xt, beta=6.0, order={order})
print(time.perf_counter() - start)
"""


RUNS = {
    "evidence and predict": "net.evidence(X[:P], y, beta=float(P), order=order); "
                            "net.predict(X[:P], y, X[P:], beta=float(P), order=order)",
    "representations": "net.representations(X[:P], y, X[P:], beta=float(P), order=order)",
}


def timings(sizes: list[int], pythonpath: Path, order: int = 2, limit: float = MINUTE,
            run: str = "evidence and predict") -> dict[int, float]:
    """Seconds of ``run`` (``RUNS``) per ``P`` in a subprocess importing perturbo from ``pythonpath``."""
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    script = TIMING.replace("RUN", RUNS[run])
    done = subprocess.run([sys.executable, "-c", script, json.dumps(sizes), str(limit), str(order)], env=env,
                          cwd=pythonpath,
                          capture_output=True, text=True, check=True)
    out = {}
    for line in done.stdout.split("\n"):
        if line.strip():
            out.update({int(k): v for k, v in json.loads(line).items()})
    return out


def exponent(rows: dict[int, float]) -> float | None:
    sizes = sorted(rows)[-3:]
    if len(sizes) < 2:
        return None
    return float(np.polyfit(np.log([P + 2 for P in sizes]), np.log([rows[P] for P in sizes]), 1)[0])


def against_baseline(commit: str, sizes: list[int], order: int = 2, up_to: int = BASELINE_UP_TO,
                     run: str = "evidence and predict") -> dict:
    now = timings(sizes, ROOT, order, run=run)
    with tempfile.TemporaryDirectory() as directory:
        tree = Path(directory) / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit], check=True,
                       capture_output=True)
        try:
            before = timings([P for P in sizes if P <= min(max(now), up_to)], tree, order, run=run)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True)
    rows = {P: {"printed": now[P], "baseline": before.get(P), "ratio": before[P] / now[P] if P in before else None}
            for P in now}
    for P, row in rows.items():
        base = f"{row['baseline']:8.2f} s" if row["baseline"] else "        -"
        ratio = f"{row['ratio']:6.1f}x" if row["ratio"] else ""
        print(f"  P={P:3d}: now {row['printed']:8.2f} s   baseline {commit} {base}   {ratio}", flush=True)
    result = {"rows": rows, "exponent_printed": exponent(now), "exponent_baseline": exponent(before)}
    now_exponent, before_exponent = result["exponent_printed"] or 0.0, result["exponent_baseline"] or 0.0
    print(f"  exponents in M: now {now_exponent:.2f}, baseline {before_exponent:.2f}")
    return result


def one_layer(P: int = 12, T: int = 2) -> dict:
    from perturbo import ShapedMLP
    from perturbo.activation import power_coefficients
    from perturbo.compiler.copy_cumulants import CopyCumulants
    from perturbo.compiler.dense import layer_arguments
    from perturbo.compiler.fused_transfer import LayerArrays, output_images
    from perturbo.compiler.program import program
    from perturbo.compiler.runtime_terms import LayerTransfer

    net = ShapedMLP(depth=6, width=100, psi=-0.6)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(P + T, P + T + 5))
    X *= 0.8 / np.sqrt((X**2).mean(axis=1, keepdims=True))
    K = net.kernels(X)[3]
    M, order = len(K), 2
    phi = net.activation.phi
    compiled, cumulants = program(phi, order), CopyCumulants(power_coefficients(phi), 1.0)
    local_map, terms = compiled.local_map, compiled.transfer
    fused, tabulated = compiled.compiled_transfer(), compiled.compiled_transfer(printed=False)
    state = {}
    for n in range(1, order + 2):
        a = rng.normal(size=(order + 1,) + (M,) * (2 * n)) * 1e-3
        a[0] = 0
        images = output_images(n)
        state[n] = sum(np.transpose(a, (0, *(1 + images[g]))) for g in range(len(images))) / len(images)
    weights = local_map.weights(K)
    start = time.perf_counter()
    arrays = LayerArrays(layer_arguments(fused.arguments(), K, weights, cumulants, state))
    prepare = time.perf_counter() - start
    start = time.perf_counter()
    arrays.packed()  # (once per layer, for every table)
    pack = time.perf_counter() - start
    interpreted = LayerTransfer(K, 100, weights, cumulants, order)
    out = {"arguments (Wick tensors, dressed states), s": prepare, "packing them for the tables, s": pack}
    for n in range(1, order + 2):
        fused.apply(n, 100, arrays, M)
        start = time.perf_counter()
        fused.apply(n, 100, arrays, M)
        printed = time.perf_counter() - start
        tabulated.apply(n, 100, arrays, M)
        start = time.perf_counter()
        tabulated.apply(n, 100, arrays, M)
        table = time.perf_counter() - start
        start = time.perf_counter()
        interpreted.apply(terms[n], state, n)
        slow = time.perf_counter() - start
        kernel = fused.kernels[n]
        pairs = M * (M + 1) // 2
        entries = np.prod([pairs + k for k in range(n)]) / np.prod(range(1, n + 1))  # multisets of n pairs
        flops = entries * sum(2 * len(p.reads) + 1 for p in kernel.products)
        out[f"kappa_{n}"] = {"products": len(kernel.products), "printed_s": printed, "table_s": table,
                             "interpreted_s": slow, "ratio": slow / printed, "gflops": flops / printed / 1e9,
                             "table_gflops": flops / table / 1e9}
        print(f"  kappa_{n}: {len(kernel.products):4d} products, printed {printed:.4f} s ({flops / printed / 1e9:.2f} "
              f"Gflop/s), table {table:.4f} s ({flops / table / 1e9:.2f} Gflop/s), interpreted {slow:.3f} s "
              f"({slow / printed:.0f}x the printed, {slow / table:.0f}x the table)", flush=True)
    print(f"  the layer's arguments (Wick tensors, dressed states): {prepare:.3f} s, packed for the tables: "
          f"{pack:.3f} s")
    return out


def cold_start(cases: list[tuple[str, int]]) -> dict:
    out = {}
    for activation, order in cases:
        with tempfile.TemporaryDirectory() as directory:
            env = dict(os.environ, PERTURBO_CACHE_DIR=f"{directory}/perturbo")
            times = []
            for _ in range(2):
                done = subprocess.run([sys.executable, "-c", COLD.format(activation=activation, order=order)],
                                      env=env, capture_output=True, text=True, check=True)
                times.append(float(done.stdout.split()[-1]))
        out[f"{activation}, order {order}"] = {"cold": times[0], "cached": times[1]}
        print(f"  {activation}, order {order}: cold process {times[0]:.1f} s, cached process {times[1]:.1f} s",
              flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", default=BASELINE, help="the commit to compare with (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="P up to 8, cold start of the cubic only")
    parser.add_argument("--baseline-order-3", default=BASELINE_ORDER_3, help="(default: %(default)s)")
    parser.add_argument("--baseline-representations", default=BASELINE_REPRESENTATIONS, help="(default: %(default)s)")
    parser.add_argument("--only", choices=["orders", "layer", "order3", "cold", "representations"], action="append")
    args = parser.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)
    sections = args.only or ["orders", "layer", "order3", "cold", "representations"]
    results = {}
    if "orders" in sections:
        print(f"cubic order 2, L = 6, T = 2, evidence + predict (warm), against {args.baseline}:")
        sizes = [4, 6, 8] if args.quick else [4, 6, 8, 10, 12, 14, 16, 18, 20]
        results["order2"] = against_baseline(args.baseline, sizes)
    if "layer" in sections:
        print("one layer, P = 12, T = 2 (M = 14), order 2:")
        results["layer"] = one_layer()
    if "order3" in sections:
        print(f"cubic order 3, L = 6, T = 2, evidence + predict (warm), against {args.baseline_order_3}:")
        sizes = [2, 3] if args.quick else list(range(2, 12))
        results["order3"] = against_baseline(args.baseline_order_3, sizes, order=3, up_to=BASELINE_ORDER_3_UP_TO)
    if "cold" in sections:
        print("cold start for a new activation (P = 6, T = 2, L = 6):")
        cases = [("t - 0.1*t**3", 2)] if args.quick else [("t - 0.1*t**3", 2), ("0.2*t**3 - 0.1*t**7", 1),
                                                          ("0.2*t**3 - 0.1*t**7", 2)]
        results["cold"] = cold_start(cases)
    if "representations" in sections:
        print(f"cubic representations at order 2, L = 6, T = 2 (warm), against {args.baseline_representations}:")
        sizes = [2, 4, 6] if args.quick else list(range(2, 16, 2))
        results["representations"] = against_baseline(args.baseline_representations, sizes, up_to=12,
                                                       run="representations")
    print(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
