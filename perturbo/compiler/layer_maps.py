"""The layer map's local Taylor coefficients and the propagators built from them.

``m(S)_ab = f(S_aa, S_bb, S_ab)`` with ``f`` the Gaussian mean map (``symbolic.mean_map``),
the same polynomial on and off the diagonal. Around a kernel ``K``,

    m(K + X)_ab - m(K)_ab = sum_{|beta| >= 1} c^beta_ab X_aa^beta1 X_bb^beta2 X_ab^beta3,
    c^beta_ab = (d^beta f / beta!)(K_aa, K_bb, K_ab),

for every ``(a, b)``, ``a = b`` included (there the three entries coincide and the sum is the
Taylor series of ``f(s, s, s)``). The linear part is the Jacobian
``(J X)_ab = F_ab X_ab + E_ab X_aa + E_ba X_bb`` with ``F = c^(0,0,1)``, ``E = c^(1,0,0)``;
the propagator ``P_{l<-s} = J_l ... J_{s+1}`` keeps this form,

    (P X)_ab = W_ab X_ab + U_ab X_aa + U_ba X_bb,
    W <- F W,   U <- F U + E d_a,   d = diag(W + 2U)   (one layer more),

starting from ``W = 1``, ``U = 0``.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from functools import cached_property, lru_cache

import numpy as np
import sympy as sp
from numba import njit, prange

from ..runtime.local_map import LocalPolynomial, local_polynomial
from ..symbolic.mean_map import S_aa, S_ab, S_bb, mean_map_expr

Beta = tuple[int, int, int]
VARIABLES = (S_aa, S_bb, S_ab)


def taylor_coefficients(f: sp.Expr, variables: tuple[sp.Symbol, sp.Symbol, sp.Symbol], max_degree: int,
                        simplify: Callable[[sp.Expr], sp.Expr] = sp.expand) -> dict[Beta, sp.Expr]:
    """The non-zero local Taylor coefficients ``d^beta f / beta!``, ``1 <= |beta| <= max_degree``, of a map
    ``f(S_aa, S_bb, S_ab)`` (``variables``): of a layer map here, of the continuum flow in ``continuum``."""
    out = {}
    for n in range(1, max_degree + 1):
        for b1 in range(n + 1):
            for b2 in range(n - b1 + 1):
                beta = (b1, b2, n - b1 - b2)
                e = sp.diff(f, *[v for v, k in zip(variables, beta) for _ in range(k)])
                e = simplify(e / math.prod(math.factorial(k) for k in beta))
                if e != 0:
                    out[beta] = e
    return out


class LocalMap:
    """The symbolic Taylor coefficients ``d^beta f / beta!`` of one activation's layer map (``of_polynomial``: of any
    local map ``f(S_aa, S_bb, S_ab)``, such as the mean part of a non-odd activation's)."""

    def __init__(self, phi: sp.Expr, sigma_w2: sp.Rational) -> None:
        self.f = mean_map_expr(phi, sigma_w2)
        self.degree = sp.Poly(self.f, *VARIABLES).total_degree()

    @classmethod
    def of_polynomial(cls, f: sp.Expr) -> LocalMap:
        local = cls.__new__(cls)
        local.f = sp.expand(f)
        local.degree = sp.Poly(local.f, *VARIABLES).total_degree()
        return local

    @cached_property
    def coefficients(self) -> dict[Beta, sp.Expr]:
        """Non-zero ``d^beta f / beta!`` for ``1 <= |beta| <= deg f``."""
        return taylor_coefficients(self.f, VARIABLES, self.degree)

    @cached_property
    def curvatures(self) -> tuple[Beta, ...]:
        return tuple(sorted(b for b in self.coefficients if sum(b) >= 2))

    @cached_property
    def _numeric(self) -> dict[Beta, LocalPolynomial]:
        return {beta: local_polynomial(e, VARIABLES) for beta, e in self.coefficients.items()}

    def weights(self, K: np.ndarray, max_degree: int | None = None) -> dict[Beta, np.ndarray]:
        """``c^beta`` at the kernel ``K`` (``|beta| <= max_degree``, default all), as ``M x M`` matrices."""
        return {beta: fn.apply(K) for beta, fn in self._numeric.items() if max_degree is None or sum(beta) <= max_degree}


@lru_cache(maxsize=64)
def local_map_of(phi: sp.Expr, sigma_w2: sp.Expr) -> LocalMap:
    """One ``LocalMap`` per activation and weight variance (its SymPy derivatives taken once per process)."""
    return LocalMap(phi, sigma_w2)


@njit(cache=True, parallel=True)
def _propagate(X, W, U, out):
    """``out[p, u, v, q] = W_uv X[p, u, v, q] + U_uv X[p, u, u, q] + U_vu X[p, v, v, q]`` (``X`` as ``(pre, M, M, post)``)."""
    pre, M, _, post = X.shape
    for block in prange(pre * M):
        p, u = block // M, block % M
        for v in range(M):
            w, uu, vu = W[u, v], U[u, v], U[v, u]
            for q in range(post):
                out[p, u, v, q] = w * X[p, u, v, q] + uu * X[p, u, u, q] + vu * X[p, v, v, q]


def propagate(tensor: np.ndarray, axes: tuple[int, int], propagator: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """Apply ``(P X)_uv = W_uv X_uv + U_uv X_uu + U_vu X_vv`` to the adjacent axis pair ``axes`` of ``tensor`` (one
    compiled pass; a new C-contiguous array)."""
    if propagator is None:
        return tensor
    W, U = propagator
    i, j = axes
    if j != i + 1:
        raise ValueError(f"propagate acts on an adjacent axis pair, not {axes}")
    shape = tensor.shape
    X = np.ascontiguousarray(tensor).reshape(math.prod(shape[:i]), shape[i], shape[j], math.prod(shape[j + 1:]))
    out = np.empty_like(X)
    _propagate(X, np.ascontiguousarray(W, dtype=float), np.ascontiguousarray(U, dtype=float), out)
    return out.reshape(shape)
