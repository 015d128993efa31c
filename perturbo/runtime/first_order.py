"""The first order from the compiled module (``perturbo.codegen``): ``O(L n^3)`` for linear layer maps.

With ``F(D)`` a read-out (``z``, ``z m_x``, ``z (C_xx' + m_x m_x')``), its degree-1 part
``g.D`` and degree-2 part ``Q(D)``,

    E[F(D_L)] = F(0) + g . mu_L + sum_l (1/N_l) E[Q(J_{L<-l} Y_l)] + O(n^-2),

``Y_l`` the centred one-copy noise of layer ``l`` and ``J_{L<-l}`` the Jacobian of the
layers above it. ``J`` is local: ``(J X)_ab = W_ab X_ab + U_ab X_aa + U_ba X_bb``, so
``J_{L<-l} Y_l`` is a matrix of pair functions and its covariance is the
cross-covariance expansion of ``ir.networks``, with derivative kernels

    Ghat^(i,j)_ab = W_ab G^(i,j)_ab + [j = 0] U_ab Phi2^(i)_a + [i = 0] U_ba Phi2^(j)_b.

The mean shift ``mu_l = J_l mu_{l-1} + (1/2) H_l[V_{l-1}]`` needs only the *local*
covariances ``V`` of ``(D_ab, D_aa, D_bb)``, which also propagate locally (3 x 3 per pair).
All ``M = P + T`` points are handled together; test points never enter an inverse.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from types import ModuleType

import numpy as np

from ..ir.networks import Hadamard, Kernel, MeanShift, cross_orders

LOCAL_PATTERNS = {
    # (first pair, second pair) of the local entries v = (X_ab, X_aa, X_bb) as point labels
    (0, 0): ("ab", "ab"),
    (0, 1): ("ab", "aa"),
    (0, 2): ("ab", "bb"),
    (1, 1): ("aa", "aa"),
    (1, 2): ("aa", "bb"),
    (2, 2): ("bb", "bb"),
}


class Operands(dict):
    """The arrays of the generated networks by operand name, computed on first use from the module's
    ``OPERANDS`` (name -> ``(kind, *fields)``, the typed keys of ``ir.networks``): products of ``K``, ``A``
    and end vectors, and the layer's kernels (``layer``: ``Kernel``/``Hadamard``/``MeanShift`` -> array).
    """

    def __init__(self, described: dict[str, tuple], K: np.ndarray, A: np.ndarray, y: np.ndarray, n_train: int) -> None:
        super().__init__()
        self.described = described
        self.base = {"K": K, "A": A}
        self.identity = np.eye(len(K))
        self.ends = {"y": y, "x": np.eye(len(K))[n_train:]}
        self.layer: dict[tuple, np.ndarray] = {}

    def _product(self, start: np.ndarray, letters: tuple[str, ...]) -> np.ndarray:
        for letter in letters:
            start = start @ self.base[letter]
        return start

    def __missing__(self, name: str) -> np.ndarray:
        kind, *fields = self.described[name]
        if kind == "Run":
            value = self._product(self.identity, fields[0])
        elif kind == "End":
            value = self._product(self.ends[fields[0]], fields[1])
        elif kind == "Closed":
            left, letters, right = fields
            if left == "tr":
                value = np.trace(self._product(self.identity, letters))
            else:
                value = self._product(self.ends[left], letters) @ self.ends[right].T
        else:  # Kernel, Hadamard, MeanShift: this layer's (not kept: set_layer replaces them)
            return self.layer[(kind, *fields)]
        self[name] = value
        return value

    def set_layer(self, values: dict[tuple, np.ndarray], scalars: Sequence[str]) -> None:
        """The current layer's kernels (``describe()`` tuple -> array); constant matrices as scalars."""
        self.layer = dict(values)
        for name in scalars:  # constant matrices carry no index (contraction_order)
            key = self.described[name]
            self.layer[key] = self.layer[key][0, 0]

def _layer_algebra(module: ModuleType, K: np.ndarray) -> dict[str, np.ndarray]:
    M = len(K)
    arrays = {
        "G": np.empty((len(module.KERNELS), M, M)),
        "Phi2": np.empty((len(module.SQUARE_DERIVATIVES), M)),
        "F": np.empty((M, M)),
        "E": np.empty((M, M)),
        "H": np.empty((6, M, M)),
    }
    module.layer_algebra(K, arrays["G"], arrays["Phi2"], arrays["F"], arrays["E"], arrays["H"])
    return arrays


