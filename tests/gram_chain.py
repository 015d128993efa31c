"""Exact 1/N coefficients on a few points from the Gram chain's moments (docs/design.md section 5).

Shares no code with perturbo. On ``M`` inputs the Gram matrices form a Markov chain on
the ``M(M+1)/2`` entries ``S_ab``, ``a <= b``. Given ``S = K_{l-1} + D``, layer ``l`` makes
``S' = (1/N) sum_i Y_i`` with ``Y_ab = sigma_w2 phi(z_a) phi(z_b)`` iid, ``z ~ N(0, S)``, so

    kappa_1(S'_e | S) = m_e(S),   kappa_r(S'_e1, ..., S'_er | S) = N^(1-r) kappa_r(Y_e1, ..., Y_er; S),

and the moments of ``D' = S' - K_l`` given ``D`` follow from these cumulants by the
moment-cumulant formula (a sum over *all* set partitions). The joint cumulants of ``Y``
come from its raw moments (Moebius inversion); the raw moments from expanding the
products of ``phi`` into monomials in ``z`` and Isserlis' recursion with covariance
``K + D``, as polynomials in the entries of ``D``. The state is the table of
``E[D^beta]``, ``|beta| <= 2K``, each a polynomial in ``eps = 1/n`` truncated at
``eps^K``; moments of ``D`` of higher degree are ``O(eps^(K+1))``.

The read-out is the Gaussian evidence ``N(y; 0, S_DD + sigma2 I)`` and the posterior
moments, written with determinants and adjugates (Cramer's rule) of the training block
as polynomials in ``D`` and expanded by binomial series.
"""
from __future__ import annotations

import itertools
import math
from collections import defaultdict
from functools import lru_cache

import numpy as np

Exponents = tuple[int, ...]


class Poly:
    """``sum c_beta d^beta`` over ``n`` variables, terms of degree above ``cap`` dropped."""

    def __init__(self, n: int, cap: int, terms: dict[Exponents, float] | None = None) -> None:
        self.n, self.cap = n, cap
        self.terms = {k: v for k, v in (terms or {}).items() if sum(k) <= cap and v != 0.0}

    @classmethod
    def const(cls, n: int, cap: int, c: float) -> "Poly":
        return cls(n, cap, {(0,) * n: c})

    @classmethod
    def var(cls, n: int, cap: int, i: int) -> "Poly":
        return cls(n, cap, {tuple(int(j == i) for j in range(n)): 1.0})

    def __add__(self, other: "Poly | float") -> "Poly":
        other = other if isinstance(other, Poly) else Poly.const(self.n, self.cap, other)
        out = defaultdict(float, self.terms)
        for k, v in other.terms.items():
            out[k] += v
        return Poly(self.n, min(self.cap, other.cap), out)

    __radd__ = __add__

    def __neg__(self) -> "Poly":
        return Poly(self.n, self.cap, {k: -v for k, v in self.terms.items()})

    def __sub__(self, other: "Poly | float") -> "Poly":
        return self + (-other)

    def __rsub__(self, other: float) -> "Poly":
        return (-self) + other

    def __mul__(self, other: "Poly | float") -> "Poly":
        if not isinstance(other, Poly):
            return Poly(self.n, self.cap, {k: v * other for k, v in self.terms.items()})
        cap = min(self.cap, other.cap)
        out: dict[Exponents, float] = defaultdict(float)
        for k1, v1 in self.terms.items():
            d1 = sum(k1)
            for k2, v2 in other.terms.items():
                if d1 + sum(k2) <= cap:
                    out[tuple(a + b for a, b in zip(k1, k2))] += v1 * v2
        return Poly(self.n, cap, out)

    __rmul__ = __mul__

    def constant(self) -> float:
        return self.terms.get((0,) * self.n, 0.0)


