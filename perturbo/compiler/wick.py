"""Exact Gaussian expectations of products of polynomials, in floating point (Isserlis' recursion).

For ``z ~ N(0, C)`` on ``d`` coordinates and polynomials ``q_1 .. q_n`` of one variable,

    E[prod_j q_j(z_{v_j})] = sum_k coef(k) E[prod_v z_v^{k_v}],
    E[z_a z^k] = sum_b C_ab k_b E[z^{k - e_b}],

the second line memoised over exponent vectors (mixed radix). Nothing symbolic: a table of
one copy's moments over all tuples of points is a loop of these (``moments``), so no
polynomial in the covariance entries is ever expanded (the cubic's eighth moment has millions
of terms). Exact up to rounding for any covariance, degenerate ones included.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _gaussian_moments(C, radix, table):
    """``table[flat(k)] = E[prod_v z_v^{k_v}]`` for all ``k < radix`` (mixed radix, last variable fastest)."""
    d = len(radix)
    size = table.shape[0]
    stride = np.ones(d, np.int64)
    for v in range(d - 2, -1, -1):
        stride[v] = stride[v + 1] * radix[v + 1]
    k = np.zeros(d, np.int64)
    for flat in range(size):
        r = flat
        total_degree = 0
        for v in range(d):
            k[v] = r // stride[v]
            r -= k[v] * stride[v]
            total_degree += k[v]
        if total_degree == 0:
            table[flat] = 1.0
            continue
        if total_degree % 2 == 1:
            table[flat] = 0.0
            continue
        a = 0
        while k[a] == 0:
            a += 1
        lower = flat - stride[a]  # k - e_a
        value = 0.0
        for b in range(d):
            kb = k[b] - (1 if b == a else 0)
            if kb > 0:
                value += C[a, b] * kb * table[lower - stride[b]]
        table[flat] = value


@njit(cache=True)
def product_expectation(C, variable, coefficients, degrees):
    """``E[prod_j q_j(z_{variable[j]})]``; ``coefficients[j, :degrees[j] + 1]`` ascending powers of ``q_j``."""
    d = C.shape[0]
    n = len(variable)
    radix = np.ones(d, np.int64)
    for j in range(n):
        radix[variable[j]] += degrees[j]
    size = 1
    for v in range(d):
        size *= radix[v]
    table = np.empty(size)
    _gaussian_moments(C, radix, table)
    stride = np.ones(d, np.int64)
    for v in range(d - 2, -1, -1):
        stride[v] = stride[v + 1] * radix[v + 1]
    # sum over the monomials of the product: one power per factor
    power = np.zeros(n, np.int64)
    total = 0.0
    while True:
        coefficient = 1.0
        flat = 0
        for j in range(n):
            coefficient *= coefficients[j, power[j]]
            flat += power[j] * stride[variable[j]]
        if coefficient != 0.0:
            total += coefficient * table[flat]
        j = n - 1
        while j >= 0 and power[j] == degrees[j]:
            power[j] = 0
            j -= 1
        if j < 0:
            return total
        power[j] += 1


@njit(cache=True)
def distinct_points(points, C_full, scratch_index):
    """Relabel ``points`` to ``0..d-1`` (first occurrence order); return ``d`` and the ``d x d`` covariance."""
    d = 0
    n = len(points)
    for j in range(n):
        found = -1
        for i in range(j):
            if points[i] == points[j]:
                found = scratch_index[i]
                break
        if found < 0:
            scratch_index[j] = d
            d += 1
        else:
            scratch_index[j] = found
    firsts = np.empty(d, np.int64)
    for j in range(n):
        firsts[scratch_index[j]] = points[j]
    C = np.empty((d, d))
    for u in range(d):
        for v in range(d):
            C[u, v] = C_full[firsts[u], firsts[v]]
    return d, C


@njit(cache=True)
def moment_tensor(K, coefficients, degrees, out):
    """``out[i_1, .., i_n] = E[prod_j q_j(z_{i_j})]`` over all ``M^n`` tuples (flat), ``z ~ N(0, K)``."""
    M = K.shape[0]
    n = len(degrees)
    points = np.zeros(n, np.int64)
    scratch = np.zeros(n, np.int64)
    for flat in range(out.shape[0]):
        r = flat
        for j in range(n - 1, -1, -1):
            points[j] = r % M
            r //= M
        d, C = distinct_points(points, K, scratch)
        out[flat] = product_expectation(C, scratch.copy(), coefficients, degrees)


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
def symmetric_moment_tensor(K, coefficients, degree, n, out):
    """As ``moment_tensor`` with the same polynomial at every slot: one evaluation per multiset of points."""
    M = K.shape[0]
    idx = np.zeros(n, np.int64)
    scratch = np.zeros(n, np.int64)
    coefficient_rows = np.empty((n, coefficients.shape[0]))
    for j in range(n):
        coefficient_rows[j] = coefficients
    degrees = np.full(n, degree, np.int64)
    powers = np.ones(n, np.int64)
    for k in range(n - 2, -1, -1):
        powers[k] = powers[k + 1] * M
    perm = np.zeros(n, np.int64)
    c = np.zeros(n, np.int64)
    while True:
        d, C = distinct_points(idx, K, scratch)
        scatter_permutations(idx, powers, product_expectation(C, scratch.copy(), coefficient_rows, degrees), out, perm, c)
        if not next_multiset(idx, M):
            return
