"""Evaluation of derived terms on arrays: one layer's transfer, and the read-out's expectation.

Arrays of cumulants carry the power of ``1/n`` on axis 0; a product of several is convolved in it
(``_contract_series``). A transfer term has no summed index (an outer product with repeated
indices: one ``einsum`` pass); a read-out network has, and its contraction path is planned once
by ``opt_einsum`` and reused (``readout_expectation``: the continuum's factored cumulants, the mixed
cumulants of the posterior representations, and the tests' oracle of ``run_plan``, which runs the dense
read-out along the shared steps of a ``readout.ReadoutPlan``).
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import opt_einsum

from ..problem import Moments
from .layer_maps import propagate
from .pairwise import lowered
from .readout import (OUTPUTS, ReadoutNetwork, ReadoutOperands, ReadoutPlan, cumulant_partitions, power_rows,
                      readout_networks)
from .transfer import Noise, State, Term, Weight, lowest_row


def _contract_series(
    fixed: list[tuple[np.ndarray, tuple[str, ...]]],
    series: list[tuple[np.ndarray, tuple[str, ...]]],
    output: tuple[str, ...],
    order: int,
    shift: int,
    lowest: list[int],
) -> np.ndarray:
    """``sum prod`` of ``fixed`` arrays and eps-series arrays (axis 0 = power), convolved in the powers.

    Returns ``(order + 1,) + output shape``; the result is shifted by ``shift`` powers and only
    combinations with every series at or above its ``lowest`` row are formed.
    """
    names = list(dict.fromkeys([i for _, idx in fixed + series for i in idx] + list(output)))
    symbols = {name: opt_einsum.get_symbol(k) for k, name in enumerate(names)}
    sizes = {i: a.shape[k] for a, idx in fixed for k, i in enumerate(idx)}
    sizes.update({i: a.shape[k + 1] for a, idx in series for k, i in enumerate(idx)})
    shape = (order + 1,) + tuple(sizes[i] for i in output)
    out = np.zeros(shape)
    subscripts = ",".join("".join(symbols[i] for i in idx) for _, idx in fixed + series)
    subscripts += "->" + "".join(symbols[i] for i in output)
    summed = set(names) - set(output)
    for rows in power_rows(lowest, order - shift):
        total = sum(rows) + shift
        arrays = [a for a, _ in fixed] + [s[k] for (s, _), k in zip(series, rows)]
        if any(not np.any(s[k]) for (s, _), k in zip(series, rows)):
            continue
        if summed:
            out[total] += _expression(subscripts, tuple(a.shape for a in arrays))(*arrays)
        else:  # an outer product with repeated indices: one pass
            out[total] += np.einsum(subscripts, *arrays)
    return out


Factor = tuple[np.ndarray, tuple[str, ...]]


@dataclass(frozen=True)
class FactoredCumulant:
    """``kappa_s = sum_k coefficient_k prod_f matrix_f`` over the placeholders ``p0 .. p(2s-1)`` of its entries
    ``(p0, p1), (p2, p3), ...``, in the single power row ``row`` of ``1/n``: ``O(M^2)`` memory per term where the
    dense array needs ``M^(2s)``, and read-out contractions of ``O(M^3)``. A matrix may carry a leading batch
    axis ``BATCH``, summed with the others (a quadrature, say)."""

    row: int
    terms: tuple[tuple[float, tuple[Factor, ...]], ...]

    def propagated(self, k: int, jacobian: tuple[np.ndarray, np.ndarray]) -> FactoredCumulant:
        """``J`` on entry ``k`` (``layer_maps.propagate``): ``(J X)_uv = W_uv X_uv + U_uv X_uu + U_vu X_vv``."""
        W, U = jacobian
        u, v = f"p{2 * k}", f"p{2 * k + 1}"
        head = (BATCH,) if W.ndim == 3 else ()
        terms = []
        for c, factors in self.terms:
            terms.append((c, factors + ((W, head + (u, v)),)))
            terms.append((c, _renamed(factors, {v: u}) + ((U, head + (u, v)),)))
            terms.append((c, _renamed(factors, {u: v}) + ((np.swapaxes(U, -1, -2), head + (u, v)),)))
        return FactoredCumulant(self.row, tuple(terms))

    def on(self, indices: tuple[str, ...]) -> list[tuple[float, list[Factor]]]:
        """Each term's factors with placeholder ``p_i`` replaced by ``indices[i]`` (a repeated pair: the diagonal)."""
        names = {f"p{i}": name for i, name in enumerate(indices)}
        out = []
        for c, factors in _renamed_all(self.terms, names):
            out.append((c, [(np.diagonal(a, axis1=-2, axis2=-1), idx[:-1]) if len(idx) > 1 and idx[-1] == idx[-2]
                            else (a, idx) for a, idx in factors]))
        return out