def derivative_kernels(
    module: ModuleType, algebra: dict[str, np.ndarray], W: np.ndarray, U: np.ndarray
) -> dict[tuple[int, int], np.ndarray]:
    """``Ghat^(i,j)`` of the module docstring, for every ``(i, j)`` that can be non-zero."""
    kernels = {key: W * algebra["G"][k] for k, key in enumerate(module.KERNELS)}
    for k, i in enumerate(module.SQUARE_DERIVATIVES):
        row = U * algebra["Phi2"][k][:, None]  # U_ab Phi2^(i)_a
        kernels[(i, 0)] = kernels.get((i, 0), 0.0) + row
        kernels[(0, i)] = kernels.get((0, i), 0.0) + row.T
    return kernels


def pair_covariance(
    first: dict[tuple[int, int], np.ndarray],
    second: dict[tuple[int, int], np.ndarray],
    cross: Sequence[np.ndarray],
    max_derivative: int,
) -> np.ndarray:
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


def local_covariance(
    module: ModuleType, kernels: dict[tuple[int, int], np.ndarray], K: np.ndarray
) -> np.ndarray:
    """``Cov`` of ``(X_ab, X_aa, X_bb)`` for every pair: shape ``(M, M, 3, 3)``."""
    d = np.diagonal(K)
    entry = {"ab": K, "ba": K, "aa": np.broadcast_to(d[:, None], K.shape), "bb": np.broadcast_to(d[None, :], K.shape)}
    pair = {
        "ab": kernels,
        "aa": {key: np.diagonal(g)[:, None] for key, g in kernels.items()},
        "bb": {key: np.diagonal(g)[None, :] for key, g in kernels.items()},
    }
    V = np.zeros(K.shape + (3, 3))
    for (k, l), (p, r) in LOCAL_PATTERNS.items():
        cross = [entry[p[0] + r[0]], entry[p[0] + r[1]], entry[p[1] + r[0]], entry[p[1] + r[1]]]
        V[:, :, k, l] = V[:, :, l, k] = pair_covariance(pair[p], pair[r], cross, module.MAX_DERIVATIVE)
    return V


def _local_jacobian(algebra: dict[str, np.ndarray]) -> np.ndarray:
    """``(M, M, 3, 3)``: ``(X_ab, X_aa, X_bb) -> ((J X)_ab, (J X)_aa, (J X)_bb)``."""
    F, E = algebra["F"], algebra["E"]
    w = np.diagonal(F)
    L = np.zeros(F.shape + (3, 3))
    L[:, :, 0, 0], L[:, :, 0, 1], L[:, :, 0, 2] = F, E, E.T
    L[:, :, 1, 1], L[:, :, 2, 2] = w[:, None], w[None, :]
    return L