def binomial_series(u: Poly, power: float) -> Poly:
    """``(1 + u)^power`` for ``u`` without a constant term."""
    total, term = Poly.const(u.n, u.cap, 1.0), Poly.const(u.n, u.cap, 1.0)
    for j in range(1, u.cap + 1):
        term = term * u * ((power - j + 1) / j)
        total = total + term
    return total


def exp_series(u: Poly) -> Poly:
    """``exp(u)`` for ``u`` without a constant term."""
    total, term = Poly.const(u.n, u.cap, 1.0), Poly.const(u.n, u.cap, 1.0)
    for j in range(1, u.cap + 1):
        term = term * u * (1.0 / j)
        total = total + term
    return total


def determinant(matrix: list[list[Poly]]) -> Poly:
    """Laplace expansion along the first row."""
    if len(matrix) == 1:
        return matrix[0][0]
    total = None
    for j, entry in enumerate(matrix[0]):
        minor = [row[:j] + row[j + 1 :] for row in matrix[1:]]
        term = entry * determinant(minor) * (-1.0) ** j
        total = term if total is None else total + term
    return total


def adjugate(matrix: list[list[Poly]]) -> list[list[Poly]]:
    """``adj(S)_ij = (-1)^(i+j) det(S without row j and column i)``."""
    n = len(matrix)
    if n == 1:
        return [[Poly.const(matrix[0][0].n, matrix[0][0].cap, 1.0)]]
    return [
        [
            determinant([row[:i] + row[i + 1 :] for k, row in enumerate(matrix) if k != j]) * (-1.0) ** (i + j)
            for j in range(n)
        ]
        for i in range(n)
    ]


