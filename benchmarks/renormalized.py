"""Kernel renormalisation: what it costs, against what a user would run instead, in one process.

    python benchmarks/renormalized.py            # about 6 minutes
    python benchmarks/renormalized.py --quick    # under a minute (P = 1000, fewer nested sizes)

1. The equivalent Wishart ansatz at ``P = 4000``, ``T = 100``, ``L = 10`` (cubic ``psi = -0.6``, ``N = 4000``), both
   temperatures, split into its parts; the floor is one eigendecomposition of the ``P x P`` training kernel, and the
   alternatives are the Gaussian process (order 0) and the exact deep linear answer on the same data.
2. The nested ansatz against ``P`` (``L = 10``, odd and non-odd activations), with the fitted exponent.
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

from perturbo import ShapedMLP


def teacher(P: int, T: int, N0: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(P + T, N0))
    y = np.tanh(X @ rng.normal(size=N0) / math.sqrt(N0)) + 0.1 * rng.normal(size=P + T)
    return X[:P], y[:P], X[P:]


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def wishart_at_scale(P: int, T: int) -> None:
    print(f"1. Wishart ansatz, P = {P}, T = {T}, L = 10, cubic psi = -0.6, N = {P} (alpha = 1)", flush=True)
    X, y, X_test = teacher(P, T, P + 200)
    net = ShapedMLP(depth=10, width=P, psi=-0.6)
    linear = ShapedMLP(depth=10, width=P)
    X_all = np.vstack([X, X_test])
    _, flow = timed(lambda: net.kernels(X_all))
    K = net.kernels(X_all)[-1]
    _, eigh = timed(lambda: np.linalg.eigh(K[:P, :P]))
    print(f"   parts: kernel flow (X X^T and 10 layers) {flow:.2f} s, one eigendecomposition of K_DD {eigh:.2f} s")
    for beta in (math.inf, float(P)):
        kr, seconds = timed(lambda: net.renormalized(X, y, X_test, beta=beta))
        _, no_loop = timed(lambda: net.renormalized(X, y, X_test, beta=beta, loop=False))
        gp, gp_seconds = timed(lambda: net.predict(X, y, X_test, beta=beta, order=0))
        _, exact = timed(lambda: linear.exact(X, y, X_test, beta=beta))
        print(f"   beta = {beta:g}: renormalized (saddle + loop) {seconds:.2f} s, saddle alone {no_loop:.2f} s; "
              f"{seconds / (flow + eigh):.2f}x the floor (flow + one eigendecomposition); Gaussian process (order 0) "
              f"{gp_seconds:.2f} s; exact deep linear on the same data {exact:.2f} s; s_l = {kr.order_parameters[0]:.4f}",
              flush=True)


def nested_against_P(sizes: list[int]) -> None:
    print("\n2. Nested ansatz against P (L = 10, T = 10, beta = P, N = P), saddle + loop", flush=True)
    for label, activation in (("cubic psi = -0.6", None), ("non-odd 0.5 t^2 - 0.3 t^3", "0.5*t**2 - 0.3*t**3")):
        times = []
        for P in sizes:
            X, y, X_test = teacher(P, 10, P + 50)
            net = ShapedMLP(depth=10, width=P, psi=-0.6, activation=activation)
            _, wishart = timed(lambda: net.renormalized(X, y, X_test, beta=float(P)))
            _, nested = timed(lambda: net.renormalized(X, y, X_test, beta=float(P), ansatz="nested"))
            times.append(nested)
            print(f"   {label}: P = {P:4d}  nested {nested:7.2f} s   Wishart {wishart:5.2f} s", flush=True)
        exponent = np.polyfit(np.log(sizes[1:]), np.log(times[1:]), 1)[0]
        print(f"   {label}: nested time grows like P^{exponent:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    quick = parser.parse_args().quick
    wishart_at_scale(1000 if quick else 4000, 100)
    nested_against_P([25, 50, 100] if quick else [25, 50, 100, 200])


if __name__ == "__main__":
    main()