BATCH = "batch"


def _renamed(factors: tuple[Factor, ...], names: dict[str, str]) -> tuple[Factor, ...]:
    return tuple((a, tuple(names.get(i, i) for i in idx)) for a, idx in factors)


def _renamed_all(terms, names: dict[str, str]):
    return [(c, _renamed(factors, names)) for c, factors in terms]


def _contract_with_factored(fixed: list, series: list, output: tuple[str, ...], order: int, shift: int,
                            lowest: list[int]) -> np.ndarray:
    """``_contract_series`` where some series are ``FactoredCumulant``: their terms join the fixed operands."""
    factored = [(s, idx) for s, idx in series if isinstance(s, FactoredCumulant)]
    if not factored:
        return _contract_series(fixed, series, output, order, shift, lowest)
    dense = [(s, idx, low) for (s, idx), low in zip(series, lowest) if not isinstance(s, FactoredCumulant)]
    shift += sum(s.row for s, _ in factored)
    total = None
    for choice in itertools.product(*[s.on(idx) for s, idx in factored]):
        extra = [f for _, fs in choice for f in fs]
        value = math.prod(c for c, _ in choice) * _contract_series(
            fixed + extra, [(s, idx) for s, idx, _ in dense], output, order, shift, [low for *_, low in dense])
        total = value if total is None else total + value
    return total


BLAS_FROM_ENTRIES = 2**16
"""A contraction whose largest operand has fewer entries runs its pairwise steps as ``einsum`` calls, not BLAS: for
small arrays the reshapes of ``tensordot`` cost more than they save (order 3's read-out on 7 points: 15-20%
faster; order 2's on 16 points, with its ``kappa_3`` of 16^6 entries, 10-15% faster with BLAS)."""


@lru_cache(maxsize=None)
def _expression(subscripts: str, shapes: tuple[tuple[int, ...], ...]):
    """A contraction with its path planned once (opt_einsum; order 3's read-out has about 22,000 on one set of
    shapes, so the cache is not bounded)."""
    blas = max((math.prod(shape) for shape in shapes), default=0) >= BLAS_FROM_ENTRIES
    return opt_einsum.contract_expression(subscripts, *shapes, optimize="greedy", use_blas=blas)


