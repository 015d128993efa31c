"""Truncated power series in the expansion parameter ``eps = 1/n``.

A series is an array whose axis 0 is the power of ``eps`` (row ``k`` multiplies
``eps^k``); trailing axes hold independent quantities.
"""
from __future__ import annotations

import numpy as np


def multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(a b)_k = sum_{i<=k} a_i b_{k-i}``."""
    out = np.zeros(np.broadcast_shapes(a.shape, b.shape))
    for k in range(len(out)):
        for i in range(k + 1):
            out[k] += a[i] * b[k - i]
    return out


def divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``q = a / b``: ``q_k = (a_k - sum_{i=1..k} b_i q_{k-i}) / b_0``."""
    q = np.zeros(np.broadcast_shapes(a.shape, b.shape))
    for k in range(len(q)):
        q[k] = (a[k] - sum(b[i] * q[k - i] for i in range(1, k + 1))) / b[0]
    return q


def log(a: np.ndarray) -> np.ndarray:
    """``log(a) - log(a_0)``, from ``(log a)' = a'/a`` term by term:

        k l_k = k a_k / a_0 - sum_{0<i<k} i l_i a_{k-i} / a_0.
    """
    out = np.zeros_like(a, dtype=float)
    for k in range(1, len(a)):
        out[k] = (k * a[k] - sum(i * out[i] * a[k - i] for i in range(1, k))) / (k * a[0])
    return out


def exp(a: np.ndarray) -> np.ndarray:
    """``exp(a)``, from ``(exp a)' = a' exp a`` term by term: ``k e_k = sum_{i=1..k} i a_i e_{k-i}``, ``e_0 = exp(a_0)``."""
    out = np.zeros_like(a, dtype=float)
    out[0] = np.exp(a[0])
    for k in range(1, len(a)):
        out[k] = sum(i * a[i] * out[k - i] for i in range(1, k + 1)) / k
    return out
