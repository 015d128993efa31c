"""One pairwise contraction step, lowered once from its subscripts to the NumPy call that does it fastest.

A plan's step (the dense read-out's, ``readout.ReadoutPlan``; the factored first order's, ``factored_plan``) is
``einsum(subscripts, x[, y])`` on at most two arrays. Dispatching ``einsum`` costs about 20 us a call, and thousands
of steps a layer are small, so each distinct subscripts string is lowered once (``lowered``):

- a product summing shared indices is a ``matmul``: ``x`` permuted to ``(batch, free, summed)``, ``y`` to
  ``(batch, summed, free)``, reshaped, multiplied (BLAS) and read back; a plain ``x @ y`` on (transposed) views
  when there is no batch and at most one free index each;
- a product without a summed index (elementwise, outer) is a broadcast ``*``;
- a step on one array is a ``sum`` and a ``transpose``, and a scalar times an array a product with one;
- anything else (a repeated index, an index summed inside one operand) stays ``einsum``.

Every function takes an optional ``scratch``, a flat float array at least as long as its result, to write the
result into: a loop over blocks reuses one buffer per step instead of asking the allocator for a new array each
block (which, for arrays of a megabyte, means fresh pages from the system every time).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np


def _identity(permutation: tuple[int, ...]) -> bool:
    return permutation == tuple(range(len(permutation)))


def _into(scratch: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    """The first entries of ``scratch`` as an array of ``shape`` (``None`` without scratch)."""
    return None if scratch is None else scratch[:math.prod(shape)].reshape(shape)


def _one_array(a: str, out: str, subscripts: str) -> Callable:
    if len(set(a)) != len(a):
        return lambda x, scratch=None: np.einsum(subscripts, x)
    summed = tuple(i for i, c in enumerate(a) if c not in out)
    kept = [c for c in a if c in out]
    permutation = tuple(kept.index(c) for c in out)
    if not summed:
        return (lambda x, scratch=None: x) if _identity(permutation) else (
            lambda x, scratch=None: x.transpose(permutation))

    def total(x: np.ndarray, scratch: np.ndarray | None = None) -> np.ndarray:
        kept_shape = tuple(n for i, n in enumerate(x.shape) if i not in summed)
        return x.sum(axis=summed, out=_into(scratch, kept_shape)).transpose(permutation)

    return total


def _broadcast(a: str, b: str, out: str) -> Callable:
    """``x * y`` with each operand's axes moved to the output's order and new axes for the ones it lacks."""
    def placed(s: str) -> tuple[tuple[int, ...], tuple, bool]:
        permutation = tuple(s.index(c) for c in out if c in s)
        return permutation, tuple(slice(None) if c in s else None for c in out), _identity(permutation)

    (pa, ia, ida), (pb, ib, idb) = placed(a), placed(b)

    def product(x: np.ndarray, y: np.ndarray, scratch: np.ndarray | None = None) -> np.ndarray:
        x, y = (x if ida else x.transpose(pa))[ia], (y if idb else y.transpose(pb))[ib]
        if scratch is None:
            return x * y
        return np.multiply(x, y, out=_into(scratch, np.broadcast_shapes(x.shape, y.shape)))

    return product


def _matmul(a: str, b: str, out: str) -> Callable:
    batch = [c for c in out if c in a and c in b]
    summed = [c for c in a if c in b and c not in out]
    left = [c for c in out if c in a and c not in b]  # free indices in the output's order: the final
    right = [c for c in out if c in b and c not in a]  # transpose is usually the identity
    pa = tuple(a.index(c) for c in batch + left + summed)
    pb = tuple(b.index(c) for c in batch + summed + right)
    po = tuple((batch + left + right).index(c) for c in out)
    if not batch and len(left) <= 1 and len(summed) == 1 and len(right) <= 1:
        ta, tb, to = not _identity(pa), not _identity(pb), not _identity(po)

        def plain(x: np.ndarray, y: np.ndarray, scratch: np.ndarray | None = None) -> np.ndarray:
            x, y = (x.T if ta else x), (y.T if tb else y)
            z = x @ y if scratch is None else np.matmul(x, y, out=_into(scratch, x.shape[:-1] + y.shape[1:]))
            return z.T if to else z

        return plain
    nb, nl = len(batch), len(left)
    ida, idb, ido = _identity(pa), _identity(pb), _identity(po)

    def product(x: np.ndarray, y: np.ndarray, scratch: np.ndarray | None = None) -> np.ndarray:
        xt, yt = (x if ida else x.transpose(pa)), (y if idb else y.transpose(pb))
        shape_b, shape_l = xt.shape[:nb], xt.shape[nb:nb + nl]
        shape_s, shape_r = xt.shape[nb + nl:], yt.shape[nb + len(summed):]
        n_l, n_s, n_r = math.prod(shape_l), math.prod(shape_s), math.prod(shape_r)
        z = np.matmul(xt.reshape(shape_b + (n_l, n_s)), yt.reshape(shape_b + (n_s, n_r)),
                      out=_into(scratch, shape_b + (n_l, n_r)))
        z = z.reshape(shape_b + shape_l + shape_r)
        return z if ido else z.transpose(po)

    return product


@lru_cache(maxsize=None)
def lowered(subscripts: str) -> Callable:
    """The function computing ``np.einsum(subscripts, ...)`` on one or two arrays, ``f(x[, y], scratch=None)``
    (module docstring)."""
    ins, out = subscripts.split("->")
    operands = ins.split(",")
    if len(operands) == 1:
        return _one_array(operands[0], out, subscripts)
    a, b = operands
    if not a or not b:  # a scalar (a closed word is a Python float) scales the other operand, summed and transposed
        rest = _one_array(b or a, out, f"{b or a}->{out}")
        if not a:
            return lambda x, y, scratch=None: x * rest(y)
        return lambda x, y, scratch=None: rest(x) * y
    repeated = any(len(set(s)) != len(s) for s in (a, b, out))
    summed_alone = (set(a) - set(b) - set(out)) or (set(b) - set(a) - set(out))
    if repeated or summed_alone:
        return lambda x, y, scratch=None: np.einsum(subscripts, x, y)
    if not set(a) & set(b) - set(out):
        return _broadcast(a, b, out)
    return _matmul(a, b, out)
