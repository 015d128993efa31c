"""Brute-force first order with full tensors (docs/design.md section 3), for tiny data, finite beta.

Independent of perturbo's engine: Gauss-Hermite quadrature for the noise covariance,
ordered-pair tensors ``mu_ab``, ``V_abcd``, and derivatives of the likelihood under the
Gaussian-process posterior (Stein/Hermite) instead of the Neumann series.

    V_l  = (J_l x J_l) V_{l-1} + (sigma_w2^2 / N_l) Cov_{K_{l-1}}(phi_a phi_b, phi_c phi_d)
    mu_l = J_l mu_{l-1} + (1/2) H_l[V_{l-1}]
    E[z Q] = E_post[Q] + (1/2) mu_ab E_post[d_a d_b Q / q] + (1/8) V_abcd E_post[d_a d_b d_c d_d Q / q]

with ``Q = q(f_D) r(f_x)``, ``q = exp(-|y - f_D|^2 / 2 sigma2)`` and ``r`` in ``{1, f_x, f_x^2}``.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import sympy as sp


def _mean_map_derivatives(phi, sigma_w2: float):
    """Numeric ``m`` and its first and second partials in ``(S_aa, S_bb, S_ab)`` and along the diagonal."""
    (t,) = phi.free_symbols or {sp.Symbol("t")}
    Saa, Sbb, Sab = sp.symbols("Saa Sbb Sab")
    # m = sigma_w2 E[phi(z_a) phi(z_b)] by direct Gaussian integration (SymPy, a 2-d integral of a polynomial)
    g1, g2 = sp.symbols("g1 g2")
    za = sp.sqrt(Saa) * g1
    zb = Sab / sp.sqrt(Saa) * g1 + sp.sqrt(Sbb - Sab**2 / Saa) * g2
    integrand = sp.expand(phi.subs(t, za) * phi.subs(t, zb))
    poly = sp.Poly(integrand, g1, g2)

    def gaussian(k: int) -> int:
        return 0 if k % 2 else math.prod(range(k - 1, 0, -2))

    m = sp.simplify(sigma_w2 * sum(c * gaussian(i) * gaussian(j) for (i, j), c in poly.terms()))
    variables = (Saa, Sbb, Sab)
    grad = [sp.diff(m, v) for v in variables]
    hess = [[sp.diff(m, v, w) for w in variables] for v in variables]
    x = sp.Symbol("x")
    diag = m.subs({Saa: x, Sbb: x, Sab: x})
    f = sp.lambdify(variables, [grad, hess], "math")
    fd = sp.lambdify(x, [sp.diff(diag, x), sp.diff(diag, x, 2)], "math")
    return f, fd


def _noise_covariance(phi_numeric, K: np.ndarray, nodes: int = 8) -> np.ndarray:
    """``Cov(phi_a phi_b, phi_c phi_d)`` under ``z ~ N(0, K)`` by tensor Gauss-Hermite quadrature."""
    M = len(K)
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / math.sqrt(2 * math.pi)
    grid = np.array(list(itertools.product(range(nodes), repeat=M)))
    g, weights = x[grid], np.prod(w[grid], axis=1)
    lam, U = np.linalg.eigh(K)
    z = g @ (U * np.sqrt(np.clip(lam, 0, None))).T
    p = phi_numeric(z)
    second = np.einsum("n,na,nb->ab", weights, p, p)
    fourth = np.einsum("n,na,nb,nc,nd->abcd", weights, p, p, p, p)
    return fourth - np.einsum("ab,cd->abcd", second, second)


def fluctuation_moments(kernels, widths, phi, phi_numeric, sigma_w2):
    """First-order ``mu_L`` (M, M) and ``V_L`` (M, M, M, M) over ordered pairs."""
    f, fd = _mean_map_derivatives(phi, sigma_w2)
    M = len(kernels[0])
    mu = np.zeros((M, M))
    V = np.zeros((M, M, M, M))
    for l, N in enumerate(widths, start=1):
        K = kernels[l - 1]
        J = np.zeros((M, M, M, M))
        H = np.zeros((M, M, M, M, M, M))
        for a, b in itertools.product(range(M), repeat=2):
            if a == b:
                d1, d2 = fd(K[a, a])
                J[a, a, a, a] = d1
                H[a, a, a, a, a, a] = d2
                continue
            grad, hess = f(K[a, a], K[b, b], K[a, b])
            entries = [((a, a),), ((b, b),), ((a, b), (b, a))]  # S_ab is shared by D_ab and D_ba
            for v, cells in enumerate(entries):
                for c, d in cells:
                    J[a, b, c, d] = grad[v] / len(cells)
                for u, cells2 in enumerate(entries):
                    for c, d in cells:
                        for e, g in cells2:
                            H[a, b, c, d, e, g] = hess[v][u] / (len(cells) * len(cells2))
        noise = sigma_w2**2 / N * _noise_covariance(phi_numeric, K)
        mu = np.einsum("abcd,cd->ab", J, mu) + 0.5 * np.einsum("abcdeg,cdeg->ab", H, V)
        V = np.einsum("abcd,efgh,cdgh->abef", J, J, V) + noise
    return mu, V


def _gaussian_moment(indices: tuple[int, ...], mean: np.ndarray, cov: np.ndarray) -> float:
    """``E[prod_i f_{indices[i]}]`` for ``f ~ N(mean, cov)``: expand the first factor."""
    if not indices:
        return 1.0
    first, rest = indices[0], indices[1:]
    total = mean[first] * _gaussian_moment(rest, mean, cov)
    for j, other in enumerate(rest):
        total += cov[first, other] * _gaussian_moment(rest[:j] + rest[j + 1 :], mean, cov)
    return total


def first_order_readout(K, P, y, sigma2, mu, V, readout: str, x: int | None = None) -> tuple[float, float]:
    """``(E_post[r], order-1 part of E[z r] / Z_GP)`` for ``r`` in ``{"1", "f", "f2"}`` at test index ``x``."""
    M = len(K)
    f = sp.symbols(f"f0:{M}")
    q = sp.exp(-sum((y[a] - f[a]) ** 2 for a in range(P)) / (2 * sigma2))
    r = {"1": sp.Integer(1), "f": f[x] if x is not None else None, "f2": f[x] ** 2 if x is not None else None}[readout]
    A = np.linalg.inv(K[:P, :P] + sigma2 * np.eye(P))
    post_mean = K[:, :P] @ A @ y
    post_cov = K - K[:, :P] @ A @ K[:P, :]

    def expect(indices: tuple[int, ...]) -> float:
        derivative = q * r
        for i in indices:
            derivative = sp.diff(derivative, f[i])
        poly = sp.Poly(sp.expand(sp.simplify(derivative / q)), *f)
        return sum(
            float(c) * _gaussian_moment(tuple(i for i, k in enumerate(m) for _ in range(k)), post_mean, post_cov)
            for m, c in poly.terms()
        )

    first = 0.0
    cache: dict[tuple[int, ...], float] = {}
    for pair in itertools.product(range(M), repeat=2):
        key = tuple(sorted(pair))
        cache.setdefault(key, expect(key))
        first += 0.5 * mu[pair] * cache[key]
    for quad in itertools.product(range(M), repeat=4):
        if V[quad] != 0.0:
            key = tuple(sorted(quad))
            if key not in cache:
                cache[key] = expect(key)
            first += V[quad] * cache[key] / 8
    return expect(()), first