def set_partitions(items: list[int]):
    """All set partitions of ``items``."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for smaller in set_partitions(rest):
        yield [[first]] + smaller
        for k in range(len(smaller)):
            yield smaller[:k] + [[first] + smaller[k]] + smaller[k + 1 :]


class GramChain:
    """The chain on ``M`` points for ``phi`` (ascending float coefficients), to order ``order``."""

    def __init__(self, phi: list[float], sigma_w2: float, M: int, order: int) -> None:
        self.phi, self.sigma_w2, self.M, self.order = phi, sigma_w2, M, order
        self.pairs = [(a, b) for a in range(M) for b in range(a, M)]
        self.index = {p: e for e, p in enumerate(self.pairs)}
        self.index.update({(b, a): e for (a, b), e in self.index.items()})
        self.n = len(self.pairs)

    # ----------------------------------------------------------- one copy's moments
    def _gaussian(self, K: np.ndarray, cap: int):
        """``k -> E[prod_a z_a^k_a]`` for ``z ~ N(0, K + D)``, a ``Poly`` in ``D`` (Isserlis)."""
        cov = [[Poly.var(self.n, cap, self.index[(a, b)]) + float(K[a, b]) for b in range(self.M)] for a in range(self.M)]

        @lru_cache(maxsize=None)
        def moment(k: Exponents) -> Poly:
            a = next((i for i, ki in enumerate(k) if ki), None)
            if a is None:
                return Poly.const(self.n, cap, 1.0)
            if sum(k) % 2:
                return Poly(self.n, cap)
            rest = list(k)
            rest[a] -= 1
            total = Poly(self.n, cap)
            for b, kb in enumerate(rest):
                if kb:
                    lower = list(rest)
                    lower[b] -= 1
                    total = total + cov[a][b] * moment(tuple(lower)) * float(kb)
            return total

        return moment

    def _raw(self, entries: tuple[int, ...], moment, cap: int) -> Poly:
        """``E[prod_i Y_{entries_i}]``: the product of ``phi``s expanded into monomials in ``z``."""
        points = [p for e in entries for p in self.pairs[e]]
        total = Poly(self.n, cap)
        for powers in itertools.product(range(len(self.phi)), repeat=len(points)):
            c = math.prod(self.phi[k] for k in powers)
            if c:
                k = [0] * self.M
                for p, power in zip(points, powers):
                    k[p] += power
                total = total + moment(tuple(k)) * c
        return total * self.sigma_w2 ** len(entries)

    def _cumulant(self, entries: tuple[int, ...], moment, cap: int) -> Poly:
        """``kappa_r(Y_e1, ..., Y_er)`` from raw moments by Moebius inversion over set partitions."""
        total = Poly(self.n, cap)
        for partition in set_partitions(list(range(len(entries)))):
            b = len(partition)
            term = Poly.const(self.n, cap, (-1.0) ** (b - 1) * math.factorial(b - 1))
            for block in partition:
                term = term * self._raw(tuple(entries[i] for i in block), moment, cap)
            total = total + term
        return total

    # ----------------------------------------------------------------- the chain
    def kernel_flow(self, K0: np.ndarray, depth: int) -> list[np.ndarray]:
        """``K_l = m(K_{l-1})``: the mean of one copy at ``D = 0``."""
        kernels = [np.asarray(K0, dtype=float)]
        for _ in range(depth):
            moment = self._gaussian(kernels[-1], 0)
            K = np.array([[self._raw((self.index[(a, b)],), moment, 0).constant() for b in range(self.M)]
                          for a in range(self.M)])
            kernels.append(K)
        return kernels

    def moments_of_last_layer(self, kernels: list[np.ndarray], widths: list[int]) -> dict[Exponents, np.ndarray]:
        """``E[D_L^beta]`` for ``|beta| <= 2 order`` as eps-series (row k: ``n^-k`` at the given widths)."""
        K2 = 2 * self.order
        zero = (0,) * self.n
        state = {zero: np.eye(self.order + 1)[0]}  # D_0 = 0
        degree_monomials = [
            beta for d in range(K2 + 1) for beta in _exponents(self.n, d)
        ]
        for layer, width in enumerate(widths, start=1):
            K_prev, K_next = kernels[layer - 1], kernels[layer]
            lam = 1.0 / width
            cumulants: dict[tuple[int, ...], Poly] = {}
            moments = {}

            def kappa(entries: tuple[int, ...]) -> Poly:
                """Conditional cumulant of ``D'`` over ``entries``, times ``(N eps)^(r-1)`` removed."""
                entries = tuple(sorted(entries))
                if entries not in cumulants:
                    r = len(entries)
                    cap = K2 if r == 1 else 2 * (self.order - r + 1)
                    if cap not in moments:
                        moments[cap] = self._gaussian(K_prev, cap)
                    c = self._cumulant(entries, moments[cap], cap)
                    if r == 1:
                        c = c - float(K_next[self.pairs[entries[0]]])
                    cumulants[entries] = c
                return cumulants[entries]

            new_state = {}
            for beta in degree_monomials:
                positions = [e for e, k in enumerate(beta) for _ in range(k)]
                series = np.zeros(self.order + 1)
                for partition in set_partitions(list(range(len(positions)))):
                    eps_power = sum(len(block) - 1 for block in partition)
                    if eps_power > self.order:
                        continue
                    product = Poly.const(self.n, K2, lam**eps_power)
                    for block in partition:
                        product = product * kappa(tuple(positions[i] for i in block))
                    for gamma, c in product.terms.items():
                        if gamma in state:
                            contribution = c * state[gamma]
                            series[eps_power:] += contribution[: self.order + 1 - eps_power]
                new_state[beta] = series
            state = new_state
        return state

    # ------------------------------------------------------------------ read-out
    def readout(self, K: np.ndarray, P: int, y: np.ndarray, sigma2: float) -> list[Poly]:
        """``[z, z m_x, z (C_xx + m_x^2)]`` as polynomials in ``D`` (``z = G(K + D)/G(K)``), one test point ``x = P``."""
        cap = 2 * self.order
        S = [[Poly.var(self.n, cap, self.index[(a, b)]) + float(K[a, b]) for b in range(self.M)] for a in range(self.M)]
        Sigma = [[S[a][b] + (sigma2 if a == b else 0.0) for b in range(P)] for a in range(P)]
        det = determinant(Sigma)
        adj = adjugate(Sigma)
        det0 = det.constant()
        inverse_det = binomial_series(det * (1.0 / det0) - 1.0, -1.0) * (1.0 / det0)
        quadratic = sum((adj[a][b] * (y[a] * y[b]) for a in range(P) for b in range(P)), Poly(self.n, cap)) * inverse_det
        z = binomial_series(det * (1.0 / det0) - 1.0, -0.5) * exp_series((quadratic - quadratic.constant()) * -0.5)
        out = [z]
        if self.M > P:
            x = P
            adj_y = [sum((adj[a][b] * y[b] for b in range(P)), Poly(self.n, cap)) for a in range(P)]
            mean = sum((S[x][a] * adj_y[a] for a in range(P)), Poly(self.n, cap)) * inverse_det
            explained = sum((S[x][a] * adj[a][b] * S[b][x] for a in range(P) for b in range(P)), Poly(self.n, cap))
            cov = S[x][x] - explained * inverse_det
            out += [z * mean, z * (cov + mean * mean)]
        return out

    def series(self, kernels: list[np.ndarray], widths: list[int], P: int, y: np.ndarray, sigma2: float) -> np.ndarray:
        """eps-series ``(order + 1, Q)`` of ``E[z]`` (and ``E[z m_x]``, ``E[z (C + m^2)]`` with a test point)."""
        state = self.moments_of_last_layer(kernels, widths)
        polys = self.readout(kernels[-1], P, y, sigma2)
        out = np.zeros((self.order + 1, len(polys)))
        for q, poly in enumerate(polys):
            for beta, c in poly.terms.items():
                if beta in state:
                    out[:, q] += c * state[beta]
        return out


