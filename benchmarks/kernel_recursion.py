"""The infinite-width kernel recursion against one eigendecomposition (issue 25). Run: python benchmarks/kernel_recursion.py [--quick]

``K_l = m(K_{l-1})`` for ``L = 10`` layers on ``M`` points, three ways in one process, warm (compiled earlier):

- fused, last layer only (``net.kernels(X, last_only=True)``: what order 0 and the references need);
- fused, all layers (``net.kernels(X)``: what the series needs);
- layer by layer (``LocalPolynomial.apply`` once per layer, the code path before the fused recursion);

against ``np.linalg.eigh`` of ``K_L`` (the least a Gaussian-process prediction on those points costs), for the
default cubic and a degree-7 shaping, with fitted exponents in ``M``. The acceptance: 4100 points, 10 layers,
below a tenth of one eigendecomposition.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from perturbo import ShapedMLP
from perturbo.runtime.kernel_flow import input_kernel
from perturbo.symbolic.mean_map import numeric_mean_map

DEPTH = 10
ACTIVATIONS = {"cubic psi=-0.6": None, "degree 7": "0.001*t**7 - 0.01*t**5 - 0.3*t**3 - 0.1*t**2"}


def inputs(rng: np.random.Generator, M: int) -> np.ndarray:
    """``M`` points with ``|x|^2 / N0 = 0.64``, ``N0 = 64``."""
    X = rng.normal(size=(M, 64))
    return X * 0.8 / np.sqrt((X**2).mean(axis=1, keepdims=True))


def best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def layer_by_layer(net: ShapedMLP, X: np.ndarray) -> np.ndarray:
    m, K = numeric_mean_map(net.activation.phi, net.sigma_w2), input_kernel(X, net.sigma_w2)
    for _ in range(net.depth):
        K = m.apply(K)
    return K


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="M = 500, 1000 only")
    args = parser.parse_args()
    sizes = [500, 1000] if args.quick else [500, 1000, 2000, 4100]
    rng = np.random.default_rng(0)
    print(f"kernel recursion, L = {DEPTH}, seconds (best of 3, warm); ratio = fused last layer / eigh(K_L)")
    for label, shaping in ACTIVATIONS.items():
        net = ShapedMLP(depth=DEPTH, width=1000, psi=-0.6, activation=shaping)
        monomials = len(numeric_mean_map(net.activation.phi, net.sigma_w2).coefficients)
        net.kernels(inputs(rng, 4))  # compile
        print(f"\n{label}: phi(t) = {net.activation.phi}  ({monomials} monomials in the layer map)")
        print(f"{'M':>6} {'fused last':>11} {'fused all':>10} {'per layer':>10} {'eigh':>8} {'ratio':>7} {'speed-up':>9}")
        rows = []
        for M in sizes:
            X = inputs(rng, M)
            last = best_of(lambda: net.kernels(X, last_only=True))
            every = best_of(lambda: net.kernels(X))
            before = best_of(lambda: layer_by_layer(net, X))
            K = net.kernels(X, last_only=True)[-1]
            assert np.allclose(K, layer_by_layer(net, X), rtol=1e-12, atol=1e-14)
            eigh = best_of(lambda: np.linalg.eigh(K), repeats=1)
            rows.append((M, last, every, before, eigh))
            print(f"{M:>6} {last:>11.3f} {every:>10.3f} {before:>10.3f} {eigh:>8.2f} {last / eigh:>7.3f} "
                  f"{before / last:>8.1f}x")
        sizes_, last_, every_, before_, eigh_ = map(np.array, zip(*rows))
        fit = lambda seconds: np.polyfit(np.log(sizes_), np.log(seconds), 1)[0]  # noqa: E731
        print(f"exponents in M: fused last {fit(last_):.2f}, fused all {fit(every_):.2f}, per layer {fit(before_):.2f},"
              f" eigh {fit(eigh_):.2f}")


if __name__ == "__main__":
    main()
