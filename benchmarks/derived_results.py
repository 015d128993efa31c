"""Benchmarks of issues 16 and 17. Run: python benchmarks/derived_results.py [--quick]

1. the continuum first order (``limit="continuum"``) against the exact finite-depth first order at
   ``L = 128`` (the alternative a user has), default cubic ``psi = -0.6``, ``beta = P``, ``T = 0``: seconds and
   the ratio, and the fitted exponent of the continuum's time in ``P``;
2. ``net.representations`` at orders 1 and 2 (cubic, ``L = 4``, ``T = 0``, ``beta = P``) against one ``evidence``
   call of the same order (the dense lowering it extends): seconds, ratio, exponent in ``P``;
3. the deep linear closed forms: seconds to derive each order (``closed_form``, all three quantities).
"""
from __future__ import annotations

import argparse
import math
import time
import warnings

import numpy as np

from perturbo import ShapedMLP, closed_form
from perturbo.closed_forms import _series


def data(P: int, seed: int = 0):
    """Inputs with ``|x|^2/N0 = 0.49`` (inside the continuum's domain for ``psi`` up to 1) and ``N0 = P + 5``."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(P, P + 5))
    X *= 0.7 / np.sqrt((X**2).mean(axis=1, keepdims=True))
    return X, rng.normal(size=P)


def timed(call) -> float:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        call()
    return time.perf_counter() - start


def exponent(sizes, seconds) -> float:
    return float(np.polyfit(np.log(sizes[-2:]), np.log(seconds[-2:]), 1)[0])


def continuum(points) -> None:
    print("1. continuum first order against the finite-depth first order at L = 128 (cubic, beta = P)")
    rows = []
    for P in points:
        X, y = data(P)
        deep = ShapedMLP(128, 1024, psi=-0.6)
        deep.evidence(X, y, beta=float(P), order=1)  # warm: the factored module is generated once
        deep.evidence(X, y, beta=float(P), order=1, limit="continuum")  # warm: the flow's coefficients
        exact = timed(lambda: deep.evidence(X, y, beta=float(P), order=1))
        limit = timed(lambda: deep.evidence(X, y, beta=float(P), order=1, limit="continuum"))
        rows.append(limit)
        print(f"   P = {P:3d}: continuum {limit:7.2f} s, L = 128 exact {exact:7.2f} s, ratio {exact / limit:6.2f}")
    print(f"   continuum time exponent in P (last two): {exponent(points, rows):.2f}")


def representations(points, orders) -> None:
    print("2. representations against one evidence call of the same order (cubic, L = 4, beta = P)")
    for order in orders:
        rows = []
        for P in points[order]:
            X, y = data(P)
            net = ShapedMLP(4, 256, psi=-0.6)
            net.representations(X, y, beta=float(P), order=order)  # warm
            net.evidence(X, y, beta=float(P), order=order, backend="compiled")  # warm (factored module from M = 12)
            rep = timed(lambda: net.representations(X, y, beta=float(P), order=order))
            ev = timed(lambda: net.evidence(X, y, beta=float(P), order=order, backend="compiled"))
            rows.append(rep)
            print(f"   order {order}, P = {P:2d}: representations {rep:7.2f} s, evidence {ev:7.2f} s, ratio {rep / ev:6.1f}")
        print(f"   order {order}: time exponent in P (last two): {exponent(points[order], rows):.2f}")


def closed_forms(orders) -> None:
    print("3. deep linear closed forms: seconds to derive log evidence, mean and variance")
    for beta in (math.inf, "finite"):
        for order in orders:
            _series.cache_clear()
            seconds = timed(lambda: [closed_form(q, order, beta, "per-layer") for q in ("log_evidence", "mean", "var")])
            print(f"   beta = {beta}, order {order}: {seconds:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes only (about a minute)")
    quick = parser.parse_args().quick
    continuum([8, 16] if quick else [8, 16, 32, 48, 100])
    representations({1: [4, 8] if quick else [4, 8, 16, 24], 2: [3, 4] if quick else [3, 4, 6, 8]}, (1, 2))
    closed_forms([1, 2] if quick else [1, 2, 3])


if __name__ == "__main__":
    main()
