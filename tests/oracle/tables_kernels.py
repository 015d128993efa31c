"""Numba kernels of the compiled orders: polynomials in covariance entries on all tuples of points.

A table holds a polynomial in the covariance entries ``s_pq`` (``p <= q``) of ``n`` abstract
labels: ``factors[t]`` lists term ``t``'s variables (the pad value ``n_vars`` stands for 1) and
``values[t]`` its coefficient. On a kernel ``K`` over ``M`` points it becomes the tensor

    out[i_0, ..., i_{n-1}] = sum_t values[t] prod_f K[i_{p(f)}, i_{q(f)}],

labels being allowed to coincide (Wick's theorem holds for degenerate covariances).
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def next_multiset(idx, M):
    """Advance ``idx`` to the next non-decreasing tuple of points below ``M``; ``False`` after the last."""
    n = len(idx)
    k = n - 1
    while k >= 0 and idx[k] == M - 1:
        k -= 1
    if k < 0:
        return False
    idx[k] += 1
    for j in range(k + 1, n):
        idx[j] = idx[k]
    return True


@njit(cache=True)
def scatter_permutations(idx, powers, value, out, perm, c):
    """``out[flat(pi(idx))] = value`` for every permutation ``pi`` of the positions (Heap's algorithm; repeated
    points rewrite the same entry). ``perm`` and ``c`` are scratch arrays of ``len(idx)``."""
    n = len(idx)
    for k in range(n):
        perm[k] = idx[k]
        c[k] = 0
    flat = 0
    for k in range(n):
        flat += perm[k] * powers[k]
    out[flat] = value
    i = 0
    while i < n:
        if c[i] < i:
            if i % 2 == 0:
                perm[0], perm[i] = perm[i], perm[0]
            else:
                perm[c[i]], perm[i] = perm[i], perm[c[i]]
            flat = 0
            for k in range(n):
                flat += perm[k] * powers[k]
            out[flat] = value
            c[i] += 1
            i = 0
        else:
            c[i] = 0
            i += 1


@njit(cache=True)
def _local_values(K, idx, pair_p, pair_q, local):
    for v in range(len(pair_p)):
        local[v] = K[idx[pair_p[v]], idx[pair_q[v]]]


@njit(cache=True)
def _table_value(local, factors, values):
    total = 0.0
    for t in range(len(values)):
        term = values[t]
        for f in range(factors.shape[1]):
            term *= local[factors[t, f]]
        total += term
    return total


@njit(cache=True)
def polynomial_on_tuples(K, n_labels, pair_p, pair_q, factors, values, out):
    """``out`` (flat, ``M**n_labels``) filled with the table's polynomial at every tuple of points."""
    M = K.shape[0]
    idx = np.zeros(n_labels, np.int64)
    local = np.ones(len(pair_p) + 1)
    for t in range(out.shape[0]):
        r = t
        for k in range(n_labels - 1, -1, -1):
            idx[k] = r % M
            r //= M
        _local_values(K, idx, pair_p, pair_q, local)
        out[t] = _table_value(local, factors, values)


@njit(cache=True)
def symmetric_polynomial_on_tuples(K, n_labels, pair_p, pair_q, factors, values, out):
    """As ``polynomial_on_tuples`` for a polynomial symmetric in its labels: one evaluation per multiset (the
    multisets of ``perturbo.compiler.wick``; the scattering and the values are this module's own)."""
    M = K.shape[0]
    idx = np.zeros(n_labels, np.int64)
    local = np.ones(len(pair_p) + 1)
    powers = np.ones(n_labels, np.int64)
    for k in range(n_labels - 2, -1, -1):
        powers[k] = powers[k + 1] * M
    perm = np.zeros(n_labels, np.int64)
    c = np.zeros(n_labels, np.int64)
    while True:
        _local_values(K, idx, pair_p, pair_q, local)
        scatter_permutations(idx, powers, _table_value(local, factors, values), out, perm, c)
        if not next_multiset(idx, M):
            return
