"""``perturbo.verify``: check a hand-derived finite-width term against the engine.

A candidate is the order-``order`` term of the log evidence, or of the posterior mean or
variance at one test point:

- a string or SymPy expression: the coefficient of ``1/N^order`` (equal widths ``N``),
  written in the vocabulary ``VOCABULARY`` (matrices use ``@`` and ``tr``); a candidate that
  uses the per-layer widths ``N_l`` (inside ``sum_l(...)``) is the whole term instead, and the
  widths are then drawn unequal;
- a callable ``(X, y, X_test, net, beta) -> value``: the whole term, ``1/N^order`` included.

The decision is by randomised identity testing: depth, width, data (and the number of
points) are drawn at random, unless pinned, the engine evaluates the term, and the
candidate must agree within ``rtol`` on every draw. The engine's own accuracy at these
sizes is about 1e-12 relative. It is checked against exact answers in the test suite.
"""
from __future__ import annotations

import ast
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

from .model import MAX_ORDER, ShapedMLP
from .runtime.gp_posterior import noise_variance
from .validation import check_beta, check_count, check_order

VOCABULARY = {
    "P": "number of training points",
    "L": "depth (hidden layers)",
    "N": "width (all layers equal)",
    "N_l": "the widths of the layers, used inside sum_l(...), e.g. sum_l(1/N_l)",
    "beta": "inverse temperature (inf at zero temperature)",
    "psi": "cubic strength",
    "sigma_w2": "weight variance",
    "r": "y^T K^-1 y",
    "v0": "Gaussian-process posterior variance at the test point",
    "m0": "Gaussian-process posterior mean at the test point",
    "K": "infinite-width kernel on the training points (P x P)",
    "A": "(K + (P/beta) I)^-1 (P x P)",
    "W": "K A = A K (P x P)",
    "y": "targets (vector of length P)",
    "k": "kernel between the training points and the test point (vector)",
    "kxx": "kernel at the test point",
}
FUNCTIONS = {"tr": np.trace, "sqrt": np.sqrt, "log": np.log, "exp": np.exp, "sum_l": np.sum}
CONSTANTS = {"pi": math.pi}
QUANTITIES = ("log_evidence", "mean", "var")
_ALLOWED_NODES = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load, ast.Call,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.MatMult, ast.USub, ast.UAdd,
)


@dataclass(frozen=True)
class VerifyReport:
    """``holds`` is True when every draw agreed within the tolerance; ``detail`` says what was compared."""

    holds: bool
    detail: str
    method: str
    largest_discrepancy: float
    counterexample: dict | None


def compile_candidate(candidate: str | sp.Expr) -> tuple[Callable[[dict], float], set[str]]:
    """Parse a candidate in the vocabulary: its evaluator and the names it uses.

    ``ValueError`` naming what is not allowed.
    """
    text = str(candidate).replace("^", "**") if isinstance(candidate, str) else sp.sstr(candidate)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"candidate {text!r} is not a valid expression: {exc.msg}") from None
    known = set(VOCABULARY) | set(FUNCTIONS) | set(CONSTANTS)
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise ValueError(f"candidate {text!r} uses {type(node).__name__}, which is not allowed")
        if isinstance(node, ast.Name) and node.id not in known:
            raise ValueError(f"candidate {text!r} uses {node.id!r}; known names: {', '.join(sorted(known))}")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS):
            raise ValueError(f"candidate {text!r}: only {', '.join(FUNCTIONS)} may be called")
    code = compile(tree, "<candidate>", "eval")
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    if {"N", "N_l"} <= names:
        raise ValueError(f"candidate {text!r} uses both N and N_l: use N for equal widths or N_l for all layers")

    def evaluate(values: dict) -> float:
        with np.errstate(all="ignore"):  # a NaN or inf is judged by verify, not reported twice
            value = np.squeeze(eval(code, {"__builtins__": {}}, {**FUNCTIONS, **CONSTANTS, **values}))
        if value.ndim:
            raise ValueError(
                f"candidate {text!r} is not a number: use N_l only inside sum_l(...), and matrices only inside "
                "quadratic forms (y@A@y) or tr(...)"
            )
        return float(value)

    return evaluate, names


ENGINE_ROUNDOFF = 1e-12
"""Absolute differences below this times the leading (order-0) value are the engine's roundoff."""


