"""Shaped activations ``phi(t) = t + p(t)/L`` for a polynomial shaping ``p``.

The default shaping is the cubic of Hanin & Zlokapa, ``p(t) = psi t^3 / 3``.
A user-supplied shaping is a SymPy expression or a string in ``t``; float
coefficients are turned into exact rationals so that the symbolic engine works
in exact arithmetic.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import sympy as sp

t = sp.Symbol("t", real=True)

_ALLOWED_CHARACTERS = re.compile(r"^[0-9t\s.+\-*/()eE^]*$")


def parse_shaping(activation: str | sp.Expr | None, psi: float) -> sp.Expr:
    """Return the shaping polynomial ``p(t)`` with exact rational coefficients.

    ``activation=None`` gives the default cubic ``psi t^3/3``. Raises
    ``ValueError`` when the expression is not a real polynomial in ``t``.
    """
    if activation is None:
        return sp.nsimplify(psi, rational=True) * t**3 / 3
    if isinstance(activation, str):
        if not activation.strip():
            raise ValueError("activation is an empty string; give a polynomial in t such as '0.5*t**2 - 0.3*t**3'")
        if not _ALLOWED_CHARACTERS.match(activation):
            raise ValueError(
                f"activation {activation!r} is not a polynomial in t: use numbers, t, + - * / ** and parentheses "
                "(for example '0.5*t**2 - 0.3*t**3')"
            )
        try:
            expr = sp.sympify(activation.replace("^", "**"), locals={"t": t, "E": sp.Symbol("E"), "e": sp.Symbol("e")})
        except (sp.SympifyError, SyntaxError, TypeError, ValueError):
            raise ValueError(
                f"activation {activation!r} could not be parsed as a polynomial in t: check the operators and "
                "parentheses (for example '0.5*t**2 - 0.3*t**3')"
            ) from None
    elif isinstance(activation, sp.Basic):
        expr = activation.subs({s: t for s in activation.free_symbols if s.name == "t"})
    else:
        raise ValueError(f"activation must be a SymPy expression or a string in t, not {type(activation).__name__}")
    return _as_rational_polynomial(sp.sympify(expr), activation)


def _as_rational_polynomial(expr: sp.Expr, original: object) -> sp.Expr:
    extra = expr.free_symbols - {t}
    if extra:
        names = ", ".join(sorted(str(s) for s in extra))
        raise ValueError(f"activation {original!r} depends on {names}; it must be a polynomial in t alone")
    if not expr.is_polynomial(t):
        raise ValueError(f"activation {original!r} is not a polynomial in t")
    poly = sp.Poly(sp.nsimplify(sp.expand(expr), rational=True), t)
    for c in poly.all_coeffs():
        if not (c.is_real and c.is_finite):
            raise ValueError(f"activation {original!r} has a coefficient {c} that is not a finite real number")
    return poly.as_expr()


def power_coefficients(phi: sp.Expr) -> np.ndarray:
    """The float coefficients of the polynomial ``phi(t)`` in ascending powers of ``t``."""
    return np.array([float(c) for c in reversed(sp.Poly(phi, t).all_coeffs())])


@dataclass(frozen=True)
class Activation:
    """``phi(t) = t + p(t)/depth`` with ``p`` the (exact) shaping polynomial."""

    shaping: sp.Expr
    depth: int

    @cached_property
    def phi(self) -> sp.Expr:
        return sp.expand(t + self.shaping / self.depth)

    @cached_property
    def coefficients(self) -> np.ndarray:
        """Float coefficients of ``phi`` in ascending powers of ``t``."""
        return power_coefficients(self.phi)

    @property
    def degree(self) -> int:
        return len(self.coefficients) - 1

    @property
    def is_linear(self) -> bool:
        return self.shaping == 0

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """Evaluate ``phi`` elementwise (Horner's scheme)."""
        out = np.full_like(z, self.coefficients[-1], dtype=float)
        for c in self.coefficients[-2::-1]:
            out = out * z + c
        return out
