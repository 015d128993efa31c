"""Truncated multivariate Taylor jets with array coefficients.

A jet is a polynomial in formal variables ``delta_1 .. delta_c``,

    x(delta) = sum_{alpha <= top} x_alpha delta^alpha,

kept only for multi-indices ``alpha`` in the box ``0 <= alpha <= top`` (componentwise): every
monomial outside the box is dropped, so products are truncated consistently and the coefficient
of ``delta^top`` comes out exact. Coefficients are arrays (a batch axis of draws first, then a
scalar, a vector or a matrix); missing coefficients are zero, and products skip them (the
support of a jet is what the pattern has reached so far).
"""
from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from itertools import product

import numpy as np

Index = tuple[int, ...]
Binary = Callable[[np.ndarray, np.ndarray], np.ndarray]


class Box:
    """The multi-indices ``0 <= alpha <= top``, ordered by total degree."""

    def __init__(self, top: Index) -> None:
        self.top = tuple(top)
        self.indices = sorted(product(*(range(a + 1) for a in self.top)), key=lambda a: (sum(a), a))
        self.zero: Index = (0,) * len(self.top)
        self.degree = sum(self.top)

    def contains(self, alpha: Index) -> bool:
        return all(a <= b for a, b in zip(alpha, self.top))

    @cached_property
    def splits(self) -> dict[Index, list[tuple[Index, Index]]]:
        """``alpha -> [(beta, gamma), ...]`` with ``beta + gamma = alpha``."""
        out: dict[Index, list[tuple[Index, Index]]] = {alpha: [] for alpha in self.indices}
        for beta in self.indices:
            for gamma in self.indices:
                alpha = tuple(b + g for b, g in zip(beta, gamma))
                if self.contains(alpha):
                    out[alpha].append((beta, gamma))
        return out


class Jet:
    """``sum_alpha coefficients[alpha] delta^alpha`` on a ``Box`` (absent coefficients are zero)."""

    def __init__(self, box: Box, coefficients: dict[Index, np.ndarray | float]) -> None:
        self.box = box
        self.coefficients = coefficients

    @classmethod
    def constant(cls, box: Box, value: np.ndarray | float) -> Jet:
        return cls(box, {box.zero: value})

    def __getitem__(self, alpha: Index) -> np.ndarray | float:
        return self.coefficients.get(alpha, 0.0)

    @property
    def value(self) -> np.ndarray | float:
        """The constant term ``x(0)``."""
        return self[self.box.zero]

    @property
    def top(self) -> np.ndarray | float:
        """The coefficient of ``delta^top``."""
        return self[self.box.top]

    def map(self, fn: Callable[[np.ndarray], np.ndarray]) -> Jet:
        """A linear map applied coefficientwise (a block, a transpose, a diagonal, a product with a constant)."""
        return Jet(self.box, {alpha: fn(c) for alpha, c in self.coefficients.items()})

    def nonconstant(self) -> Jet:
        return Jet(self.box, {alpha: c for alpha, c in self.coefficients.items() if alpha != self.box.zero})

    def __add__(self, other: Jet | np.ndarray | float) -> Jet:
        other = other if isinstance(other, Jet) else Jet.constant(self.box, other)
        out = dict(self.coefficients)
        for alpha, c in other.coefficients.items():
            out[alpha] = out[alpha] + c if alpha in out else c
        return Jet(self.box, out)

    def __neg__(self) -> Jet:
        return self.map(np.negative)

    def __sub__(self, other: Jet | np.ndarray | float) -> Jet:
        return self + (-other if isinstance(other, Jet) else -np.asarray(other))

    def times(self, other: Jet, op: Binary = np.multiply) -> Jet:
        """The truncated product ``(x y)_alpha = sum_{beta + gamma = alpha} op(x_beta, y_gamma)``."""
        out: dict[Index, np.ndarray] = {}
        for alpha in self.box.indices:
            total = None
            for beta, gamma in self.box.splits[alpha]:
                if beta in self.coefficients and gamma in other.coefficients:
                    term = op(self.coefficients[beta], other.coefficients[gamma])  # a new array
                    if total is None:
                        total = term
                    elif total.shape == term.shape:
                        total += term
                    else:
                        total = total + term
            if total is not None:
                out[alpha] = total
        return Jet(self.box, out)

    def __mul__(self, other: Jet | np.ndarray | float) -> Jet:
        if isinstance(other, Jet):
            return self.times(other)
        return self.map(lambda c: c * other)

    def __matmul__(self, other: Jet) -> Jet:
        return self.times(other, np.matmul)

    def shifted(self, variable: int) -> Jet:
        """``delta_variable * x`` (truncated to the box)."""
        out = {}
        for alpha, c in self.coefficients.items():
            raised = alpha[:variable] + (alpha[variable] + 1,) + alpha[variable + 1:]
            if self.box.contains(raised):
                out[raised] = c
        return Jet(self.box, out)


def polynomial(x: Jet, coefficients: list[float]) -> Jet:
    """``sum_k coefficients[k] x^k`` elementwise (Horner), ``x`` with any constant term."""
    out = Jet.constant(x.box, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        out = out * x + c
    return out


def exp_nilpotent(x: Jet) -> Jet:
    """``exp(x)`` for a jet without constant term: ``sum_{j <= degree} x^j / j!``."""
    out = Jet.constant(x.box, 1.0)
    power = Jet.constant(x.box, 1.0)
    for j in range(1, x.box.degree + 1):
        power = power * x * (1.0 / j)
        if not power.coefficients:
            break
        out = out + power
    return out


def outer(u: Jet, v: Jet) -> Jet:
    """``u v^T`` for vector jets (batch axes first)."""
    return u.times(v, lambda a, b: a[..., :, None] * b[..., None, :])


def matvec(A: Jet, x: Jet) -> Jet:
    """``A x`` for a matrix jet and a vector jet."""
    return A.times(x, lambda a, b: np.einsum("...ij,...j->...i", a, b))


def dot(x: Jet, y: Jet) -> Jet:
    """``x . y`` over the last axis."""
    return x.times(y, lambda a, b: np.sum(a * b, axis=-1))


def trace_of_product(X: Jet, Y: Jet) -> Jet:
    """``tr(X Y)`` without forming the product: ``sum_ij X_ij Y_ji``."""
    return X.times(Y, lambda a, b: np.einsum("...ij,...ji->...", a, b))


def cholesky(S: Jet, factor: np.ndarray, inverse: np.ndarray) -> Jet:
    """The jet of the lower Cholesky factor ``C(S)``, ``C C^T = S``, from ``C_0 = factor`` and ``C_0^-1``:

        C_alpha = C_0 Phi(C_0^-1 R_alpha C_0^-T),
        R_alpha = S_alpha - sum_{beta + gamma = alpha; beta, gamma != 0} C_beta C_gamma^T,

    ``Phi`` the lower triangle with the diagonal halved, in order of total degree.
    """
    box = S.box
    C: dict[Index, np.ndarray] = {box.zero: factor}
    for alpha in box.indices[1:]:
        R = S.coefficients.get(alpha)
        for beta, gamma in box.splits[alpha]:
            if beta != box.zero and gamma != box.zero and beta in C and gamma in C:
                term = C[beta] @ np.swapaxes(C[gamma], -1, -2)
                R = -term if R is None else R - term
        if R is None:
            continue
        X = inverse @ R @ inverse.T
        lower = np.tril(X, -1) + 0.5 * np.einsum("...ii->...i", X)[..., None] * np.eye(len(factor))
        C[alpha] = factor @ lower
    return Jet(box, C)
