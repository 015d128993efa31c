"""The sampled backend: every term ``k >= 1`` of the moments from drawn pattern values, with standard errors.

Sample ``s`` draws one set of copies for every pattern (``patterns``) and records the pattern values
(``pattern_values``); term ``k`` of ``E[z]``, ``E[z m_x]``, ``E[z (C + m m^T)]`` is then

    X_k(s) = sum_pi w_pi^(k)(N) V_pi(g_{pi, s}),        estimate = mean_s X_k(s),

unbiased, with ``w_pi^(k)`` the ``n^-k`` part of the pattern's weight. Row 0 (the Gaussian process) is
exact. Pattern values do not depend on the widths, so draws are shared across widths (common random
numbers) and kept in a small cache: a sweep over ``N`` with one seed costs one set of draws.

Control variate (``control=True``): the same draws pushed through the linear-map network whose last
kernel is the same ``K_L`` (``phi(t) = t``, kernels ``sigma_w2^(l-L) K_L``), whose expectation is exact
and cheap (the scale lowering, ``O(P^3)``) for every width monomial separately (``control_means``):

    estimate_k = mean_s [X_k(s) - sum_m c_m (Y_m(s) - E[Y_m])],

``c`` the least-squares coefficients per entry (``_controlled``). It shares the read-out (``A``, ``y``)
and, up to a rescaling of the points, the copies; what it cannot follow is the shaping's coupling between
entries. Standard errors of every derived quantity (log evidence, mean, covariance terms) come from the
delete-a-group jackknife over ``JACKKNIFE_GROUPS`` groups of samples, so the series algebra stays the one
in ``runtime.series`` (the coefficients ``c`` are fitted once, on all samples).
"""
from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..activation import t
from ..problem import Moments, Problem
from ..execution import Execution
from .pattern_values import SampledNetwork, Readout
from .patterns import Pattern, patterns

JACKKNIFE_GROUPS = 50
TAIL_MIN_SAMPLES = 100
TAIL_INDEX_WARNING = 2.0
"""Below this tail index (``SampledSeries.tail_index``) the values have no variance, the standard errors no meaning,
and a warning says so (the benign cases of the tests measure 2.6-2.7, Gaussian values 4-10)."""
SAMPLES_PER_REGRESSOR = 10
CHUNK_BYTES = 2.5e8
"""Memory for one batch of draws (its jets are about this many bytes)."""
DISTRIBUTED_TASKS = 400
"""On a cluster, the draws are cut into about this many tasks of equal work (load balance against overhead)."""
_CACHE: OrderedDict[str, tuple[np.ndarray, np.ndarray | None]] = OrderedDict()
_CACHE_SIZE = 4


def _chunk(pattern: Pattern, points: int) -> int:
    coefficients = int(np.prod([a + 1 for a in pattern.top]))
    return max(1, min(256, int(CHUNK_BYTES / (8.0 * 12 * coefficients * points * points))))


def _draws(seed: int, pattern: Pattern, chunk: int, count: int, points: int) -> np.ndarray:
    """The copies' ``g`` for one chunk: a stream keyed by the seed, the pattern and the chunk (not the widths)."""
    key = [seed, len(pattern.copies)] + [n for copy in pattern.copies for n in copy] + [chunk]
    return np.random.default_rng(key).standard_normal((len(pattern.copies), count, points))


def flattened(z: np.ndarray, zm: np.ndarray, zs: np.ndarray) -> np.ndarray:
    """``z``, ``z m``, ``z (C + m m^T)`` side by side over a leading axis (rows or draws): ``(n, 1 + T + T^2)``."""
    n = len(z)
    return np.concatenate([np.reshape(z, (n, 1)), np.reshape(zm, (n, -1)), np.reshape(zs, (n, -1))], axis=1)


def linear_control(problem: Problem) -> Problem:
    """The linear-map network with the same last kernel: ``phi(t) = t``, ``K_l = sigma_w2^(l-L) K_L``."""
    L, K_L, s = len(problem.widths), problem.kernels[-1], float(problem.sigma_w2)
    kernels = [K_L * s ** (l - L) for l in range(L + 1)]
    return Problem(t, problem.sigma_w2, kernels, problem.n_train, problem.y, problem.sigma2, problem.widths,
                   problem.order)


