"""The comparison the user came for: on digits 0 vs 1, every method beside posterior sampling of the finite network.

    python docs/comparison/digits.py            # about an hour; writes digits.json and digits.png beside it
                                                # (resumable: points already in digits.json are skipped)

Test error ``mean_x[(y - m)^2 + v]`` on 100 held-out images (targets +-1) of:
- the 1/N series at orders 0 and 1 (exact compiled) and, at P = 50 and psi = -0.6, order 2 (sampled, 300 draws per
  pattern, on the first 20 test images: its cost grows with the number of test points);
- at psi = 0 the exact deep linear answer;
- kernel renormalisation: the Wishart ansatz with its loop, and matched to the exact first order;
- the NTK predictor (where its kernel is invertible);
- NUTS over the finite network's hidden weights (2 chains x 400 draws after 400 warm-up steps) where
  N <= NUTS_MAX_WIDTH[P].
The grid (``grid()``) is the issue's grid thinned to fit an hour on two cores: P = 50 with every width, P = 100
and 200 without N = 200, noise variance 0.1 at P = 100 and psi = -0.6 only, and L = 10 at one point. NUTS at
N = 500, 1000 would take hours per point here (two million weights at N = 1000); there L P/N <= 1.2 and the series
is the tool.
"""
from __future__ import annotations

import json
import math
import time
import warnings
from pathlib import Path

import numpy as np

from perturbo import ShapedMLP
from perturbo.datasets import digits
from perturbo.plots import LEARNING_CURVE_METHODS, evaluate_methods

HERE = Path(__file__).resolve().parent
NUTS = {"samples": 400, "chains": 2, "warmup": 400, "progress": False}


def grid():
    """The points run, in order; NUTS where N <= NUTS_MAX_WIDTH[P] (its cost grows with P N^2 L)."""
    for psi in (-0.6, 0.0):
        for N in (50, 100, 200, 500, 1000):
            yield 50, 3, N, psi, 1.0
    for psi in (-0.6, 0.0):
        for N in (50, 100, 500, 1000):
            yield 100, 3, N, psi, 1.0
    for N in (50, 100, 1000):
        yield 100, 3, N, -0.6, 0.1
    for psi in (-0.6, 0.0):
        for N in (100, 500, 1000):
            yield 200, 3, N, psi, 1.0
    yield 100, 10, 100, -0.6, 1.0


NUTS_MAX_WIDTH = {50: 200, 100: 100, 200: 100}


def main() -> None:
    rows = []
    path = HERE / "digits.json"
    done = {tuple(r["key"]) for r in json.loads(path.read_text())} if path.exists() else set()
    if done:
        rows = json.loads(path.read_text())
    for P, L, N, psi, noise in grid():
        key = (P, L, N, psi, noise)
        if key in done:
            continue
        X, y, X_test, y_test = digits((0, 1), n_train=P, n_test=100, seed=0)
        net = ShapedMLP(depth=L, width=N, psi=psi)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            points = evaluate_methods(net, X, y, X_test, y_test, beta=P / noise, max_order=1, method="exact",
                                      renormalized=LEARNING_CURVE_METHODS, ntk=True,
                                      nuts=NUTS if N <= NUTS_MAX_WIDTH[P] else None)
            if P == 50 and psi != 0:  # deep linear: its kernel on P + T points is singular, and net.exact is there
                order2 = evaluate_methods(net, X, y, X_test[:20], y_test[:20], beta=P / noise, max_order=2,
                                          method="sampled", samples=300, renormalized={})
                for k in (1, 2):  # on the first 20 test images only: compare them with each other
                    points[f"series, order {k} [first 20 test images]"] = order2[f"series, order {k}"]
        row = {"key": list(key), "P": P, "L": L, "N": N, "psi": psi, "noise": noise, "LP/N": L * P / N,
               "seconds": time.perf_counter() - start,
               "errors": {k: p.test_error for k, p in points.items()},
               "errors_se": {k: p.test_error_se for k, p in points.items() if p.test_error_se is not None}}
        rows.append(row)
        path.write_text(json.dumps(rows, indent=1))
        reference = row["errors"].get("NUTS (finite network)")
        print(f"P = {P:3d} L = {L:2d} N = {N:4d} psi = {psi:+.1f} noise {noise}: " + ", ".join(
            f"{k} {v:.4f}" for k, v in row["errors"].items()) + f" ({row['seconds']:.0f} s)", flush=True)
        if reference is not None:
            print(f"    NUTS reference {reference:.4f} +- {row['errors_se']['NUTS (finite network)']:.4f}")
    table(rows)
    figure(rows)


