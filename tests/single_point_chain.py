"""Exact 1/N coefficients of the evidence of one data point (docs/design.md section 5, third check).

Shares no code with perturbo. On one input the Gram chain is a scalar Markov chain:
``S_l = (1/N) sum_i Y_i`` with ``Y = sigma_w2 phi(z)^2``, ``z ~ N(0, S_{l-1})``. Its
conditional cumulants are ``kappa_j(S_l | s) = eps^{j-1} kappa_j(Y)`` (``eps = 1/N``),
where ``E[Y^k] = sigma_w2^k E[phi(z)^{2k}]`` is a polynomial in ``s`` from
``E[z^{2n}] = (2n-1)!! s^n``. Moments follow from cumulants, layer by layer, in exact
rational arithmetic, truncated at ``eps^order`` (no negative powers of ``eps`` ever
appear, so the truncation is exact). With ``D = S_L - K_L``,

    E[G(S_L)] = sum_{j <= 2 order} G^{(j)}(K_L) E[D^j] / j!,   G(S) = N(y; 0, S + P/beta),

and the ``eps^k`` coefficients of ``log E[G(S_L)]`` are the order-``k`` log-evidence terms.
"""
from __future__ import annotations

import math

import sympy as sp

eps = sp.Symbol("eps", positive=True)


def _truncate(expr: sp.Expr, order: int) -> sp.Expr:
    poly = sp.Poly(sp.expand(expr), eps)
    return sum((c * eps**k for (k,), c in poly.terms() if k <= order), sp.Integer(0))


def _conditional_moments(phi: sp.Expr, t: sp.Symbol, sigma_w2: sp.Rational, s: sp.Symbol, count: int, order: int):
    """``E[S_l^j | S_{l-1} = s]`` for ``j = 0..count``, polynomials in ``s`` and ``eps``."""
    def gaussian(n: int) -> sp.Expr:  # E[z^n], z ~ N(0, s)
        return sp.Integer(0) if n % 2 else sp.Integer(math.prod(range(n - 1, 0, -2))) * s ** (n // 2)

    def raw_Y(k: int) -> sp.Expr:
        poly = sp.Poly(sp.expand(phi ** (2 * k)), t)
        return sp.expand(sigma_w2**k * sum(c * gaussian(n) for (n,), c in poly.terms()))

    raw = [sp.Integer(1)] + [raw_Y(k) for k in range(1, count + 1)]
    # cumulants of Y from its moments, then kappa_j(S) = eps^(j-1) kappa_j(Y), then moments of S
    kappa = [sp.Integer(0)] * (count + 1)
    for n in range(1, count + 1):
        kappa[n] = sp.expand(raw[n] - sum(sp.binomial(n - 1, k - 1) * kappa[k] * raw[n - k] for k in range(1, n)))
    kappa_S = [sp.Integer(0)] + [eps ** (j - 1) * kappa[j] for j in range(1, count + 1)]
    moments = [sp.Integer(1)]
    for n in range(1, count + 1):
        moments.append(_truncate(sum(sp.binomial(n - 1, k - 1) * kappa_S[k] * moments[n - k] for k in range(1, n + 1)), order))
    return moments


def single_point_log_evidence_terms(
    phi: sp.Expr, sigma_w2: sp.Rational, S0: sp.Rational, y: sp.Rational, noise: sp.Rational, depth: int, order: int
) -> list[sp.Expr]:
    """Exact ``[log G(K_L), term_1, ..., term_order]`` as functions of ``eps`` = 1/width (equal widths)."""
    (t,) = phi.free_symbols
    s = sp.Symbol("s")
    # needed moment degrees per layer, from the top: layer L needs 2 order, each layer multiplies by deg_s
    deg_s = sp.Poly(sp.expand(phi**2), t).degree() // 2
    needed = [2 * order]
    for _ in range(depth - 1):
        needed.append(needed[-1] * deg_s)
    moments = [S0**j for j in range(needed[-1] * deg_s + 1)]  # layer 0 is deterministic
    for layer in range(depth):
        count = needed[depth - 1 - layer]
        conditional = _conditional_moments(phi, t, sigma_w2, s, count, order)
        moments = [
            _truncate(sum(c * moments[k] for (k,), c in sp.Poly(cm, s).terms()), order) for cm in conditional
        ]
    K_L = moments[1].subs(eps, 0)
    central = [
        _truncate(sum(sp.binomial(j, i) * moments[i] * (-K_L) ** (j - i) for i in range(j + 1)), order)
        for j in range(2 * order + 1)
    ]
    S = sp.Symbol("S")
    G = (2 * sp.pi * (S + noise)) ** sp.Rational(-1, 2) * sp.exp(-(y**2) / (2 * (S + noise)))
    ratio = sum(sp.diff(G, S, j).subs(S, K_L) / sp.factorial(j) * central[j] for j in range(2 * order + 1))
    ratio = _truncate(sp.expand(ratio / G.subs(S, K_L)), order)
    log_ratio = sp.expand(sp.series(sp.log(ratio), eps, 0, order + 1).removeO())
    return [sp.log(G.subs(S, K_L))] + [log_ratio.coeff(eps, k) for k in range(1, order + 1)]
