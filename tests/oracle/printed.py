"""Evaluate a printed expansion (``expansion_K.json``) on data with plain NumPy, sharing no code with the compiler.

The curvature weights come from the file's SymPy text; the noise coefficients ``Q_{r,alpha}`` from the oracle's
symbolic tables (``tables.CopyMoments``: for ``r <= 3`` a joint cumulant is the central moment, so orders 1
and 2 only); every term is an ``einsum`` over its indices, convolved in the powers of ``1/N``.
"""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import sympy as sp

from perturbo.activation import t
from tests.oracle.tables import CopyMoments

S_aa, S_bb, S_ab = sp.symbols("S_aa S_bb S_ab")


def _partitions(items: list) -> list[list[list]]:
    if not items:
        return [[]]
    first, out = items[0], []
    for rest in _partitions(items[1:]):
        out.append([[first]] + rest)
        for k in range(len(rest)):
            out.append(rest[:k] + [[first] + rest[k]] + rest[k + 1:])
    return out


def _lowest(s: int) -> int:
    return max(1, s - 1)


def _jacobian(T: np.ndarray, k: int, J: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """``(JX)_ab = c001 X_ab + c100 X_aa + c010 X_bb`` on the axis pair ``k`` (after the series axis)."""
    c001, c100, c010 = J
    i, j = 1 + 2 * k, 2 + 2 * k
    moved = np.moveaxis(T, (i, j), (-2, -1))
    diagonal = np.diagonal(moved, axis1=-2, axis2=-1)
    out = c001 * moved + c100 * diagonal[..., :, None] + c010 * diagonal[..., None, :]
    return np.moveaxis(out, (-2, -1), (i, j))


def _series_einsum(fixed, series, output, order, shift):
    """``sum prod`` over rows of the series arrays (``(array, indices, lowest)``), shifted by ``shift`` powers."""
    names = sorted({i for _, idx in fixed for i in idx} | {i for _, idx, _ in series for i in idx} | set(output))
    letter = {n: chr(ord("a") + k) if k < 26 else chr(ord("A") + k - 26) for k, n in enumerate(names)}
    spec = ",".join("".join(letter[i] for i in idx) for _, idx in fixed + [(a, idx) for a, idx, _ in series])
    spec += "->" + "".join(letter[i] for i in output)
    size = {}
    for a, idx in fixed:
        size.update(zip(idx, a.shape))
    for a, idx, _ in series:
        size.update(zip(idx, a.shape[1:]))
    out = np.zeros((order + 1,) + tuple(size[i] for i in output))
    for rows in itertools.product(*[range(low, order + 1) for _, _, low in series]):
        total = sum(rows) + shift
        if total <= order:
            out[total] += np.einsum(spec, *[a for a, _ in fixed], *[a[k] for (a, _, _), k in zip(series, rows)])
    return out


class PrintedExpansion:
    def __init__(self, path: Path, params: dict[str, float]) -> None:
        self.data = json.loads(Path(path).read_text())
        names = {"t": t, "S_aa": S_aa, "S_bb": S_bb, "S_ab": S_ab}
        names |= {k: sp.Symbol(k) for k in ("psi", "L", "sigma_w2")}
        values = {names[k]: sp.nsimplify(v) for k, v in params.items()}
        self.order = self.data["order"]
        assert self.order <= 2, "Q from central moments holds for r <= 3"
        phi = sp.parse_expr(self.data["phi"], local_dict=names).subs(values)
        self.sigma_w2 = sp.parse_expr(self.data["sigma_w2"], local_dict=names).subs(values)
        self.moments = CopyMoments(sp.expand(phi), self.sigma_w2)
        self.weights = {tuple(int(c) for c in b): sp.lambdify((S_aa, S_bb, S_ab),
                                                               sp.parse_expr(e, local_dict=names).subs(values))
                        for b, e in self.data["curvature_weights"].items()}

    def _weight(self, K: np.ndarray, beta: tuple[int, ...]) -> np.ndarray:
        d = np.diagonal(K)
        if beta not in self.weights:
            return np.zeros_like(K)
        return np.broadcast_to(self.weights[beta](d[:, None], d[None, :], K), K.shape).astype(float)

    def layer(self, K: np.ndarray, width: int, state: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        J = (self._weight(K, (0, 0, 1)), self._weight(K, (1, 0, 0)), self._weight(K, (0, 1, 0)))
        new = {}
        for n, terms in self.data["transfer"].items():
            n = int(n)
            out = np.zeros((self.order + 1,) + (len(K),) * (2 * n))
            for term in terms:
                fixed = []
                for op in term["operands"]:
                    if op["kind"] == "c":
                        fixed.append((self._weight(K, tuple(op["beta"])), op["indices"]))
                    else:
                        alpha = tuple(tuple(pq) for pq in op["alpha"])
                        fixed.append((self.moments.tensor(K, op["r"], alpha), op["indices"]))
                series = []
                for st in term["states"]:
                    kappa = state[len(st["factors"])]
                    for k, factor in enumerate(st["factors"]):
                        if factor["jacobian"]:
                            kappa = _jacobian(kappa, k, J)
                    series.append((kappa, [i for f in st["factors"] for i in f["entry"]], _lowest(len(st["factors"]))))
                output = [i for pair in term["outputs"] for i in pair]
                value = _series_einsum(fixed, series, output, self.order, term["noise_power"])
                out += value * term["multiplicity"] / width ** term["noise_power"]
            new[n] = out
        return new

    def moments_of(self, kernels, n_train: int, y: np.ndarray, sigma2: float, widths) -> dict[str, np.ndarray]:
        """``E[z]``, ``E[z m]``, ``E[z (C + m m')]`` series, ``kernels = [K_0, ..., K_L]`` on the stacked points."""
        M, P = len(kernels[0]), n_train
        state = {n: np.zeros((self.order + 1,) + (M,) * (2 * n)) for n in range(1, self.order + 2)}
        for K, width in zip(kernels[:-1], widths):
            state = self.layer(K, width, state)
        K = kernels[-1]
        A = np.zeros((M, M))
        A[:P, :P] = np.linalg.inv(K[:P, :P] + sigma2 * np.eye(P))
        matrices = {"A": A, "K": K}
        y_pad = np.concatenate([y, np.zeros(M - P)])
        ends = {"y": y_pad, "x": np.eye(M)[P:], "x'": np.eye(M)[P:]}

        def product(start, letters):
            for letter in letters:
                start = start @ matrices[letter]
            return start

        out = {}
        for name, parts in self.data["readout"].items():
            shape = (M - P,) * {"z": 0, "zm": 1, "zs": 2}[name]
            total = np.zeros((self.order + 1,) + shape)
            for nets in parts.values():
                for net in nets:
                    fixed = []
                    for op in net["operands"]:
                        if op["kind"] == "run":
                            fixed.append((product(np.eye(M), op["letters"]), op["indices"]))
                        elif op["kind"] == "end":
                            fixed.append((product(ends[op["end"]], op["letters"]), op["indices"]))
                        else:
                            left, letters, right = op["word"]
                            value = np.trace(product(np.eye(M), letters)) if left == "tr" else \
                                product(ends[left], letters) @ ends[right].T
                            fixed.append((np.asarray(value), op["indices"]))
                    c = float(sp.Rational(net["coefficient"]))
                    if not net["slots"]:
                        value = np.einsum(",".join("".join(i) for _, i in fixed) + "->" + "".join(net["free"]),
                                          *[a for a, _ in fixed]) if fixed else np.asarray(1.0)
                        total[0] += c * value
                        continue
                    for tau in _partitions(list(range(len(net["slots"])))):
                        if sum(_lowest(len(b)) for b in tau) > self.order or any(len(b) > self.order + 1 for b in tau):
                            continue
                        series = [(state[len(b)], [i for k in b for i in net["slots"][k]], _lowest(len(b))) for b in tau]
                        total += c * _series_einsum(fixed, series, net["free"], self.order, 0)
            out[name] = total
        return out