def table(rows) -> None:
    methods = ["series, order 0", "series, order 1", "Wishart, saddle + loop", "matched (Wishart + loop)",
               "NTK (gradient flow)"]
    print("\n| P | L | N | L P/N | psi | noise | NUTS | " + " | ".join(methods) + " | closest to NUTS |")
    print("| --- " * (8 + len(methods)) + "|")
    for row in rows:
        errors, se = row["errors"], row["errors_se"]
        reference = errors.get("NUTS (finite network)")
        cells = [f"{errors[m]:.4f}" if m in errors else "-" for m in methods]
        closest = "-"
        if reference is not None:
            closest = min((m for m in methods[:4] if m in errors), key=lambda m: abs(errors[m] - reference))
            nuts = f"{reference:.4f} ± {se['NUTS (finite network)']:.4f}"
        else:
            nuts = "-"
        print(f"| {row['P']} | {row['L']} | {row['N']} | {row['LP/N']:.2f} | {row['psi']:+.1f} | {row['noise']} | "
              f"{nuts} | " + " | ".join(cells) + f" | {closest} |")


def figure(rows) -> None:
    """Test error against L P/N, one panel per (P, psi) at L = 3 and noise variance 1, NUTS with 2 standard errors.
    The NTK (a different predictor, far below: see the table) and the 20-image order-2 check are left to the table."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    panels = [(psi, P) for psi in (-0.6, 0.0) for P in (50, 100, 200)]
    fig = Figure(figsize=(13, 7.5), layout="constrained")
    FigureCanvasAgg(fig)
    for ax, (psi, P) in zip(fig.subplots(2, 3).ravel(), panels):
        chosen = sorted((r for r in rows if r["P"] == P and r["psi"] == psi and r["L"] == 3 and r["noise"] == 1.0),
                        key=lambda r: r["N"])
        if not chosen:
            continue
        ratio = np.array([r["LP/N"] for r in chosen])
        methods = [m for m in chosen[0]["errors"] if not m.startswith("NTK") and "test images" not in m]
        for method in methods:
            values = np.array([r["errors"].get(method, math.nan) for r in chosen])
            if method.startswith("NUTS"):
                se = np.array([r["errors_se"].get(method, math.nan) for r in chosen])
                ax.errorbar(ratio, values, yerr=2 * se, color="black", marker="o", linewidth=2, label=method,
                            zorder=5)
            elif method == "exact":
                ax.plot(ratio, values, color="grey", linewidth=5, alpha=0.5, label="exact (deep linear)")
            else:
                ax.plot(ratio, values, marker="." if method.startswith("series") else "s",
                        linestyle="--" if method.startswith("series") else "-", label=method)
        ax.set_xscale("log")
        ax.set_xticks(ratio)
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"digits 0 vs 1, P = {P}, psi = {psi:+.1f}, L = 3, noise variance 1", fontsize="small")
        ax.set_xlabel("L P / N  (N = " + ", ".join(str(r["N"]) for r in chosen) + ")", fontsize="small")
        ax.set_ylabel("test error")
        if P == 50:
            ax.legend(fontsize="x-small")
    fig.savefig(HERE / "digits.png")


if __name__ == "__main__":
    main()