class LayerTransfer:
    """Apply the transfer terms at one layer: kernel ``K_{l-1}``, width ``N_l``, weights, cumulants of one copy."""

    def __init__(self, K: np.ndarray, width: int, weights: dict, cumulants, order: int) -> None:
        self.K, self.width, self.weights, self.cumulants, self.order = K, width, weights, cumulants, order
        zero = np.zeros_like(K)
        self.jacobian = (weights.get((0, 0, 1), zero), weights.get((1, 0, 0), zero))
        self._noise: dict[Noise, np.ndarray] = {}
        self._dressed: dict[tuple, np.ndarray] = {}

    def _operand(self, op: Weight | Noise) -> np.ndarray:
        if isinstance(op, Weight):
            return self.weights[op.beta]
        if op not in self._noise:
            self._noise[op] = self.cumulants.tensor(self.K, op.r, op.alpha)
        return self._noise[op]

    def _state(self, arrays: dict[int, np.ndarray], key: tuple, jacobian_axes: tuple[int, ...]) -> np.ndarray:
        """``arrays[key[-1]]`` with ``J`` applied on the entry axes ``jacobian_axes`` (memoised for the layer and
        ``arrays``)."""
        memo = key + (jacobian_axes, id(arrays))
        if memo not in self._dressed:
            if not jacobian_axes:
                self._dressed[memo] = arrays[key[-1]]
            else:
                inner = self._state(arrays, key, jacobian_axes[:-1])
                k = jacobian_axes[-1]
                self._dressed[memo] = (inner.propagated(k, self.jacobian) if isinstance(inner, FactoredCumulant)
                                       else propagate(inner, (1 + 2 * k, 2 + 2 * k), self.jacobian))
        return self._dressed[memo]

    def _state_operand(self, s: State, state: dict[int, np.ndarray], mixed: dict[int, np.ndarray] | None):
        """The array and indices of one state cumulant: ``kappa_s`` of ``X``, or, holding the spectator, the
        mixed ``kappa(X^(s)_e, X_f..)`` (spectator axes first); ``None`` if it is not carried."""
        factors = sorted(s.factors, key=lambda f: not f.spectator)  # the arrays are symmetric in the others
        arrays, key = (mixed, ("mixed", len(factors) - 1)) if factors[0].spectator else (state, ("state", len(factors)))
        if arrays is None or key[-1] not in arrays:
            return None
        kappa = self._state(arrays, key, tuple(k for k, f in enumerate(factors) if f.jacobian))
        return kappa, tuple(i for f in factors for i in f.entry)

    def apply(self, terms: Sequence[Term], state: dict[int, np.ndarray], n: int,
              mixed: dict[int, np.ndarray] | None = None) -> np.ndarray:
        """``kappa_n`` of the next layer from ``state`` (``s -> kappa_s`` of this layer's input); with ``mixed``
        (``s -> kappa(X^(s)_e, s entries of this layer's input)``) and spectator terms, the mixed cumulant."""
        M = len(self.K)
        out = np.zeros((self.order + 1,) + (M,) * (2 * n + 2 * (mixed is not None)))
        output = tuple(i for pair in terms[0].outputs for i in pair) if terms else ()
        for term in terms:
            series = [self._state_operand(s, state, mixed) for s in term.states]
            if any(x is None for x in series):
                continue
            fixed = [(self._operand(op), idx) for op, idx in term.operands]
            lowest = [lowest_row(len(s.factors)) for s in term.states]
            if any(not np.any(a) for a, _ in fixed):
                continue
            value = _contract_with_factored(fixed, series, output, self.order, term.noise_power, lowest)
            value *= term.multiplicity / self.width**term.noise_power  # a fresh array: scaled in place
            out += value
        return out

    def apply_factored(self, terms: Sequence[Term], state: dict[int, np.ndarray | FactoredCumulant],
                       n: int) -> FactoredCumulant:
        """``kappa_n`` of the next layer kept factored, for terms that are each one factored state cumulant with
        the Jacobian applied (a deterministic map's ``kappa_n`` at first order); ``ValueError`` for others."""
        out, row = [], None
        for term in terms:
            if term.operands or term.noise_power or len(term.states) != 1:
                raise ValueError(f"a factored kappa_{n} needs terms of one state cumulant, got {term}")
            kappa, idx = self._state_operand(term.states[0], state, None)
            if not isinstance(kappa, FactoredCumulant):
                raise ValueError(f"a factored kappa_{n} needs a factored input cumulant, got {type(kappa).__name__}")
            placeholder = {name: f"p{k}" for k, name in enumerate(i for pair in term.outputs for i in pair)}
            names = {f"p{k}": placeholder[name] for k, name in enumerate(idx)}
            out += [(c * term.multiplicity, factors) for c, factors in _renamed_all(kappa.terms, names)]
            row = kappa.row
        return FactoredCumulant(row, tuple(out))


SPECTATOR_INDICES = ("e0", "e1")


def readout_expectation(
    networks: Sequence[ReadoutNetwork], operands: ReadoutOperands, state: dict[int, np.ndarray], order: int,
    mixed: dict[int, np.ndarray] | None = None,
) -> np.ndarray:
    """``sum_networks E[network(X^(L))]``, the letters' moments as products of cumulants (eps-series).

    With ``mixed`` (``s -> kappa(X^(s)_e, s entries of X^(L))``): ``E[X^(s)_e network(X^(L))]`` instead, the
    entry ``e`` one more item of the moment (its block a mixed cumulant), its indices first in the output.
    """
    total = None
    for net in networks:
        fixed = [(operands[op], idx) for op, idx in net.operands]
        output = (SPECTATOR_INDICES if mixed is not None else ()) + net.free
        for tau, lowest in cumulant_partitions(len(net.slots), order, mixed is not None):
            series = []
            for block in tau:
                slots = [k for k in block if k is not None]
                arrays, size = (mixed, len(slots)) if len(slots) < len(block) else (state, len(slots))
                if size not in arrays:
                    break
                head = SPECTATOR_INDICES if arrays is mixed else ()
                series.append((arrays[size], head + tuple(i for k in slots for i in net.slots[k])))
            if len(series) < len(tau):
                continue
            value = float(net.coefficient) * _contract_with_factored(fixed, series, output, order, 0, lowest)
            total = value if total is None else total + value
    return total


