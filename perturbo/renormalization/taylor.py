"""Values carried with their exact first and second derivatives in a few parameters (forward mode).

A ``Taylor`` holds ``x(theta)`` near a point: the value (any shape ``s``), the gradient ``(n,) + s`` and,
when asked for, the Hessian ``(n, n) + s``. Arithmetic keeps them exact by the product and chain rules,

    (x y)_i  = x_i y + x y_i,          (x y)_ij = x_ij y + x y_ij + x_i y_j + x_j y_i,
    f(x)_i   = f'(x) x_i,              f(x)_ij  = f'(x) x_ij + f''(x) x_i x_j,

and values of different shapes broadcast as NumPy arrays do. The order parameters of kernel
renormalisation are a handful of scalars, so the derivative axes stay short.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

def _lift(array: np.ndarray, lead: int, ndim: int) -> np.ndarray:
    """View ``array`` (``lead`` derivative axes, then a value of its own shape) with its value part padded on the
    left to ``ndim`` axes, so that it broadcasts against values of ``ndim`` axes."""
    value_ndim = array.ndim - lead
    return array.reshape(array.shape[:lead] + (1,) * (ndim - value_ndim) + array.shape[lead:])


@dataclass(frozen=True)
class Taylor:
    __array_ufunc__ = None  # an ndarray on the left defers to Taylor's reflected operators

    value: np.ndarray
    grad: np.ndarray  # (n,) + value.shape
    hess: np.ndarray | None  # (n, n) + value.shape; None when only first derivatives are carried

    # ------------------------------------------------------------ construction
    @classmethod
    def constant(cls, value: np.ndarray | float, n: int, second: bool) -> Taylor:
        value = np.asarray(value, dtype=float)
        return cls(value, np.zeros((n,) + value.shape), np.zeros((n, n) + value.shape) if second else None)

    @classmethod
    def variables(cls, values: np.ndarray, second: bool) -> list[Taylor]:
        """Independent scalar variables ``theta_i = values[i]`` (the seeds)."""
        values = np.asarray(values, dtype=float)
        n = len(values)
        eye = np.eye(n)
        return [cls(values[i], eye[i], np.zeros((n, n)) if second else None) for i in range(n)]

    @property
    def n(self) -> int:
        return len(self.grad)

    @property
    def second(self) -> bool:
        return self.hess is not None

    def _coerce(self, other: Taylor | np.ndarray | float) -> Taylor:
        return other if isinstance(other, Taylor) else Taylor.constant(other, self.n, self.second)

    # ------------------------------------------------------------ arithmetic
    def __add__(self, other: Taylor | np.ndarray | float) -> Taylor:
        other = self._coerce(other)
        ndim = max(self.value.ndim, other.value.ndim)
        hess = None
        if self.second and other.second:
            hess = _lift(self.hess, 2, ndim) + _lift(other.hess, 2, ndim)
        return Taylor(self.value + other.value, _lift(self.grad, 1, ndim) + _lift(other.grad, 1, ndim), hess)

    __radd__ = __add__

    def __neg__(self) -> Taylor:
        return Taylor(-self.value, -self.grad, None if self.hess is None else -self.hess)

    def __sub__(self, other: Taylor | np.ndarray | float) -> Taylor:
        return self + (-other)

    def __rsub__(self, other: Taylor | np.ndarray | float) -> Taylor:
        return (-self) + other

    def __mul__(self, other: Taylor | np.ndarray | float) -> Taylor:
        if not isinstance(other, Taylor):
            c = np.asarray(other, dtype=float)
            ndim = max(self.value.ndim, c.ndim)
            return Taylor(self.value * c, _lift(self.grad, 1, ndim) * c,
                          None if self.hess is None else _lift(self.hess, 2, ndim) * c)
        ndim = max(self.value.ndim, other.value.ndim)
        a_g, b_g = _lift(self.grad, 1, ndim), _lift(other.grad, 1, ndim)
        grad = a_g * other.value + self.value * b_g
        hess = None
        if self.second and other.second:
            cross = a_g[:, None] * b_g[None, :]
            hess = (_lift(self.hess, 2, ndim) * other.value + self.value * _lift(other.hess, 2, ndim)
                    + cross + np.swapaxes(cross, 0, 1))
        return Taylor(self.value * other.value, grad, hess)

    __rmul__ = __mul__

    def unary(self, f: np.ndarray, f1: np.ndarray, f2: np.ndarray) -> Taylor:
        """``f(x)`` from its value ``f``, first derivative ``f1`` and second derivative ``f2`` at ``x``."""
        grad = self.grad * f1
        hess = None
        if self.second:
            hess = self.hess * f1 + self.grad[:, None] * self.grad[None, :] * f2
        return Taylor(np.asarray(f, dtype=float), grad, hess)

    def reciprocal(self) -> Taylor:
        inverse = 1.0 / self.value
        return self.unary(inverse, -(inverse**2), 2.0 * inverse**3)

    def log(self) -> Taylor:
        inverse = 1.0 / self.value
        return self.unary(np.log(self.value), inverse, -(inverse**2))

    def exp(self) -> Taylor:
        e = np.exp(self.value)
        return self.unary(e, e, e)

    # ------------------------------------------------------------ linear maps of the value
    def linear(self, fn: Callable[[np.ndarray], np.ndarray]) -> Taylor:
        """A linear map of the value (``fn`` acts on the trailing axes and keeps any leading ones)."""
        return Taylor(np.asarray(fn(self.value)), fn(self.grad), None if self.hess is None else fn(self.hess))

    def sum(self) -> Taylor:
        """Sum over the last value axis."""
        return self.linear(lambda a: a.sum(axis=-1))

    def dot(self, weights: np.ndarray) -> Taylor:
        """``sum_a x_a w_a`` over the last value axis (``w`` constant)."""
        return self.linear(lambda a: a @ weights)

    def __getitem__(self, key) -> Taylor:
        key = key if isinstance(key, tuple) else (key,)
        return Taylor(self.value[key], self.grad[(slice(None),) + key],
                      None if self.hess is None else self.hess[(slice(None), slice(None)) + key])
