"""One layer of the 1/N expansion: the conditional expectation of a polynomial test function.

Layer ``l`` maps ``S = K_{l-1} + d`` to ``S' = (1/N) sum_i Y_i`` (module
``symbolic.copy_moments``), so ``d' = S' - K_l = mu(d) + eta``, with
``mu(d) = m(K_{l-1} + d) - K_l`` and ``eta`` the mean of ``N`` iid centred copies.
A test function ``F(d') = sum c_alpha d'^alpha`` is pulled back to

    F_prev(d) = E[F(mu(d) + eta) | d],
    E[prod_{k in T} eta_{e_k} | d] = sum_{pi} (N)_{|pi|} / N^{|T|} prod_{B in pi} M_{|B|}(e_B; K_{l-1} + d),

the sum running over set partitions ``pi`` of ``T`` without singletons and
``(N)_b = N (N-1) ... (N-b+1)`` (distinct neurons per block). With ``1/N = eps * lam``
(``eps`` the formal expansion parameter, ``lam = n/N_l``) the weight is
``(eps lam)^{|T|-b} prod_{i<b} (1 - i eps lam)``.

Coefficients are eps-series: arrays ``(order + 1, Q)``, row ``k`` the ``eps^k`` part of
``Q`` quantities at once. Because the moments of ``d`` of degree ``j`` are
``O(eps^ceil(j/2))``, a term ``eps^k d^alpha`` with ``k + ceil(|alpha|/2) > order``
is dropped: the truncation is consistent in ``1/n``.
"""
from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence

import numpy as np

from perturbo.runtime import series
from perturbo.symbolic.copy_moments import local_pairs

from .tables import TaylorTable
from .truncated_poly import GramEntries, Monomial, TruncatedPoly

TestFunction = dict[Monomial, np.ndarray]


def kept_orders(order: int, degree: int) -> int:
    """Number of eps-orders a monomial of ``degree`` keeps: ``order - ceil(degree/2) + 1``."""
    return order - (degree + 1) // 2 + 1


def partitions_without_singletons(items: Sequence[int]) -> Iterator[list[tuple[int, ...]]]:
    """Set partitions of ``items`` whose blocks all have at least two elements."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for size in range(1, len(rest) + 1):
        for partners in itertools.combinations(range(len(rest)), size):
            block = (first, *(rest[i] for i in partners))
            others = [x for i, x in enumerate(rest) if i not in partners]
            for tail in partitions_without_singletons(others):
                yield [block, *tail]


def falling_factorial_weight(t: int, b: int, lam: float, order: int) -> np.ndarray:
    """eps-series of ``(N)_b / N^t`` with ``1/N = eps lam``: ``(eps lam)^{t-b} prod_{i<b} (1 - i eps lam)``."""
    weight = np.zeros(order + 1)
    if t - b <= order:
        weight[t - b] = lam ** (t - b)
    for i in range(1, b):
        weight[1:] = weight[1:] - i * lam * weight[:-1]
    return weight


class LayerMoments:
    """The polynomials ``mu_e(d)`` and ``M_r(e_B; K + d)`` of one layer on concrete Gram entries."""

    def __init__(
        self, K_prev: np.ndarray, moments: dict[int, TaylorTable], entries: GramEntries, order: int
    ) -> None:
        self.K_prev = K_prev
        self.moments = moments
        self.entries = entries
        self.order = order
        self._cache: dict[tuple[int, ...], TruncatedPoly] = {}
        self._products: dict[tuple[tuple[tuple[int, ...], ...], int], TruncatedPoly] = {}

    def block(self, block: tuple[int, ...]) -> TruncatedPoly:
        """``mu_e(d)`` for a single entry, else the central moment ``M_r`` of the block's entries."""
        block = tuple(sorted(block))
        if block not in self._cache:
            self._cache[block] = self._evaluate(block)
        return self._cache[block]

    def _evaluate(self, block: tuple[int, ...]) -> TruncatedPoly:
        r = len(block)
        local = self.moments[r]
        points = [p for e in block for p in self.entries.pairs[e]]
        pairs = local_pairs(2 * r)
        base = np.array([self.K_prev[points[p], points[q]] for p, q in pairs])
        to_global = [self.entries.index[points[p], points[q]] for p, q in pairs]
        terms: dict[Monomial, float] = defaultdict(float)
        for alpha, value in local.coefficients(base):
            if r == 1 and not alpha:
                continue  # m(K_{l-1}) = K_l: mu has no constant term
            terms[tuple(sorted(to_global[v] for v in alpha))] += value
        degree = 2 * self.order if r == 1 else 2 * (self.order - r + 1)
        return TruncatedPoly(terms, degree)

    def product(self, blocks: Sequence[tuple[int, ...]], degree: int) -> TruncatedPoly:
        """``prod_B block(B)`` truncated at ``degree``."""
        return self._sorted_product(tuple(sorted(tuple(sorted(b)) for b in blocks)), degree)

    def _sorted_product(self, blocks: tuple[tuple[int, ...], ...], degree: int) -> TruncatedPoly:
        """Memoised on the sorted prefix, so monomials sharing factors share the work."""
        key = (blocks, degree)
        if key not in self._products:
            if not blocks:
                result = TruncatedPoly.constant(1.0, degree)
            else:
                head = self._sorted_product(blocks[:-1], degree)
                result = head * self.block(blocks[-1]).truncate(degree) if head.terms else head
            self._products[key] = result
        return self._products[key]


