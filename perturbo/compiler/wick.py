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

import itertools
import math

import numpy as np
from numba import njit, prange


@njit(cache=True)
def _gaussian_moments(C, radix, table):
    """``table[flat(k)] = E[prod_v z_v^{k_v}]`` for all ``k < radix`` (mixed radix, last variable fastest).

    The exponent vector is advanced like an odometer; odd total degrees are zero.
    """
    d = len(radix)
    stride = np.ones(d, np.int64)
    for v in range(d - 2, -1, -1):
        stride[v] = stride[v + 1] * radix[v + 1]
    k = np.zeros(d, np.int64)
    total_degree = 0
    table[0] = 1.0
    for flat in range(1, table.shape[0]):
        v = d - 1  # advance the odometer
        while k[v] == radix[v] - 1:
            total_degree -= k[v]
            k[v] = 0
            v -= 1
        k[v] += 1
        total_degree += 1
        if total_degree % 2 == 1:
            table[flat] = 0.0
            continue
        a = 0
        while k[a] == 0:
            a += 1
        lower = flat - stride[a]  # k - e_a
        value = C[a, a] * (k[a] - 1) * table[lower - stride[a]] if k[a] > 1 else 0.0
        for b in range(d):
            if b != a and k[b] > 0:
                value += C[a, b] * k[b] * table[lower - stride[b]]
        table[flat] = value


@njit(cache=True)
def product_expectation(C, variable, coefficients, degrees):
    """``E[prod_j q_j(z_{variable[j]})]``; ``coefficients[j, :degrees[j] + 1]`` ascending powers of ``q_j``.

    The sum runs over the non-zero coefficients only (an odd cubic has two of four per factor).
    """
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
    width = coefficients.shape[1]
    powers = np.zeros((n, width), np.int64)  # powers[j, :count[j]]: the non-zero terms of q_j
    count = np.zeros(n, np.int64)
    for j in range(n):
        for p in range(degrees[j] + 1):
            if coefficients[j, p] != 0.0:
                powers[j, count[j]] = p
                count[j] += 1
        if count[j] == 0:
            return 0.0
    choice = np.zeros(n, np.int64)
    total = 0.0
    while True:
        coefficient = 1.0
        flat = 0
        for j in range(n):
            p = powers[j, choice[j]]
            coefficient *= coefficients[j, p]
            flat += p * stride[variable[j]]
        total += coefficient * table[flat]
        j = n - 1
        while j >= 0 and choice[j] == count[j] - 1:
            choice[j] = 0
            j -= 1
        if j < 0:
            return total
        choice[j] += 1


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
def _digits(flat, M, points):
    """``points`` = the base-``M`` digits of ``flat`` (last fastest)."""
    for j in range(len(points) - 1, -1, -1):
        points[j] = flat % M
        flat //= M


@njit(cache=True, parallel=True)
def moment_tensor(K, coefficients, degrees, out):
    """``out[i_1, .., i_n] = E[prod_j q_j(z_{i_j})]`` over all ``M^n`` tuples (flat), ``z ~ N(0, K)``."""
    M = K.shape[0]
    n = len(degrees)
    for flat in prange(out.shape[0]):
        points = np.empty(n, np.int64)
        scratch = np.empty(n, np.int64)
        _digits(flat, M, points)
        d, C = distinct_points(points, K, scratch)
        out[flat] = product_expectation(C, scratch, coefficients, degrees)


def multisets(M: int, n: int) -> np.ndarray:
    """All non-decreasing ``n``-tuples of points below ``M``, one per row (lexicographic)."""
    count = math.comb(M + n - 1, n)
    flat = itertools.chain.from_iterable(itertools.combinations_with_replacement(range(M), n))
    return np.fromiter(flat, np.int64, count * n).reshape(count, n)


@njit(cache=True)
def _colex_rank(idx, binomial):
    """The rank of the non-decreasing tuple ``idx`` among all such tuples: ``sum_j C(idx_j + j, j + 1)``
    (``idx_j + j`` is strictly increasing, and this is its combination's colexicographic rank)."""
    rank = 0
    for j in range(len(idx)):
        rank += binomial[idx[j] + j, j + 1]
    return rank


@njit(cache=True, parallel=True)
def _symmetric_moment_tensor(K, coefficients, degree, tuples, binomial, out):
    M, n = K.shape[0], tuples.shape[1]
    coefficient_rows = np.empty((n, coefficients.shape[0]))
    for j in range(n):
        for m in range(coefficients.shape[0]):  # elementwise: a row assignment compiles a shape check (seconds)
            coefficient_rows[j, m] = coefficients[m]
    degrees = np.full(n, degree, np.int64)
    values = np.empty(tuples.shape[0])
    for row in prange(tuples.shape[0]):  # one value per multiset of points
        scratch = np.empty(n, np.int64)
        d, C = distinct_points(tuples[row], K, scratch)
        values[_colex_rank(tuples[row], binomial)] = product_expectation(C, scratch, coefficient_rows, degrees)
    block = M ** max(n - 2, 0)
    for first in prange(out.shape[0] // block):  # each entry reads its multiset's value: in order, no scattered writes
        idx = np.empty(n, np.int64)
        for flat in range(first * block, (first + 1) * block):
            _digits(flat, M, idx)
            for j in range(1, n):  # insertion sort
                x = idx[j]
                i = j - 1
                while i >= 0 and idx[i] > x:
                    idx[i + 1] = idx[i]
                    i -= 1
                idx[i + 1] = x
            out[flat] = values[_colex_rank(idx, binomial)]


def symmetric_moment_tensor(K: np.ndarray, coefficients: np.ndarray, degree: int, n: int, out: np.ndarray) -> None:
    """As ``moment_tensor`` with the same polynomial at every slot: one evaluation per multiset of points (shared
    among the threads), then every entry takes its multiset's value."""
    M = len(K)
    binomial = np.array([[math.comb(a, b) for b in range(n + 1)] for a in range(M + n)], dtype=np.int64)
    _symmetric_moment_tensor(K, coefficients, degree, multisets(M, n), binomial, out)