def _apply_jacobian(algebra: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    d = np.diagonal(X)
    return algebra["F"] * X + algebra["E"] * d[:, None] + algebra["E"].T * d[None, :]


def _half_hessian(algebra: dict[str, np.ndarray], V: np.ndarray) -> np.ndarray:
    """``(1/2) E[H[X, X]]`` entrywise from the local covariances ``V``."""
    H = algebra["H"]
    keys = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
    return 0.5 * sum((1 if k == l else 2) * H[i] * V[:, :, k, l] for i, (k, l) in enumerate(keys))


def _shape(free: str, T: int) -> tuple[int, ...]:
    return (T,) * len(free)


class LayerOperands(dict):
    """One layer's operands: the call's ``Operands`` and the module's shared steps, each computed on first use."""

    def __init__(self, operands: Operands, steps: dict) -> None:
        super().__init__()
        self.operands, self.steps = operands, steps

    def __missing__(self, name: str) -> np.ndarray:
        value = self.steps[name](self) if name in self.steps else self.operands[name]
        self[name] = value
        return value


def evaluate_components(module: ModuleType, rows: list, operands: LayerOperands) -> dict[int, np.ndarray]:
    """The components of ``rows``, each shared step freed after its last user.

    Components needing the same shared steps run one after another (ordered by the steps they
    use), so few steps are held at once.
    """
    used = module.STEPS_USED
    numbers = sorted({number for _, parts in rows for number, _ in parts}, key=lambda k: (used.get(k, ()), k))
    last_user = {step: k for k in numbers for step in used.get(k, ())}
    values: dict[int, np.ndarray] = {}
    for k in numbers:
        if k not in values:  # a function may return several components (a shared star)
            values.update(module.COMPONENTS[k](operands))
        for step in used.get(k, ()):
            if last_user[step] == k:
                operands.pop(step, None)
    return values


def _networks_value(rows: list, values: dict[int, np.ndarray], free: str, T: int) -> np.ndarray:
    """``sum coefficient * prod components`` over the free indices."""
    total = np.zeros(_shape(free, T))
    for coefficient, parts in rows:
        term = coefficient
        for number, indices in parts:
            value = values[number]
            if free == "XY" and indices in ("X", "Y"):
                value = value[:, None] if indices == "X" else value[None, :]
            term = term * value
        total = total + term
    return total


FREE = {"z": "", "zm": "X", "zs": "XY"}


def first_order_terms(
    module: ModuleType,
    kernels: Sequence[np.ndarray],
    n_train: int,
    y: np.ndarray,
    sigma2: float,
    widths: Sequence[int],
) -> dict[str, np.ndarray]:
    """The ``1/n`` terms of ``E[z]``, ``E[z m_x]`` and ``E[z (C_xx' + m_x m_x')]`` (module docstring)."""
    K_L = kernels[-1]
    M, P = len(K_L), n_train
    T = M - P
    A = np.zeros((M, M))
    A[:P, :P] = np.linalg.inv(K_L[:P, :P] + sigma2 * np.eye(P))
    y_padded = np.zeros(M)
    y_padded[:P] = y
    outputs = FREE if T else {"z": ""}
    operands = Operands(module.OPERANDS, K_L, A, y_padded, P)
    terms = {name: np.zeros(_shape(free, T)) for name, free in outputs.items()}

    mu = np.zeros((M, M))
    V = np.zeros((M, M, 3, 3))
    ones = np.ones((M, M))
    for layer, width in enumerate(widths, start=1):
        algebra = _layer_algebra(module, kernels[layer - 1])
        L = _local_jacobian(algebra)
        mu = _apply_jacobian(algebra, mu) + _half_hessian(algebra, V)
        noise = local_covariance(module, derivative_kernels(module, algebra, ones, 0 * ones), kernels[layer - 1])
        V = np.einsum("abij,abjk,ablk->abil", L, V, L) + noise / width

    quadratic = [row for name in outputs for row in module.NETWORKS[name]["quadratic"]]
    linear = [row for name in outputs for row in module.NETWORKS[name]["linear"]]
    W, U = np.ones((M, M)), np.zeros((M, M))
    for layer in range(len(widths), 0, -1):
        K = kernels[layer - 1]
        algebra = _layer_algebra(module, K)  # recomputed (O(n^2), Numba) rather than kept for all layers
        layer_values = {Kernel(i, j).describe(): g for (i, j), g in derivative_kernels(module, algebra, W, U).items()}
        layer_values |= {Hadamard(n).describe(): K**n / math.factorial(n) for n in range(1, module.MAX_DERIVATIVE + 1)}
        operands.set_layer(layer_values, module.SCALAR_OPERANDS)
        values = evaluate_components(module, quadratic, LayerOperands(operands, module.SHARED_STEPS))
        for name, free in outputs.items():
            quadratic_value = _networks_value(module.NETWORKS[name]["quadratic"], values, free, T)
            terms[name] = terms[name] + quadratic_value / widths[layer - 1]
        W, U = W * algebra["F"], W * algebra["E"] + U * np.diagonal(algebra["F"])[:, None]
    operands.set_layer({MeanShift().describe(): mu}, ())
    values = evaluate_components(module, linear, LayerOperands(operands, module.SHARED_STEPS))
    for name, free in outputs.items():
        terms[name] = terms[name] + _networks_value(module.NETWORKS[name]["linear"], values, free, T)
    return terms
