"""The factored lowering of the first order: tensor networks of pair kernels, ``O(L M^4)`` time, ``O(M^2)`` memory.

With ``F(D)`` a read-out (``z``, ``z m_x``, ``z (C_xx' + m_x m_x')``), its degree-1 part ``g . D`` and degree-2 part
``Q(D)``,

    E[F(D_L)] = F(0) + g . mu_L + sum_l (1/N_l) E[Q(J_{L<-l} Y_l)] + O(n^-2),

``Y_l`` the centred one-copy noise of layer ``l`` and ``J_{L<-l}`` the Jacobian of the layers above it. ``J`` is
local, ``(J X)_ab = W_ab X_ab + U_ab X_aa + U_ba X_bb``, so ``J_{L<-l} Y_l`` is a matrix of pair functions whose
covariance is the cross-covariance expansion of ``ir.networks``, with the pulled-back derivative kernels

    Ghat^(i,j)_ab = W_ab G^(i,j)_ab + [j = 0] U_ab Phi2^(i)_a + [i = 0] U_ba Phi2^(j)_b.

The mean shift ``mu_l = J_l mu_{l-1} + (1/2) H_l[V_{l-1}]`` needs only the *local* covariances ``V`` of ``(D_ab,
D_aa, D_bb)``, which also propagate locally (3 x 3 per pair). The networks run along their plan
(``factored_plan``: dynamic-programming paths, shared stars, sliced loops; ``pairwise``: each step one NumPy
call), once per layer; the layer's algebra ``G``, ``Phi2``, the Jacobian ``F, E`` and Hessian ``H`` of the layer
map come from ``symbolic.derivative_kernels`` as monomial tables (``runtime.local_map``). All ``M = P + T``
points are handled together; test points never enter an inverse.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
import sympy as sp

from ..ir.networks import Hadamard, Kernel, MeanShift, OperandKey, cross_orders
from ..problem import Moments, Problem
from ..runtime.gp_posterior import gp_predict
from ..runtime.local_map import LocalPolynomial, local_polynomial
from ..symbolic.derivative_kernels import local_algebra
from ..symbolic.mean_map import S_aa, S_ab, S_bb
from .factored_plan import FactoredPlan, factored_plans
from .readout import OUTPUTS, ReadoutOperands

BLOCK_ROWS = 6
"""A sliced loop takes ``BLOCK_ROWS`` values of its index at a time: the fastest on this machine at ``M = 60`` to
210 (3 to 12 rows within 6% of each other; ``benchmarks/compiled_first_order.py``)."""

LOCAL_PATTERNS = {
    # (first pair, second pair) of the local entries v = (X_ab, X_aa, X_bb) as point labels
    (0, 0): ("ab", "ab"),
    (0, 1): ("ab", "aa"),
    (0, 2): ("ab", "bb"),
    (1, 1): ("aa", "aa"),
    (1, 2): ("aa", "bb"),
    (2, 2): ("bb", "bb"),
}


class LayerAlgebra:
    """``symbolic.derivative_kernels`` as monomial tables, evaluated at a layer's kernel ``K`` (``at``): ``G^(i,j)``,
    ``Phi2^(i)``, and the layer map's Jacobian ``F, E`` and Hessian ``H`` (``H[0]`` the diagonal's curvature)."""

    def __init__(self, phi: sp.Expr, sigma_w2: sp.Expr) -> None:
        algebra = local_algebra(phi, sigma_w2)
        variables = (S_aa, S_bb, S_ab)

        def table(e: sp.Expr) -> LocalPolynomial:
            return local_polynomial(sp.sympify(e), variables)

        self.max_derivative = algebra.max_derivative
        self.kernels = {key: table(e) for key, e in sorted(algebra.kernels.items())}
        self.square = {i: table(e) for i, e in sorted(algebra.square_derivatives.items())}
        self.jacobian = (table(algebra.jacobian[0]), table(algebra.jacobian[1]))
        self.hessian = tuple(table(algebra.hessian[key]) for key in sorted(algebra.hessian))
        self.diagonal = (table(algebra.diagonal_slope), table(algebra.diagonal_curvature))

    def at(self, K: np.ndarray) -> dict[str, object]:
        """``G`` (``(i, j) -> M x M``), ``Phi2`` (``i -> M``), ``F``, ``E`` (``M x M``, on the diagonal ``F_aa = w``,
        ``E_aa = 0``), ``H`` (``6 x M x M`` over ``(S_ab, S_aa, S_bb)`` pairs; on the diagonal ``h, 0, .., 0``)."""
        F, E = (f(K) for f in self.jacobian)
        H = np.stack([f(K) for f in self.hessian])
        slope, curvature = (np.diagonal(f(K)) for f in self.diagonal)
        np.fill_diagonal(F, slope)
        np.fill_diagonal(E, 0.0)
        for k in range(6):
            np.fill_diagonal(H[k], curvature if k == 0 else 0.0)
        return {"G": {key: f(K) for key, f in self.kernels.items()},
                "Phi2": {i: np.diagonal(f(K)).copy() for i, f in self.square.items()}, "F": F, "E": E, "H": H}


@lru_cache(maxsize=32)
def layer_algebra(phi: sp.Expr, sigma_w2: sp.Expr) -> LayerAlgebra:
    return LayerAlgebra(phi, sigma_w2)


def derivative_kernels(algebra: Mapping[str, object], W: np.ndarray,
                       U: np.ndarray) -> dict[tuple[int, int], np.ndarray]:
    """``Ghat^(i,j)`` of the module docstring, for every ``(i, j)`` that can be non-zero."""
    kernels = {key: W * G for key, G in algebra["G"].items()}
    for i, phi2 in algebra["Phi2"].items():
        row = U * phi2[:, None]  # U_ab Phi2^(i)_a
        kernels[(i, 0)] = kernels.get((i, 0), 0.0) + row
        kernels[(0, i)] = kernels.get((0, i), 0.0) + row.T
    return kernels


def pair_covariance(first: Mapping[tuple[int, int], np.ndarray], second: Mapping[tuple[int, int], np.ndarray],
                    cross: Sequence[np.ndarray], max_derivative: int) -> np.ndarray:
    """``Cov(X_pq, X_rs)`` elementwise from the kernels of both pairs and ``(K_pr, K_ps, K_qr, K_qs)``."""
    distinct = {id(k): k for k in cross}  # the pair patterns repeat K: its Hadamard powers once
    table = {i: [None] + [k**m / math.factorial(m) for m in range(1, max_derivative + 1)] for i, k in distinct.items()}
    powers = [table[id(k)] for k in cross]
    total = 0.0
    for n in cross_orders(max_derivative):
        a, b = (n[0] + n[1], n[2] + n[3]), (n[0] + n[2], n[1] + n[3])
        if a in first and b in second:
            weight = math.prod(p[m] for p, m in zip(powers, n) if m)
            total = total + weight * first[a] * second[b]
    return total


def local_covariance(kernels: Mapping[tuple[int, int], np.ndarray], K: np.ndarray, max_derivative: int) -> np.ndarray:
    """``Cov`` of ``(X_ab, X_aa, X_bb)`` for every pair: shape ``(M, M, 3, 3)``."""
    d = np.diagonal(K)
    entry = {"ab": K, "ba": K, "aa": np.broadcast_to(d[:, None], K.shape), "bb": np.broadcast_to(d[None, :], K.shape)}
    pair = {"ab": kernels, "aa": {key: np.diagonal(g)[:, None] for key, g in kernels.items()},
            "bb": {key: np.diagonal(g)[None, :] for key, g in kernels.items()}}
    V = np.zeros(K.shape + (3, 3))
    for (k, l), (p, r) in LOCAL_PATTERNS.items():
        cross = [entry[p[0] + r[0]], entry[p[0] + r[1]], entry[p[1] + r[0]], entry[p[1] + r[1]]]
        V[:, :, k, l] = V[:, :, l, k] = pair_covariance(pair[p], pair[r], cross, 2 * max_derivative)
    return V


def _local_jacobian(algebra: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(M, M, 3, 3)``: ``(X_ab, X_aa, X_bb) -> ((J X)_ab, (J X)_aa, (J X)_bb)``."""
    F, E = algebra["F"], algebra["E"]
    w = np.diagonal(F)
    J = np.zeros(F.shape + (3, 3))
    J[:, :, 0, 0], J[:, :, 0, 1], J[:, :, 0, 2] = F, E, E.T
    J[:, :, 1, 1], J[:, :, 2, 2] = w[:, None], w[None, :]
    return J


