"""One copy's joint cumulants as dense tensors over the points: the noise operands of the transfer.

A copy at layer ``l`` is ``Y = sigma_w2 phi(z) phi(z)^T`` with ``z ~ N(0, K)``, ``K = K_{l-1}``. The
transfer needs the Taylor coefficients ``Q_{r,alpha} = d^alpha kappa_r(Y; K) / alpha!`` of its joint
cumulant over ``r`` entries (``2r`` labels), on every tuple of points, in the local covariance
entries ``alpha`` (a multiset of label pairs). Everything is numeric: raw moments of products of
``phi`` and its derivatives by Isserlis' recursion (``wick``); no polynomial in the covariance
entries is expanded.
"""
from __future__ import annotations

import math

import numpy as np

from .transfer import set_partitions
from .wick import moment_tensor, symmetric_moment_tensor

LocalPair = tuple[int, int]


class CopyCumulants:
    """Dense Taylor coefficients ``Q_{r,alpha}`` of one copy's joint cumulant ``kappa_r(Y; K)`` (numeric Wick).

    ``kappa_r(Y_1..Y_r) = sum_rho (|rho| - 1)! (-1)^(|rho| - 1) prod_{B in rho} R_B`` over set partitions of the
    entries, ``R_B = sigma_w2^|B| E[prod_{labels of B} phi(z_label)]``. A derivative in the local entry
    ``s_pq`` is ``E[d_p d_q ...]`` (heat equation; ``1/2 d_p^2`` for ``p = q``) and acts only on the block
    holding both labels, so

        Q_{r,alpha} = sum_rho ... prod_B (w_B / alpha_B!) sigma_w2^|B| E[prod_{labels} phi^(d_label)(z_label)],

    zero if a pair of ``alpha`` straddles two blocks; ``d_label`` counts the label in ``alpha``,
    ``w_B = 2^-(number of diagonal pairs)``.
    """

    def __init__(self, phi: np.ndarray, sigma_w2: float) -> None:
        """``phi``: the activation's coefficients in ascending powers of ``t`` (``activation.power_coefficients``);
        ``coefficients[k, p]``, those of its ``k``-th derivative, ``phi_(p+k) (p+k)!/p!``."""
        phi = np.trim_zeros(np.asarray(phi, dtype=float), "b")
        self.degree = len(phi) - 1
        self.coefficients = np.zeros((self.degree + 1, self.degree + 1))
        for k in range(self.degree + 1):
            for power in range(self.degree + 1 - k):
                self.coefficients[k, power] = phi[power + k] * math.perm(power + k, k)
        self.sigma_w2 = float(sigma_w2)
        self._memo: dict[tuple, np.ndarray] = {}

    def _raw(self, K: np.ndarray, derivative_orders: tuple[int, ...]) -> np.ndarray:
        """``E[prod_j phi^(d_j)(z_{i_j})]`` over all tuples ``(i_1..i_n)`` of points (memoised per kernel).

        Computed for the sorted orders and transposed: the tensor is symmetric under permutations of its slots
        that carry their derivative orders along.
        """
        key = (id(K), derivative_orders)
        if key not in self._memo:
            order = sorted(range(len(derivative_orders)), key=lambda j: derivative_orders[j])
            ordered = tuple(derivative_orders[j] for j in order)
            base_key = (id(K), ordered)
            if base_key not in self._memo:
                self._memo[base_key] = self._compute_raw(K, ordered)
            self._memo[key] = np.transpose(self._memo[base_key], np.argsort(order))
        return self._memo[key]

    def forget(self) -> None:
        """Drop the memoised tensors (call when a layer is done)."""
        self._memo.clear()

    def _compute_raw(self, K: np.ndarray, derivative_orders: tuple[int, ...]) -> np.ndarray:
        M, n = len(K), len(derivative_orders)
        out = np.zeros(M**n)
        if any(d > self.degree for d in derivative_orders):
            return out.reshape((M,) * n)
        if len(set(derivative_orders)) == 1:
            d = derivative_orders[0]
            symmetric_moment_tensor(np.ascontiguousarray(K), self.coefficients[d].copy(), self.degree - d, n, out)
        else:
            rows = np.array([self.coefficients[d] for d in derivative_orders])
            degrees = np.array([self.degree - d for d in derivative_orders], dtype=np.int64)
            moment_tensor(np.ascontiguousarray(K), rows, degrees, out)
        return out.reshape((M,) * n)

    def tensor(self, K: np.ndarray, r: int, alpha: tuple[LocalPair, ...]) -> np.ndarray:
        """``Q_{r,alpha}`` on all ``2r``-tuples of points, axes = labels ``(l_0 .. l_{2r-1})``."""
        M = len(K)
        letters = "abcdefghijklmnopqrstuvwxyz"
        total = np.zeros((M,) * (2 * r))
        for rho in set_partitions(list(range(r))):
            block_of = {label: b for b, block in enumerate(rho) for i in block for label in (2 * i, 2 * i + 1)}
            if any(block_of[p] != block_of[q] for p, q in alpha):
                continue
            sign = math.factorial(len(rho) - 1) * (-1) ** (len(rho) - 1)
            factors, subscripts = [], []
            for b, block in enumerate(rho):
                labels = [label for i in block for label in (2 * i, 2 * i + 1)]
                pairs = [pq for pq in alpha if block_of[pq[0]] == b]
                orders = tuple(sum((p == label) + (q == label) for p, q in pairs) for label in labels)
                weight = self.sigma_w2 ** len(block) / 2 ** sum(p == q for p, q in pairs)
                weight /= math.prod(math.factorial(c) for c in _multiplicities(pairs))
                factors.append(weight * self._raw(K, orders))
                subscripts.append("".join(letters[label] for label in labels))
            total += sign * np.einsum(",".join(subscripts) + "->" + letters[: 2 * r], *factors)
        return total


def _multiplicities(pairs: list[LocalPair]) -> list[int]:
    counts: dict[LocalPair, int] = {}
    for pq in pairs:
        counts[pq] = counts.get(pq, 0) + 1
    return list(counts.values())