def _discrepancy(value: float, truth: float, leading: float) -> float:
    """``|c - e| / (|c| + |e|)``; zero below the roundoff floor (an exact zero term is ``1e-17``, not 0)."""
    if not math.isfinite(value):
        return math.inf  # NaN never holds
    difference = abs(value - truth)
    if difference <= ENGINE_ROUNDOFF * (abs(leading) + 1.0):
        return 0.0
    return difference / (abs(value) + abs(truth))


def _engine_term(net: ShapedMLP, X, y, X_test, beta: float, quantity: str, order: int) -> tuple[float, float]:
    """``(order-th term, order-0 value)`` of the quantity at the first test point.

    Convergence warnings are silenced: a single term is compared, not the sum of the series.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if quantity == "log_evidence":
            terms = net.evidence(X, y, beta=beta, order=order).terms
        else:
            pr = net.predict(X, y, X_test, beta=beta, order=order)
            terms = (pr.mean_terms if quantity == "mean" else pr.var_terms)[:, 0]
    return float(terms[order]), float(terms[0])


def _invariants(net: ShapedMLP, X, y, X_test, beta: float) -> dict:
    K_all = net.kernels(np.vstack([X, X_test]))[-1]
    P = len(y)
    K, k, kxx = K_all[:P, :P], K_all[:P, P], K_all[P, P]
    A = np.linalg.inv(K + noise_variance(P, beta) * np.eye(P))
    return {
        "P": P, "L": net.depth, "N": net.widths[0], "beta": beta, "psi": net.psi, "sigma_w2": net.sigma_w2,
        "N_l": np.array(net.widths, dtype=float),
        "r": float(y @ np.linalg.solve(K, y)), "v0": float(kxx - k @ A @ k), "m0": float(k @ A @ y),
        "K": K, "A": A, "W": K @ A, "y": y, "k": k, "kxx": float(kxx),
    }


def verify(
    candidate: str | sp.Expr | Callable,
    quantity: str = "log_evidence",
    order: int = 1,
    psi: float = 0.0,
    beta: float = math.inf,
    activation: str | sp.Expr | None = None,
    *,
    depth: int | None = None,
    width: int | None = None,
    n_train: int | None = None,
    sigma_w2: float = 1.0,
    trials: int = 12,
    rtol: float = 1e-7,
    seed: int = 0,
) -> VerifyReport:
    """Does ``candidate`` equal the engine's order-``order`` term of ``quantity``? (module docstring)"""
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {QUANTITIES}, got {quantity!r}")
    order = check_order(order, MAX_ORDER)
    if order == 0:
        raise ValueError("order 0 is the Gaussian process itself; verify checks corrections, order >= 1")
    beta = check_beta(beta)
    trials = check_count(trials, "trials", 1)
    if not (isinstance(rtol, (int, float)) and 0 < rtol < 1):
        raise ValueError(f"rtol must be a number between 0 and 1, got {rtol!r}")
    if callable(candidate) and not isinstance(candidate, sp.Basic):
        evaluate, names = None, set()
    else:
        evaluate, names = compile_candidate(candidate)
    per_layer = "N_l" in names
    rng = np.random.default_rng(seed)
    worst, worst_case = 0.0, None
    for _ in range(trials):
        L = depth or int(rng.integers(1, 5))
        N = width or (rng.integers(30, 400, size=L).tolist() if per_layer else int(rng.integers(30, 400)))
        P = n_train or int(rng.integers(1, 4))
        N0 = P + int(rng.integers(2, 5))
        X = 0.8 * rng.normal(size=(P, N0))
        X_test = 0.8 * rng.normal(size=(1, N0))
        y = rng.normal(size=P)
        net = ShapedMLP(depth=L, width=N, psi=psi, sigma_w2=sigma_w2, activation=activation)
        truth, leading = _engine_term(net, X, y, X_test, beta, quantity, order)
        if evaluate is None:
            value = float(candidate(X, y, X_test, net, beta))
        else:
            value = evaluate(_invariants(net, X, y, X_test, beta))
            value = value if per_layer else value / N**order
        discrepancy = _discrepancy(value, truth, leading)
        if discrepancy > worst:
            worst = discrepancy
            worst_case = {"depth": L, "width": N, "P": P, "N0": N0, "candidate": value, "engine": truth}
    holds = worst <= rtol
    method = f"randomised identity testing: {trials} random networks and datasets against the order-{order} engine"
    detail = (
        f"{quantity}, order {order}, psi = {psi}, beta = {beta}: largest relative discrepancy {worst:.3g} "
        f"(tolerance {rtol:g})"
    )
    if not holds:
        detail += f"; counterexample: {worst_case}"
    return VerifyReport(holds, detail, method, worst, None if holds else worst_case)
