"""The local (two-point) algebra of one layer, as SymPy expressions in ``S_aa, S_bb, S_ab``.

For ``(u, v) ~ N(0, [[S_aa, S_ab], [S_ab, S_bb]])``:

    G^(i,j)  = sigma_w2 E[phi^(i)(u) phi^(j)(v)]        derivative kernels, G^(0,0) = m
    Phi2^(i) = sigma_w2 E[(phi^2)^(i)(u)]                 (a function of S_aa only)
    J        = (dm/dS_ab, dm/dS_aa)  off the diagonal,  w = d m(s,s,s)/ds  on it
    H        = second derivatives of m in (S_ab, S_aa, S_bb),  h = d^2 m(s,s,s)/ds^2

Everything the compiled first order needs from the activation is here; the compiler evaluates these
expressions as monomial tables (``compiler.factored.LayerAlgebra``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from ..activation import t
from .gaussian_moments import expect_polynomial
from .mean_map import S_aa, S_ab, S_bb, mean_map_expr

_u, _v = sp.symbols("u v", real=True)
_s = sp.Symbol("s", real=True)


@dataclass(frozen=True)
class LocalAlgebra:
    """The expressions of the module docstring for one activation."""

    max_derivative: int
    kernels: dict[tuple[int, int], sp.Expr]  # G^(i,j), only the non-zero ones
    square_derivatives: dict[int, sp.Expr]  # Phi2^(i) in S_aa, only the non-zero ones
    jacobian: tuple[sp.Expr, sp.Expr]  # dm/dS_ab, dm/dS_aa
    diagonal_slope: sp.Expr  # w(S_aa)
    hessian: dict[tuple[int, int], sp.Expr]  # (k, l) over (S_ab, S_aa, S_bb), k <= l
    diagonal_curvature: sp.Expr  # h(S_aa)
    mean_map: sp.Expr

    @property
    def max_vertex_derivative(self) -> int:
        """Derivatives one point of a pulled-back pair function can carry: ``phi(u)^2`` has degree ``2 deg``."""
        return 2 * self.max_derivative

    @property
    def map_is_linear(self) -> bool:
        """``m`` linear in ``S`` with a constant slope: the pulled-back Jacobian is a scalar."""
        return all(e == 0 for e in self.hessian.values()) and not self.jacobian[1] and self.jacobian[0].is_number


@lru_cache(maxsize=32)
def local_algebra(phi: sp.Expr, sigma_w2: sp.Expr) -> LocalAlgebra:
    """Derive ``LocalAlgebra`` for ``phi`` (a polynomial in ``t``) by Wick's theorem."""
    cov = sp.Matrix([[S_aa, S_ab], [S_ab, S_bb]])
    degree = sp.Poly(phi, t).degree()
    derivatives = [sp.diff(phi, t, i) for i in range(degree + 1)]
    kernels = {}
    for i in range(degree + 1):
        for j in range(degree + 1):
            product = derivatives[i].subs(t, _u) * derivatives[j].subs(t, _v)
            e = sp.expand(sigma_w2 * expect_polynomial(product, (_u, _v), lambda a, b: cov[a, b]))
            if e != 0:
                kernels[(i, j)] = e
    square = {}
    for i in range(2 * degree + 1):
        e = sp.expand(sigma_w2 * expect_polynomial(sp.diff(phi**2, t, i).subs(t, _u), (_u,), lambda a, b: S_aa))
        if e != 0:
            square[i] = e
    m = mean_map_expr(phi, sigma_w2)
    on_diagonal = m.subs({S_aa: _s, S_bb: _s, S_ab: _s})
    variables = (S_ab, S_aa, S_bb)
    hessian = {
        (k, l): sp.expand(sp.diff(m, variables[k], variables[l])) for k in range(3) for l in range(k, 3)
    }
    return LocalAlgebra(
        max_derivative=degree,
        kernels=kernels,
        square_derivatives=square,
        jacobian=(sp.expand(sp.diff(m, S_ab)), sp.expand(sp.diff(m, S_aa))),
        diagonal_slope=sp.expand(sp.diff(on_diagonal, _s)).subs(_s, S_aa),
        hessian=hessian,
        diagonal_curvature=sp.expand(sp.diff(on_diagonal, _s, 2)).subs(_s, S_aa),
        mean_map=m,
    )
