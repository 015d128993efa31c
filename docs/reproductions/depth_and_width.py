"""When do depth and finite width help? Three criteria recomputed with perturbo, and the two infinite-width limits.

    python docs/reproductions/depth_and_width.py     # about 5 minutes (NUTS)

1. Hanin & Jiang (arXiv 2605.30860): to first order, a larger effective depth L P/N raises the log evidence where the
   first-order coefficient per unit L P/N is positive (``perturbo.depth_benefit``), on the digits tasks.
2. The Rotondo talk's criterion (P. Rotondo, Trento 2023, on Ariosto et al., arXiv 2209.04882; Li & Sompolinsky's deep
   linear theory): at zero temperature finite width lowers the test error of a deep linear network where
   y^T K^-1 y < P, the renormalised scale s* < 1 shrinking the posterior variance, and raises it where y^T K^-1 y > P:
   the exact deep linear answer against r0 = y^T K^-1 y / P, and posterior sampling (NUTS) of a shaped network at
   small noise on the same two kinds of data.
3. R. Grosse's lecture (CSC 2541, Lecture 6, Toronto 2021): the Bayesian (NNGP) and the gradient-flow (NTK)
   infinite-width predictors on digits.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from perturbo import ShapedMLP
from perturbo.datasets import digits, linear_teacher
from perturbo.depth_benefit import depth_benefit


def scale_for(X: np.ndarray, y: np.ndarray, r0: float, depth: int) -> float:
    """The factor that gives the targets ``y^T K_L^-1 y / P = r0`` (the deep linear network's ``K_L``)."""
    K = ShapedMLP(depth=depth, width=1).kernels(X)[-1]
    return math.sqrt(r0 / (y @ np.linalg.solve(K, y) / len(y)))


def main() -> None:
    print("1. first-order coefficient of the log evidence per unit L P/N (finite L = 4, 16, 64; continuum)")
    for task in ((0, 1), (3, 8), "even-odd"):
        X, y, _, _ = digits(task, n_train=30, n_test=0, seed=0)
        for psi in (0.0, -0.6):
            for label, beta in (("beta = inf", math.inf), ("noise 1", 30.0)):
                d = depth_benefit(X, y, beta=beta, psi=psi)
                continuum = "n/a" if d.continuum is None else f"{d.continuum:+.4g}"
                print(f"  digits {task!s:9} psi = {psi:+.1f} {label:10}: r0 = {d.r0:7.3g}, c = "
                      + ", ".join(f"{c:+.4g}" for c in d.coefficient) + f", continuum {continuum}: depth "
                      + ("helps" if d.depth_helps else "hurts"))

    print("\n2a. deep linear, beta = inf (L = 4, P = 20, N0 = 40): exact test error at L P/N = 0.02 and 2")
    X, y, X_test, y_test = linear_teacher(20, 200, dimension=40, noise=0.3, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for r0 in (0.3, 0.7, 1.0, 1.5, 3.0):
            scale = scale_for(X, y, r0, 4)
            errors = [ShapedMLP(depth=4, width=N).exact(X, scale * y, X_test).generalization_error(scale * y_test)
                      for N in (4000, 40)]
            verdict = "finite width better" if errors[1] < errors[0] else "infinite width better"
            print(f"  r0 = {r0:4.2f}: infinite width {errors[0]:.4f}, N = 40 {errors[1]:.4f}: {verdict}")

    print("\n2b. shaped (psi = -0.6, L = 3), noise variance 0.05, P = 20: NUTS at N = 20 against the NNGP (order 0)")
    for r0 in (0.4, 3.0):
        scale = scale_for(X, y, r0, 3)
        net = ShapedMLP(depth=3, width=20, psi=-0.6)
        gp = net.predict(X, scale * y, X_test[:40], beta=20 / 0.05).generalization_error(scale * y_test[:40])
        post = net.sample_posterior(X, scale * y, X_test[:40], beta=20 / 0.05, samples=1000, chains=2, warmup=1000,
                                    seed=0, progress=False)
        error = post.generalization_error(scale * y_test[:40])
        print(f"  r0 = {r0}: NNGP {gp:.4f}, finite network (NUTS) {error:.4f}, max R-hat {np.max(post.rhat):.3f}: "
              + ("finite width better" if error < gp else "infinite width better"))

    print("\n3. digits 0 vs 1, P = 30 (< N0 = 64), beta = inf: test error of the NNGP posterior and of the NTK predictor")
    X, y, X_test, y_test = digits((0, 1), n_train=30, n_test=100, seed=0)
    for psi in (0.0, -0.6):
        for L in (3, 10):
            net = ShapedMLP(depth=L, width=100, psi=psi)
            gp, nt = net.predict(X, y, X_test, beta=math.inf), net.ntk(X, y, X_test)
            sign = np.mean(np.sign(nt.mean) == y_test), np.mean(np.sign(gp.mean) == y_test)
            print(f"  psi = {psi:+.1f}, L = {L:2d}: NNGP error {gp.generalization_error(y_test):.4f} (mean part "
                  f"{np.mean((gp.mean - y_test) ** 2):.4f}, accuracy {sign[1]:.2f}); NTK error "
                  f"{nt.generalization_error(y_test):.4f} (mean part {np.mean((nt.mean - y_test) ** 2):.4f}, "
                  f"accuracy {sign[0]:.2f})")


if __name__ == "__main__":
    main()
