"""The proportional limit: ``P, N -> inf`` at fixed ``alpha = P/N``, where the renormalised answers become exact.

    python docs/renormalization/proportional_limit.py     # about 2 minutes

1. Deep linear network against ``net.exact``: the log evidence of the saddle and of the saddle with its loop, and the
   relative error of the predictive variance (and mean, at finite ``beta``), ``P = 40 .. 640``, with fitted exponents.
2. One non-odd layer (``2 t^2 - 0.6 t^3``) against the exact integral of the Gaussian-equivalent model
   (``tests/oracle/gaussian_equivalent.py``).
The data are those of ``tests/test_renormalized.py``.
"""
from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

import numpy as np
import sympy as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from perturbo import ShapedMLP  # noqa: E402
from perturbo.renormalization import build_ansatz  # noqa: E402
from tests.oracle.gaussian_equivalent import gaussian_equivalent_log_evidence  # noqa: E402
from tests.test_renormalized import NON_ODD, SIZES, nested_teacher, teacher  # noqa: E402


def exponent(errors) -> str:
    return f"{np.polyfit(np.log(SIZES[:len(errors)]), np.log(errors), 1)[0]:.2f}"


def deep_linear() -> None:
    print("| alpha | L | noise | loop: log evidence error at P = 40 .. 640 | exponent | saddle alone | "
          "variance, rel. error at 640 | exponent |\n| --- | --- | --- | --- | --- | --- | --- | --- |")
    for alpha in (0.5, 1.0):
        for depth in (1, 2, 3):
            for noise in (0.0, 0.3):
                loop, saddle, var = [], [], []
                for P in SIZES:
                    X, y, X_test, _ = nested_teacher(P)
                    beta = math.inf if noise == 0 else P / noise
                    net = ShapedMLP(depth=depth, width=round(P / alpha))
                    exact = net.exact(X, y, X_test, beta=beta)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)
                        kr = net.renormalized(X, y, X_test, beta=beta)
                    loop.append(abs(kr.log_evidence - exact.log_evidence))
                    saddle.append(abs(kr.action - exact.log_evidence))
                    var.append(np.linalg.norm(kr.var - exact.var) / np.linalg.norm(exact.var))
                print(f"| {alpha} | {depth} | {noise} | {', '.join(f'{e:.2g}' for e in loop)} | {exponent(loop)} | "
                      f"{min(saddle):.2g} - {max(saddle):.2g} | {var[-1]:.2g} | {exponent(var)} |", flush=True)


def non_odd() -> None:
    print("\n| alpha | noise | loop: error against the Gaussian-equivalent integral, P = 40 .. 320 | exponent | "
          "saddle alone |\n| --- | --- | --- | --- | --- |")
    for alpha in (0.5, 1.0):
        for noise in (0.0, 0.3):
            loop, saddle = [], []
            for P in SIZES[:4]:
                X, y, _, _ = teacher(P, 2 * P, seed=P, noise=0.3)
                width = round(P / alpha)
                net = ShapedMLP(depth=1, width=width, activation=NON_ODD)
                kr = net.renormalized(X, y, beta=math.inf if noise == 0 else P / noise)
                family = build_ansatz("wishart", net.kernels(X), net.activation.phi, sp.Integer(1), net.widths, P, y,
                                      noise).family
                reference = gaussian_equivalent_log_evidence(family.Kc, family.mu, y, width, noise)
                loop.append(abs(kr.log_evidence - reference))
                saddle.append(abs(kr.action - reference))
            print(f"| {alpha} | {noise} | {', '.join(f'{e:.2g}' for e in loop)} | {exponent(loop)} | "
                  f"{min(saddle):.2g} - {max(saddle):.2g} |", flush=True)


if __name__ == "__main__":
    deep_linear()
    non_odd()
