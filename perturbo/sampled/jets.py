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
from numba import njit

Index = tuple[int, ...]
Binary = Callable[[np.ndarray, np.ndarray], np.ndarray]


class Box:
    """The multi-indices ``0 <= alpha <= top``, ordered by total degree."""

    def __init__(self, top: Index) -> None:
        self.top = tuple(top)
        self.indices = sorted(product(*(range(a + 1) for a in self.top)), key=lambda a: (sum(a), a))
        self.zero: Index = (0,) * len(self.top)
        self.degree = sum(self.top)

    def product_table(self, support: tuple[Index, ...]) -> np.ndarray:
        """Rows ``(i, j, k)`` with ``support[i] + support[j] = support[k]``, both nonconstant: the products
        of jets without constant term on ``support`` (its first element the zero index; for
        ``hadamard_polynomial``)."""
        position = {alpha: k for k, alpha in enumerate(support)}
        rows = [(position[b], position[g], position[a]) for a in support for b, g in self.splits[a]
                if b in position and g in position and b != self.zero and g != self.zero]
        return np.array(rows, dtype=np.int64).reshape(-1, 3)

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


@njit(cache=True)
def _add_product(x, low_x, y, low_y, table, degree, out):
    """``out += x * y`` for the nonconstant parts of two jets whose coefficients are rows (``(n, M)``; an ``(n, 1)``
    ``x`` is constant along the row), entrywise along the row. ``table``: rows ``(i, j, k)`` with ``i, j >= 1``;
    rows with ``degree[i] < low_x`` or ``degree[j] < low_y`` are skipped (coefficients known to be zero: a power
    ``x^p`` starts at degree ``p``)."""
    M = out.shape[1]
    for row in range(table.shape[0]):
        i, j, k = table[row, 0], table[row, 1], table[row, 2]
        if degree[i] < low_x or degree[j] < low_y:
            continue
        if x.shape[1] == 1:
            xi = x[i, 0]
            for b in range(M):
                out[k, b] += xi * y[j, b]
        else:
            for b in range(M):
                out[k, b] += x[i, b] * y[j, b]


@njit(cache=True)
def _add_scaled(x, first_row, constant, out):
    """``out[k] += x[k] * constant`` (entrywise along the row) for ``k >= first_row``, the coefficients ``x`` can
    have (``first_row >= 1``: not the constant)."""
    M = out.shape[1]
    for k in range(first_row, out.shape[0]):
        if x.shape[1] == 1:
            for b in range(M):
                out[k, b] += x[k, 0] * constant[b]
        else:
            for b in range(M):
                out[k, b] += x[k, b] * constant[b]


@njit(cache=True)
def hadamard_polynomial(x, diagonal, weights, exponents, table, degree, out):
    """``out[k] = sum_beta weights[beta] * [x_aa^b1 x_bb^b2 x_ab^b3]_k`` entrywise, for a jet ``x`` without
    constant term given by its coefficients ``x[k]`` on a support of ``n`` multi-indices ordered by total degree
    (``degree[k]``; ``x[0]``, the constant, is zero), one row ``a`` at a time, in Horner form

        sum_b1 x_aa^b1 sum_b2 x_bb^b2 (sum_b3 c^(b1, b2, b3) x_ab^b3),

    so that each jet product serves every ``beta`` of its group and coefficients known to be zero (below a power's
    degree) are skipped.

    ``x``: ``(n, D, M, M)``; ``diagonal``: ``(n, D, M)`` its diagonals; ``weights``: ``(B, M, M)``, the layer
    map's Taylor coefficients ``c^beta``; ``exponents``: ``(B, 3)``; ``table``: rows ``(i, j, k)`` with
    ``support[i] + support[j] = support[k]``, ``i, j >= 1``; ``out``: ``(n, D, M, M)``. A row's jets are ``n x M``
    numbers that stay in cache: no temporaries of size ``M^2`` and one pass over memory.
    """
    n, D, M = x.shape[0], x.shape[1], x.shape[2]
    top = np.zeros(3, np.int64)
    for beta in range(exponents.shape[0]):
        for v in range(3):
            top[v] = max(top[v], exponents[beta, v])
    members = np.zeros((top[0] + 1, top[1] + 1), np.bool_)  # the groups (b1, b2) that have a beta
    for beta in range(exponents.shape[0]):
        members[exponents[beta, 0], exponents[beta, 1]] = True
    first = np.full(top.max() + 2, n)  # first[p]: the first coefficient of degree >= p
    for k in range(n - 1, -1, -1):
        for p in range(min(degree[k], top.max() + 1) + 1):
            first[p] = k
    row_a = np.zeros((max(top[0], 1) + 1, n, 1))  # powers of x_aa: constant along the row
    row_b = np.zeros((max(top[1], 1) + 1, n, M))  # powers of x_bb
    row_ab = np.zeros((max(top[2], 1) + 1, n, M))  # powers of x_ab
    inner = np.empty((n, M))  # sum_b3 c x_ab^b3, with its constant term in row 0
    partial = np.empty((n, M))  # sum_b2 x_bb^b2 inner
    total = np.empty((n, M))
    for d in range(D):
        for k in range(n):
            row_b[1, k, :] = diagonal[k, d, :]
        for p in range(2, top[1] + 1):
            row_b[p] = 0.0
            _add_product(row_b[p - 1], p - 1, row_b[1], 1, table, degree, row_b[p])
        for a in range(M):
            for k in range(n):
                row_a[1, k, 0] = diagonal[k, d, a]
                row_ab[1, k, :] = x[k, d, a, :]
            for p in range(2, top[0] + 1):
                row_a[p] = 0.0
                _add_product(row_a[p - 1], p - 1, row_a[1], 1, table, degree, row_a[p])
            for p in range(2, top[2] + 1):
                row_ab[p] = 0.0
                _add_product(row_ab[p - 1], p - 1, row_ab[1], 1, table, degree, row_ab[p])
            total[:, :] = 0.0
            for b1 in range(top[0] + 1):
                if not members[b1].any():
                    continue
                into_b1 = total if b1 == 0 else partial  # sum_b2 x_bb^b2 inner, then times x_aa^b1
                if b1:
                    partial[:, :] = 0.0
                for b2 in range(top[1] + 1):
                    if not members[b1, b2]:
                        continue
                    into_b2 = into_b1 if b2 == 0 else inner  # sum_b3 c x_ab^b3, then times x_bb^b2
                    if b2:
                        inner[:, :] = 0.0
                    for beta in range(exponents.shape[0]):
                        if exponents[beta, 0] == b1 and exponents[beta, 1] == b2:
                            b3 = exponents[beta, 2]
                            if b3 == 0:
                                into_b2[0, :] += weights[beta, a, :]
                            else:
                                _add_scaled(row_ab[b3], first[b3], weights[beta, a, :], into_b2)
                    if b2:
                        _add_product(row_b[b2], b2, inner, 1, table, degree, into_b1)
                        _add_scaled(row_b[b2], first[b2], inner[0], into_b1)
                if b1:
                    _add_product(row_a[b1], b1, partial, 1, table, degree, total)
                    _add_scaled(row_a[b1], first[b1], partial[0], total)
            total[0, :] = 0.0
            for k in range(n):
                out[k, d, a, :] = total[k]
