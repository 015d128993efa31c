"""Every approximation against Monte Carlo over finite networks in the proportional regime.

    python docs/renormalization/finite_networks.py      # about 15 minutes; writes finite_networks.json beside it

``alpha = P/N = 0.5`` with ``L = 3`` (so ``L P / N = 1.5``), ``P = 20`` and ``40``, the cubic with ``psi = -0.6`` and
``+0.6``, noise variance 1 (``beta = P``), a noisy linear teacher on inputs with ``|x|^2/N0 = 1/2``. The reference is
``net.monte_carlo`` (the Gram chain of finite networks, read out exactly, self-normalised). Each approximation's
deviation is given in combined standard errors, ``(a - mc) / sqrt(se_mc^2 + se_a^2)`` (``se_a`` is non-zero for the
sampled order 2 only).
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from perturbo import ShapedMLP

SAMPLES = 200_000
DEPTH, ALPHA, NOISE = 3, 0.5, 1.0
APPROXIMATIONS = {  # label -> net.renormalized options
    "Wishart, saddle": {"ansatz": "wishart", "loop": False},
    "Wishart, saddle + loop": {"ansatz": "wishart", "loop": True},
    "nested, saddle": {"ansatz": "nested", "loop": False},
    "nested, saddle + loop": {"ansatz": "nested", "loop": True},
    "matched (Wishart + loop)": {"ansatz": "wishart", "matched": True},
    "matched (nested + loop)": {"ansatz": "nested", "matched": True},
}


def data(P: int, T: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    N0 = 2 * P
    X = math.sqrt(0.5) * rng.normal(size=(P + T, N0))
    y = X @ rng.normal(size=N0) * math.sqrt(2.0 / N0) + 0.3 * rng.normal(size=P + T)
    return X[:P], y[:P], X[P:]


def main() -> None:
    rows = []
    for psi in (-0.6, 0.6):
        for P in (20, 40):
            X, y, X_test = data(P)
            net = ShapedMLP(depth=DEPTH, width=round(P / ALPHA), psi=psi)
            beta = P / NOISE
            start = time.perf_counter()
            mc = net.monte_carlo(X, y, X_test, beta=beta, samples=SAMPLES, seed=1)
            results = {"Monte Carlo": (mc.log_evidence, mc.log_evidence_se, mc.mean, mc.mean_se)}
            print(f"psi = {psi:+.1f}, P = {P}: Monte Carlo {mc.log_evidence:.5f} +- {mc.log_evidence_se:.5f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
            ev = net.evidence(X, y, beta=beta, order=1)
            pr = net.predict(X, y, X_test, beta=beta, order=1)
            for k in (0, 1):
                results[f"series, order {k}"] = (ev.terms[: k + 1].sum(), 0.0, pr.mean_terms[: k + 1].sum(0), 0.0)
            ev2 = net.evidence(X, y, beta=beta, order=2, method="sampled", samples=2000, seed=0)
            pr2 = net.predict(X, y, X_test, beta=beta, order=2, method="sampled", samples=2000, seed=0)
            results["series, order 2 (sampled)"] = (ev2.log_evidence, float(np.sqrt(np.sum(ev2.terms_se**2))), pr2.mean,
                                                    np.sqrt(np.sum(pr2.mean_terms_se**2, axis=0)))
            for label, options in APPROXIMATIONS.items():
                kr = net.renormalized(X, y, X_test, beta=beta, **options)
                results[label] = (kr.log_evidence, 0.0, kr.mean, 0.0)
            for label, (value, se, mean, mean_se) in results.items():
                combined = math.hypot(mc.log_evidence_se, se)
                deviation = (value - mc.log_evidence) / combined
                mean_deviation = np.max(np.abs(mean - mc.mean) / np.hypot(mc.mean_se, mean_se))
                rows.append({"psi": psi, "P": P, "N": round(P / ALPHA), "method": label, "log_evidence": value,
                             "log_evidence_se": se, "deviation": deviation, "mean": np.asarray(mean).tolist(),
                             "mean_deviation_max": float(mean_deviation)})
                print(f"  {label:28} {value:+.5f}  {deviation:+8.1f} SE   mean: max {mean_deviation:6.1f} SE", flush=True)
    Path(__file__).with_name("finite_networks.json").write_text(json.dumps(rows, indent=1))
    print("\n| psi | P | method | log evidence | deviation (SE) | mean, max deviation (SE) |\n| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['psi']:+.1f} | {row['P']} | {row['method']} | {row['log_evidence']:.5f} | {row['deviation']:+.1f} | "
              f"{row['mean_deviation_max']:.1f} |")


if __name__ == "__main__":
    main()