def _apply_jacobian(algebra: Mapping[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    d = np.diagonal(X)
    return algebra["F"] * X + algebra["E"] * d[:, None] + algebra["E"].T * d[None, :]


def _half_hessian(algebra: Mapping[str, np.ndarray], V: np.ndarray) -> np.ndarray:
    """``(1/2) E[H[X, X]]`` entrywise from the local covariances ``V``."""
    keys = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
    return 0.5 * sum((1 if k == l else 2) * algebra["H"][i] * V[:, :, k, l] for i, (k, l) in enumerate(keys))


def run_networks(plan: FactoredPlan, operands: ReadoutOperands, layer: Mapping[OperandKey, np.ndarray],
                 totals: Sequence[np.ndarray], block_rows: int = BLOCK_ROWS) -> None:
    """Add ``coefficient * node`` to ``totals[output]`` for the plan's results: steps and sliced loops in the
    plan's schedule, each node freed after its last use. The operands are the read-out's (``ReadoutOperands``:
    products of ``K`` and ``A``, end vectors, closed words) and the layer's kernels (``layer``)."""
    values: dict[int, object] = {}
    for k, key in enumerate(plan.operands):
        value = layer[key] if key in layer else operands[key]
        values[k] = value if plan.axes[k] or np.ndim(value) == 0 else value[0, 0]  # a constant matrix as a scalar
    first, calls = plan.first_step, plan.calls
    for (kind, x), results, released in plan.instructions:
        if kind == "step":
            function, nodes = calls[x]
            values[first + x] = function(*[values[n] for n in nodes])
        else:
            _run_loop(plan, x, values, block_rows)
        for node, output, coefficient in results:
            totals[output] += coefficient * values[node]
        for node in released:
            values.pop(node, None)


def _run_loop(plan: FactoredPlan, g: int, values: dict[int, object], block_rows: int) -> None:
    """Sliced loop ``g``: its steps on blocks of the sliced index; the values leaving it, whole, into ``values``."""
    loop = plan.loops[g]
    node, axis = loop.length
    n = np.shape(values[node])[axis]
    leaving: dict[int, np.ndarray] = {}
    first = plan.first_step
    scratch: dict[int, np.ndarray] = {}  # per step, its result's memory, reused by every block after the first
    for start in range(0, n, block_rows):
        cut = slice(start, min(n, start + block_rows))
        inside: dict[int, np.ndarray] = {}
        for k, function, inputs in plan.loop_calls[g]:
            arguments = [inside[node] if where == -2 else values[node] if where == -1
                         else values[node][(slice(None),) * where + (cut,)] for node, where in inputs]
            value = function(*arguments, scratch=scratch.get(k))
            if start == 0 and np.ndim(value):
                scratch[k] = np.empty(np.size(value))
            position = loop.exits.get(k)
            if position is None:
                inside[first + k] = value
            elif position < 0:
                if first + k in leaving:
                    leaving[first + k] += value
                else:
                    leaving[first + k] = np.array(value)  # (a copy: the value may sit in scratch memory)
            else:
                if first + k not in leaving:
                    shape = list(value.shape)
                    shape[position] = n
                    leaving[first + k] = np.empty(shape)
                leaving[first + k][(slice(None),) * position + (cut,)] = value
    values.update(leaving)


def first_order_terms(phi: sp.Expr, sigma_w2: sp.Expr, kernels: Sequence[np.ndarray], n_train: int, y: np.ndarray,
                      sigma2: float, widths: Sequence[int], block_rows: int = BLOCK_ROWS) -> dict[str, np.ndarray]:
    """The ``1/n`` terms of ``E[z]``, ``E[z m_x]`` and ``E[z (C_xx' + m_x m_x')]`` (module docstring)."""
    K_L = kernels[-1]
    M, P = len(K_L), n_train
    T = M - P
    operands = ReadoutOperands(K_L, P, y, sigma2)
    plans = factored_plans(phi, sigma_w2, tested=T > 0)
    shapes = {"z": (), "zm": (T,), "zs": (T, T)}
    outputs = OUTPUTS if T else ("z",)
    terms = [np.zeros(shapes[name]) for name in OUTPUTS]
    algebra_of = layer_algebra(phi, sigma_w2)
    max_derivative = algebra_of.max_derivative

    mu = np.zeros((M, M))
    V = np.zeros((M, M, 3, 3))
    ones = np.ones((M, M))
    for layer, width in enumerate(widths, start=1):
        algebra = algebra_of.at(kernels[layer - 1])
        J = _local_jacobian(algebra)
        mu = _apply_jacobian(algebra, mu) + _half_hessian(algebra, V)
        noise = local_covariance(derivative_kernels(algebra, ones, 0 * ones), kernels[layer - 1], max_derivative)
        V = np.einsum("abij,abjk,ablk->abil", J, V, J) + noise / width

    W, U = np.ones((M, M)), np.zeros((M, M))
    for layer in range(len(widths), 0, -1):
        K = kernels[layer - 1]
        algebra = algebra_of.at(K)  # recomputed (O(M^2)) rather than kept for all layers
        layer_terms = [np.zeros(shapes[name]) for name in OUTPUTS]
        pulled_back = {Kernel(i, j): g for (i, j), g in derivative_kernels(algebra, W, U).items()}
        pulled_back |= {Hadamard(n): K**n / math.factorial(n) for n in range(1, 2 * max_derivative + 1)}
        run_networks(plans["quadratic"], operands, pulled_back, layer_terms, block_rows)
        for total, term in zip(terms, layer_terms):
            total += term / widths[layer - 1]
        W, U = W * algebra["F"], W * algebra["E"] + U * np.diagonal(algebra["F"])[:, None]
    run_networks(plans["linear"], operands, {MeanShift(): mu}, terms, block_rows)
    return {name: terms[OUTPUTS.index(name)] for name in outputs}


def factored_moments(problem: Problem) -> Moments:
    """``Moments`` rows 0 (the Gaussian process) and 1 (``first_order_terms``)."""
    first = first_order_terms(problem.phi, problem.sigma_w2, problem.kernels, problem.n_train, problem.y,
                              problem.sigma2, problem.widths)
    P, T = problem.n_train, problem.n_test
    K = problem.kernels[-1]
    z = np.array([1.0, first["z"]])
    if not T:
        return Moments(z, np.zeros((2, 0)), np.zeros((2, 0, 0)))
    mean, cov = gp_predict(K[:P, :P], K[P:, :P], K[P:, P:], problem.y, problem.sigma2)
    zm = np.stack([mean, first["zm"]])
    zs = np.stack([cov + np.outer(mean, mean), first["zs"]])
    return Moments(z, zm, zs)