def _key(problem: Problem, samples: int, seed: int, control: bool) -> str:
    digest = hashlib.sha256()
    for part in (str(problem.phi), str(problem.sigma_w2), problem.n_train, problem.sigma2, problem.order, samples,
                 seed, control, len(problem.widths)):
        digest.update(repr(part).encode())
    for array in (*problem.kernels, problem.y):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def forget_draws() -> None:
    """Drop the cached draws (to time the estimator, or to recompute them on another execution)."""
    _CACHE.clear()


def _piece_values(networks: list[SampledNetwork], pattern: Pattern, seed: int, chunk: int, count: int, points: int,
                  piece: slice) -> list[np.ndarray]:
    """One task: the pattern's flattened values on draws ``piece`` of one chunk, for each network (pure)."""
    g = _draws(seed, pattern, chunk, count, points)[:, piece]
    return [flattened(*network.values(pattern, g)) for network in networks]


def _work(pattern: Pattern, depth: int) -> int:
    """Relative cost of one draw: the layers its jets cross times their coefficients."""
    first = pattern.copies[0][0]
    return (depth - first + 2) * int(np.prod([a + 1 for a in pattern.top]))


def pattern_draws(problem: Problem, readout: Readout, samples: int, seed: int, control: bool,
                  show_progress: bool = True, execution: Execution = Execution()
                  ) -> tuple[list[Pattern], np.ndarray, np.ndarray | None]:
    """Per-sample values of every pattern, flattened ``(z, z m, z (C + m m^T))``: ``(samples, patterns, F)``,
    and the same for the control network (``None`` without it). Cached by content (widths excluded).

    Each chunk of draws is one random stream; on a cluster (``execution``) its draws are computed in pieces
    of about ``1/DISTRIBUTED_TASKS`` of the total work, the costliest first, so that the workers finish
    together. Every piece is placed by (pattern, draw): the values do not depend on the number of workers
    or on the order in which pieces finish.
    """
    found = patterns(len(problem.widths), problem.order)
    key = _key(problem, samples, seed, control)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return found, *_CACHE[key]
    networks = [SampledNetwork(problem.phi, problem.sigma_w2, list(problem.kernels), readout)]
    if control:
        linear = linear_control(problem)
        networks.append(SampledNetwork(linear.phi, linear.sigma_w2, list(linear.kernels), readout))
    M, T, L = len(problem.kernels[-1]), problem.n_test, len(problem.widths)
    work = [_work(p, L) for p in found]
    budget = samples * sum(work) / DISTRIBUTED_TASKS if execution.distributed else math.inf
    pieces = []  # (pattern, chunk, draws in the chunk, first draw of the chunk, the piece's draws)
    for i, pattern in enumerate(found):
        size = _chunk(pattern, M)
        step = max(1, min(size, int(budget // work[i]))) if execution.distributed else size
        for c in range(-(-samples // size)):
            count = min(size, samples - c * size)
            pieces += [(i, c, count, c * size, slice(lo, min(lo + step, count))) for lo in range(0, count, step)]
    tasks = [(found[i], seed, c, count, M, piece) for i, c, count, _, piece in pieces]
    priorities = [work[i] * (piece.stop - piece.start) for i, _, _, _, piece in pieces]
    results = execution.map(_piece_values, tasks, "sampled patterns", show_progress, shared=(networks,),
                            priorities=priorities)
    values = [np.zeros((samples, len(found), 1 + T + T * T)) for _ in networks]
    for (i, _, _, start, piece), per_network in zip(pieces, results):
        for out, value in zip(values, per_network):
            out[start + piece.start:start + piece.stop, i] = value
    result = (values[0], values[1] if control else None)
    _CACHE[key] = result
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return found, *result


@dataclass(frozen=True)
class SampledSeries:
    """Per-sample estimates of the terms ``k = 1..K`` (control variate applied) and what makes them ``Moments``."""

    samples: np.ndarray  # (S, K + 1, F): X_k(s) - c (Y(s) - E[Y]), row 0 unused
    gaussian_process: tuple[np.ndarray, np.ndarray]  # row 0: mean, second moment
    n_test: int

    def _moments(self, rows: np.ndarray) -> Moments:
        terms = self.samples[rows].mean(axis=0)
        T, K1 = self.n_test, self.samples.shape[1]
        mean, second = self.gaussian_process
        z, zm, zs = terms[:, 0].copy(), terms[:, 1:1 + T].copy(), terms[:, 1 + T:].reshape(K1, T, T).copy()
        z[0], zm[0], zs[0] = 1.0, mean, second
        return Moments(z, zm, zs)

    def relative_error(self) -> float:
        """``max_k |se_k| / |term_k|`` over the terms ``k >= 1`` (Frobenius norms over ``z``, ``z m``, ``z (C + m m^T)``)."""
        terms, se = self.statistic(lambda m: flattened(m.z, m.zm, m.zs))
        size, spread = np.linalg.norm(terms[1:], axis=1), np.linalg.norm(se[1:], axis=1)
        return float(np.max(np.divide(spread, size, out=np.full_like(size, np.inf), where=size > 0)))

    def tail_index(self) -> float:
        """Hill's estimate of the tail index of the per-sample values, the smallest over the terms ``k >= 1``
        and their entries (``inf`` below ``TAIL_MIN_SAMPLES`` samples, too few to tell):

            alpha = [ (1/m) sum_{i <= m} ln(d_(i) / d_(m+1)) ]^-1,    d = |X(s) - mean_s X|,  m = max(10, sqrt(S)),

        ``d_(i)`` in decreasing order. A distribution with ``P(|X| > x) ~ x^-alpha`` has a finite variance only
        for ``alpha > 2``; Gaussian values give 4-10 at ``S >= 250`` and Student's t with 2 degrees of freedom 1.5-2.9.
        """
        S = len(self.samples)
        if S < TAIL_MIN_SAMPLES:
            return math.inf
        values = self.samples[:, 1:].reshape(S, -1)
        spread = np.sort(np.abs(values - values.mean(axis=0)), axis=0)[::-1]
        m = max(10, math.ceil(math.sqrt(S)))
        resolved = spread[m] > 1e-12 * np.abs(values).max(axis=0, initial=0.0)  # entries that vary at all
        if not np.any(resolved):
            return math.inf
        logs = np.log(spread[:m, resolved] / spread[m, resolved]).mean(axis=0)
        return float(1.0 / np.max(logs))

    def statistic(self, fn: Callable[[Moments], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """``fn`` of the estimated moments and its delete-a-group jackknife standard error."""
        S = len(self.samples)
        value = np.asarray(fn(self._moments(np.arange(S))))
        groups = np.array_split(np.arange(S), min(S, JACKKNIFE_GROUPS))
        left_out = np.array([fn(self._moments(np.setdiff1d(np.arange(S), g, assume_unique=True))) for g in groups])
        G = len(groups)
        se = np.sqrt((G - 1) / G * np.sum((left_out - left_out.mean(axis=0)) ** 2, axis=0))
        return value, np.where(np.ptp(left_out, axis=0) == 0, 0.0, se)  # exact entries: no rounding noise


def _monomial_types(monomials: list[tuple[int, ...]]) -> dict[tuple[int, ...], list[int]]:
    """Monomials ``prod_l x_l^(e_l)`` grouped by their sorted exponents (a symmetric function's terms)."""
    out: dict[tuple[int, ...], list[int]] = {}
    for i, m in enumerate(monomials):
        out.setdefault(tuple(sorted((e for e in m if e), reverse=True)), []).append(i)
    return out


def control_means(problem: Problem, monomials: list[tuple[int, ...]]) -> np.ndarray:
    """``E[Y_m]``: the coefficient of each width monomial in the control network's exact terms, ``(monomials, F)``.

    The control network's law depends on the widths only through ``prod_l chi2_{N_l}/N_l``, so its term ``k``
    is a symmetric polynomial in ``x_l = 1/N_l``: ``sum_types c_type sum_{m of that type} x^m``. The
    ``c_type`` are solved from the scale lowering at a few integer width vectors (exact to rounding).
    """
    from ..compiler.scale import scale_moments

    linear = linear_control(problem)
    types = _monomial_types(monomials)
    by_degree: dict[int, list[tuple[int, ...]]] = {}
    for kind in types:
        by_degree.setdefault(sum(kind), []).append(kind)
    L, order = len(problem.widths), problem.order
    rng = np.random.default_rng(0)
    width_sets = [tuple(int(w) for w in rng.integers(20, 200, size=L)) for _ in range(max(map(len, by_degree.values())) + 2)]
    exact = []
    for widths in width_sets:
        m = scale_moments(Problem(linear.phi, linear.sigma_w2, linear.kernels, linear.n_train, linear.y, linear.sigma2,
                                  widths, order))
        exact.append(flattened(m.z, m.zm, m.zs))
    means = np.zeros((len(monomials), exact[0].shape[1]))
    for degree, kinds in by_degree.items():
        design = np.array([[sum(math.prod((1.0 / N) ** e for N, e in zip(widths, monomials[i])) for i in types[kind])
                            for kind in kinds] for widths in width_sets])
        scale = np.abs(design).max(axis=0)
        solution = np.linalg.lstsq(design / scale, np.array([e[degree] for e in exact]), rcond=None)[0] / scale[:, None]
        for kind, c in zip(kinds, solution):
            means[types[kind]] = c
    return means


def _controlled(X: np.ndarray, Y: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """``X - (Y - E[Y]) c`` with ``c`` the least-squares coefficients per entry: ``X (S, F)``, ``Y (S, R, F)``."""
    dX, dY = X - X.mean(axis=0), Y - Y.mean(axis=0)
    gram = np.einsum("srf,sqf->frq", dY, dY)
    ridge = 1e-12 * np.trace(gram, axis1=1, axis2=2)[:, None, None] * np.eye(Y.shape[1]) + 1e-300
    c = np.linalg.solve(gram + ridge, np.einsum("srf,sf->fr", dY, dX)[..., None])[..., 0]  # (F, R)
    return X - np.einsum("srf,fr->sf", Y - mean, c)


def sampled_series(problem: Problem, samples: int, seed: int, control: bool = True,
                   show_progress: bool = True, execution: Execution = Execution()) -> SampledSeries:
    """Draw (or reuse) the pattern values and weight them for the problem's widths.

    Term ``k`` is ``sum_m x^m V_m`` over the width monomials ``x^m`` of degree ``k``, ``V_m`` the patterns'
    values weighted by their coefficients of ``x^m``. The control variate regresses each term on the control
    network's ``Y_m`` (known means, ``control_means``), one coefficient per monomial when there are at least
    ``SAMPLES_PER_REGRESSOR`` samples per monomial, else on their weighted sum.
    """
    readout = Readout.at(problem.kernels[-1], problem.n_train, problem.y, problem.sigma2)
    found, values, control_values = pattern_draws(problem, readout, samples, seed, control, show_progress, execution)
    L, order = len(problem.widths), problem.order
    polynomials = [p.weight_polynomial(L, order) for p in found]
    monomials = sorted({m for poly in polynomials for m in poly if 1 <= sum(m) <= order})
    coefficients = np.array([[poly.get(m, 0.0) for m in monomials] for poly in polynomials])  # (patterns, monomials)
    x = np.array([math.prod(float(N) ** -e for N, e in zip(problem.widths, m)) for m in monomials])
    degree = np.array([sum(m) for m in monomials])
    V = np.einsum("spf,pm->smf", values, coefficients)
    X = np.zeros((samples, order + 1, values.shape[2]))
    for k in range(1, order + 1):
        X[:, k] = np.einsum("smf,m->sf", V[:, degree == k], x[degree == k])
    if control_values is not None:
        Y = np.einsum("spf,pm->smf", control_values, coefficients)
        means = control_means(problem, monomials)
        for k in range(1, order + 1):
            chosen = degree == k
            Yk, mean_k = Y[:, chosen] * x[chosen, None], means[chosen] * x[chosen, None]
            if samples < SAMPLES_PER_REGRESSOR * len(Yk[0]):
                Yk, mean_k = Yk.sum(axis=1, keepdims=True), mean_k.sum(axis=0, keepdims=True)
            X[:, k] = _controlled(X[:, k], Yk, mean_k)
    return SampledSeries(X, readout.gaussian_process(), problem.n_test)