def readout_moments(operands: ReadoutOperands, state: dict[int, np.ndarray], order: int,
                    plan: ReadoutPlan | None = None) -> Moments:
    """``E[z]``, ``E[z m]``, ``E[z (C + m m^T)]`` from the cumulants ``state`` of ``X = S_L - K`` (``K = K_L``,
    the operands' kernel): along the steps of ``plan`` (``readout_series``; one of every output where there are
    test points), else network by network (``readout_expectation``; cumulants dense or factored)."""
    T = operands.n_test
    if plan is not None and T and plan.outputs != OUTPUTS:
        raise ValueError(f"a read-out plan for {plan.outputs} cannot read out the moments of {T} test points: "
                         f"use readout_plan({order}, tested=True)")
    if plan is not None:  # (without test points, zm and zs are empty)
        empty = {name: np.zeros((order + 1,) + (0,) * k) for k, name in enumerate(OUTPUTS)}
        return Moments(**(empty | readout_series(operands, state, order, plan)))
    out = readout_degree_zero(operands, readout_networks(0, 2 * order), order, OUTPUTS if T else ("z",))
    for name in OUTPUTS if T else ("z",):
        for letters in range(1, 2 * order + 1):
            value = readout_expectation(readout_networks(letters, 2 * order)[name], operands, state, order)
            if value is not None:
                out[name] += value
    return Moments(**out)


def readout_series(operands: ReadoutOperands, state: dict[int, np.ndarray], order: int,
                   plan: ReadoutPlan) -> dict[str, np.ndarray]:
    """The series ``(order + 1, ...)`` of the read-outs ``plan`` covers (``plan.outputs``: ``z`` alone, or ``z``,
    ``zm``, ``zs``) from the dense cumulants ``state``, along the plan's steps (``readout.plan_readout``)."""
    if plan.order != order:
        raise ValueError(f"a read-out plan of order {plan.order} cannot read out order {order}: "
                         f"use readout_plan({order}, ...)")
    out = readout_degree_zero(operands, readout_networks(0, 2 * order), order, plan.outputs)
    run_plan(plan, operands, state, out)
    return {name: out[name] for name in plan.outputs}


def readout_degree_zero(operands: ReadoutOperands, networks: Mapping[str, Sequence[ReadoutNetwork]],
                        order: int, outputs: Sequence[str] = OUTPUTS) -> dict[str, np.ndarray]:
    """The read-outs ``z``, ``zm``, ``zs`` as series ``(order + 1, ...)`` with only row 0 filled for ``outputs``
    (those with test points to read): the networks without letters (``networks``: output -> the degree-0 networks),
    the Gaussian process's own terms."""
    T = operands.n_test
    out = {name: np.zeros((order + 1,) + (T,) * k) for k, name in enumerate(OUTPUTS)}
    for name in outputs if T else ("z",):
        out[name][0] = sum(operands.closed_value(net) for net in networks[name])
    return out


def run_plan(plan: ReadoutPlan, operands: ReadoutOperands, state: Mapping[int, np.ndarray],
             out: Mapping[str, np.ndarray]) -> None:
    """Add ``coefficient * node`` to ``out[output][row]`` for the plan's results, computing each step once and
    keeping its array only until its last use. A cumulant row that is zero makes every step it enters zero (skipped).
    Each step runs as lowered once from its subscripts (``pairwise.lowered``: BLAS where it is a matrix product)."""
    totals = [out[name] for name in OUTPUTS]
    values: list = [operands[op] for op in plan.operands]
    for s, row in plan.cumulants:
        values.append(state[s][row] if s in state and np.any(state[s][row]) else None)
    for k, (left, right, subscripts) in enumerate(plan.steps):
        a = values[left]
        b = values[right] if right >= 0 else None
        if a is None or (right >= 0 and b is None):
            value = None
        elif right < 0:
            value = lowered(subscripts)(a)
        else:
            value = lowered(subscripts)(a, b)
        values.append(value)
        if value is not None:
            for output, row, coefficient in plan.results_at.get(plan.first_step + k, ()):
                totals[output][row] += coefficient * value
        for node in plan.released[k]:
            values[node] = None