def pull_back(F: TestFunction, layer: LayerMoments, lam: float) -> TestFunction:
    """``F_prev(d) = E[F(mu(d) + eta) | d]`` truncated at ``layer.order`` (module docstring).

    Per monomial ``prod_k d'_{e_k}``: every subset ``T`` of its factors is noise, the rest
    mean map; the noise factors are split into blocks (partitions without singletons).
    Choices giving the same blocks (repeated entries) are counted once with a multiplicity.
    """
    order = layer.order
    partitions = {t: list(partitions_without_singletons(list(range(t)))) for t in range(2 * order + 1)}
    weights = {
        (t, len(p)): falling_factorial_weight(t, len(p), lam, order) for t, ps in partitions.items() for p in ps
    }
    out: TestFunction = {}
    for monomial, coefficient in F.items():
        nonzero = np.flatnonzero(np.any(coefficient != 0.0, axis=1))
        if not len(nonzero):
            continue
        lowest, s = int(nonzero[0]), len(monomial)
        choices: Counter[tuple[tuple[tuple[int, ...], ...], int, int]] = Counter()
        for size in range(s + 1):
            for noisy in itertools.combinations(range(s), size):
                mean_part = [(monomial[i],) for i in range(s) if i not in noisy]
                for partition in partitions[size]:
                    if lowest + size - len(partition) <= order:
                        blocks = mean_part + [tuple(sorted(monomial[noisy[i]] for i in block)) for block in partition]
                        choices[(tuple(sorted(blocks)), size, len(partition))] += 1
        combined: dict[tuple[int, int], dict[Monomial, float]] = {}
        for (blocks, size, b), count in choices.items():
            poly = layer.product(blocks, 2 * (order - lowest - size + b))
            target = combined.setdefault((size, b), defaultdict(float))
            for m, value in poly.terms.items():
                target[m] += count * value
        for (size, b), poly_terms in combined.items():
            prefactor = series.multiply(weights[(size, b)][:, None], coefficient)
            for m, value in poly_terms.items():
                keep = kept_orders(order, len(m))
                if keep > 0 and value != 0.0:
                    target = out.get(m)
                    if target is None:
                        target = out[m] = np.zeros_like(coefficient)
                    target[:keep] += value * prefactor[:keep]
    return out
