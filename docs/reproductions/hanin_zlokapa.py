"""Hanin & Zlokapa, "Bayesian inference with deep weakly nonlinear networks" (arXiv 2405.16630): the three results of
the first-order computation, recomputed with perturbo.

    python docs/reproductions/hanin_zlokapa.py      # about a minute

(i)   In the kernel regime the shaping sets the geometry of the feature map: for psi < 0 the features
      xh = x / sqrt(1 - 2 psi |x|^2/N0) of inputs of growing norm saturate (a sphere), for psi = 0 they grow linearly
      (a plane), for psi > 0 they blow up at a finite norm (a hyperboloid). Shown with the finite-depth NNGP kernel
      K_L(x, x) at L = 64 along a ray, against the continuum formula.
(ii)  At zero temperature the first-order posterior mean is that of a data-dependent kernel: its correction vanishes
      for the deep linear network and, for psi != 0, is odd and not linear in the targets; it depends on L and N
      through L/N as L grows (the effective depth L P/N).
(iii) Deep linear network, noisy data with the signal in a few strong input directions and a long flat tail of weak
      ones that absorbs the label noise (benign overfitting): log evidence and generalisation error are best at zero
      temperature and improve as L P / N grows (net.exact). The paper's own data model was not available to check
      against; this is a model of that kind.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from perturbo import ShapedMLP
from perturbo.datasets import linear_teacher

N0 = 20


def feature_norms(psi: float, depth: int = 64, norms=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0)) -> tuple[list, list]:
    """``K_L(x, x)`` at depth ``depth`` and its continuum limit for inputs ``x`` with ``|x|^2/N0 = q``."""
    direction = np.ones(N0)
    finite, continuum = [], []
    for q in norms:
        x = math.sqrt(q) * direction
        try:
            finite.append(float(ShapedMLP(depth=depth, width=1, psi=psi).kernels(x[None])[-1][0, 0]))
        except ValueError:  # the kernel overflows before the output: the feature map has blown up
            finite.append(math.inf)
        continuum.append(q / (1 - 2 * psi * q) if 1 - 2 * psi * q > 0 else math.inf)
    return finite, continuum


def spiked_teacher(P=50, T=400, k=5, N0=2000, noise=0.5, tail=1.0, seed=0):
    """Signal in ``k`` input directions of variance ``N0/k``; a tail of ``N0 - k`` directions whose total variance is
    ``tail N0`` acts on the kernel as a ridge of size ``tail``; labels ``y = w.x + noise * N(0, 1)``."""
    rng = np.random.default_rng(seed)
    lam = np.concatenate([np.full(k, N0 / k), np.full(N0 - k, tail * N0 / (N0 - k))])
    Z = rng.normal(size=(P + T, N0)) * np.sqrt(lam)
    w = np.zeros(N0)
    w[:k] = rng.normal(size=k) / math.sqrt(N0)
    y = Z @ w + noise * rng.normal(size=P + T)
    return Z[:P], y[:P], Z[P:], y[P:]


def main() -> None:
    print("(i) K_L(x, x) along a ray, L = 64 (continuum in brackets); |x|^2/N0 = 0.25, 0.5, 1, 2, 4, 8")
    for psi in (-0.6, 0.0, 0.6):
        finite, continuum = feature_norms(psi)
        print(f"  psi = {psi:+.1f}: " + "  ".join(f"{f:8.3g} ({c:.3g})" for f, c in zip(finite, continuum)))

    print("\n(ii) first-order correction to the zero-temperature posterior mean (P = 6, N0 = 12, first test point)")
    X, y, X_test, _ = linear_teacher(6, 3, dimension=12, noise=0.3, seed=1)
    for psi in (0.0, -0.6):
        for L, N in ((8, 200), (16, 400), (32, 800)):
            net = ShapedMLP(depth=L, width=N, psi=psi)
            m1 = net.predict(X, y, X_test, beta=math.inf, order=1).mean_terms[1, 0]
            m2 = net.predict(X, 2 * y, X_test, beta=math.inf, order=1).mean_terms[1, 0]
            if abs(m1) < 1e-12:
                print(f"  psi = {psi:+.1f}, L = {L:2d}, N = {N}: no correction ({m1:.1e}): the mean is the GP's")
                continue
            print(f"  psi = {psi:+.1f}, L = {L:2d}, N = {N}: correction {m1:+.3e}, N/L times it {m1 * N / L:+.3e}; "
                  f"with targets 2y it is {m2 / m1:.3g} times larger (2 for a fixed kernel)")

    print("\n(iii) deep linear, spiked benign-overfitting data (P = 50): log evidence / P and test error on noisy labels")
    print("      columns: beta = inf, noise variance 0.1, 0.25, 1")
    X, y, X_test, y_test = spiked_teacher()
    P = len(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for N in (10_000, 200, 50, 20):
            net = ShapedMLP(depth=4, width=N)
            cells = []
            for beta in (math.inf, P / 0.1, P / 0.25, P / 1.0):
                exact = net.exact(X, y, X_test, beta=beta)
                cells.append(f"{exact.log_evidence / P:+.3f} / {exact.generalization_error(y_test, noisy=True):.3f}")
            print(f"  L P / N = {4 * P / N:5.2f}: " + "   ".join(cells))


if __name__ == "__main__":
    main()