def _exponents(n: int, degree: int):
    """Exponent tuples of ``n`` variables with total ``degree``."""
    for combo in itertools.combinations_with_replacement(range(n), degree):
        k = [0] * n
        for i in combo:
            k[i] += 1
        yield tuple(k)


def log_series(a: np.ndarray) -> np.ndarray:
    """eps-coefficients of ``log(a) - log(a_0)`` (``a`` an eps-series, axis 0)."""
    out = np.zeros_like(a)
    for k in range(1, len(a)):
        out[k] = (k * a[k] - sum(i * out[i] * a[k - i] for i in range(1, k))) / (k * a[0])
    return out


def divide_series(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    q = np.zeros_like(a)
    for k in range(len(a)):
        q[k] = (a[k] - sum(b[i] * q[k - i] for i in range(1, k + 1))) / b[0]
    return q


def exact_terms(
    phi: list[float], sigma_w2: float, X: np.ndarray, widths: list[int], y: np.ndarray, sigma2: float, order: int
) -> dict[str, np.ndarray]:
    """Terms ``0..order`` of the log evidence (term 0 without the Gaussian-process value, so 0), and of the
    posterior mean and variance at the row of ``X`` after the ``P = len(y)`` training rows, if there is one.

    ``phi``: ascending float coefficients of the activation.
    """
    X = np.asarray(X, dtype=float)
    M, P = len(X), len(y)
    chain = GramChain(phi, sigma_w2, M, order)
    kernels = chain.kernel_flow(sigma_w2 * X @ X.T / X.shape[1], len(widths))
    c = chain.series(kernels, widths, P, y, sigma2)
    out = {"log_evidence": log_series(c[:, 0])}
    if M > P:
        mean = divide_series(c[:, 1], c[:, 0])
        second = divide_series(c[:, 2], c[:, 0])
        var = second - np.array([sum(mean[i] * mean[k - i] for i in range(k + 1)) for k in range(order + 1)])
        out.update(mean=mean, var=var)
    return out
