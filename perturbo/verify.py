"""``perturbo.verify``: check a hand-derived finite-width term against the engine.

A candidate is the order-``order`` term of the log evidence, or of the posterior mean or
variance at one test point:

- a string or SymPy expression: the coefficient of ``1/N^order`` (equal widths ``N``),
  written in the vocabulary ``VOCABULARY`` (matrices use ``@`` and ``tr``); a candidate that
  uses the per-layer widths ``N_l`` (inside ``sum_l(...)``) is the whole term instead, and the
  widths are then drawn unequal;
- a callable ``(X, y, X_test, net, beta) -> value``: the whole term, ``1/N^order`` included.

Two ways to decide (``method``):

- ``"symbolic"``: for the deep linear network (``psi = 0``, no ``activation``), a candidate written in
  the closed forms' invariants (``P``, ``L``, ``r``, ``v0``, ``m0``, ``kxx``; at finite ``beta``
  ``t1, t2, ...``, ``q1, ...``, ``e0, ...``, ``f0, ...``; per-layer widths as ``sum_l(N_l**-a)``) is
  compared with ``perturbo.closed_form`` exactly: it holds iff the simplified difference is 0, and the
  report shows that difference (and a numerical counterexample) when it is not.
- ``"random"``: randomised identity testing. Depth, width, data (and the number of points) are drawn at
  random, unless pinned, the engine evaluates the term, and the candidate must agree within ``rtol`` on
  every draw. The engine's own accuracy at these sizes is about 1e-12 relative; it is checked against
  exact answers in the test suite.

``"auto"`` (the default) decides symbolically when it can and by random testing otherwise.
"""
from __future__ import annotations

import ast
import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

from . import closed_forms
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
INDEXED = {
    "t": "t1, t2, ...: t_m = tr W^m",
    "q": "q0, q1, ...: q_m = y^T A W^m y",
    "e": "e0, e1, ...: e_m = k^T A W^m y",
    "f": "f0, f1, ...: f_m = k^T A W^m k",
}
"""Indexed invariants (``m`` up to ``LARGEST_POWER``), the symbols of ``perturbo.closed_form`` at finite ``beta``."""
LARGEST_POWER = 16
_INDEXED_NAME = re.compile(r"([tqef])(\d{1,2})$")
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


def _candidate_text(candidate: str | sp.Expr) -> str:
    """Python syntax of a candidate (``^`` is a power)."""
    return candidate.replace("^", "**") if isinstance(candidate, str) else sp.sstr(candidate)


def compile_candidate(candidate: str | sp.Expr) -> tuple[Callable[[dict], float], set[str]]:
    """Parse a candidate in the vocabulary: its evaluator and the names it uses.

    ``ValueError`` naming what is not allowed.
    """
    text = _candidate_text(candidate)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"candidate {text!r} is not a valid expression: {exc.msg}") from None
    known = set(VOCABULARY) | set(FUNCTIONS) | set(CONSTANTS)
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise ValueError(f"candidate {text!r} uses {type(node).__name__}, which is not allowed")
        if isinstance(node, ast.Name) and node.id not in known and not _indexed(node.id):
            raise ValueError(
                f"candidate {text!r} uses {node.id!r}; known names: {', '.join(sorted(known))}, "
                f"and {'; '.join(INDEXED.values())} (m <= {LARGEST_POWER})"
            )
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


def _indexed(name: str) -> bool:
    match = _INDEXED_NAME.match(name)
    return bool(match) and int(match.group(2)) <= LARGEST_POWER


SYMBOLIC_NAMES = {"zero": {"P", "L", "r", "v0", "m0", "kxx"}, "finite": {"P", "L", "kxx"}}
"""Names a symbolic decision can use (besides the indexed invariants, and ``N_l`` inside ``sum_l``)."""


def symbolic_form(candidate: str | sp.Expr, names: set[str], beta: float) -> tuple[sp.Expr, str] | str:
    """The candidate (already checked by ``compile_candidate``, which found ``names``) in ``closed_form``'s symbols
    and which widths it is for, or why it cannot be decided symbolically."""
    text = _candidate_text(candidate)
    temperature = "zero" if math.isinf(beta) else "finite"
    outside = {n for n in names - SYMBOLIC_NAMES[temperature] - {"N_l", "sum_l", "sqrt", "log", "exp", "pi"}
               if not _indexed(n)}
    if outside:
        return f"it uses {', '.join(sorted(outside))}, not closed-form invariants at {temperature} temperature"
    N_l, sum_l = sp.Symbol("N_l", positive=True), sp.Function("sum_l")
    table = closed_forms.symbol_table(LARGEST_POWER) | {"N_l": N_l, "sum_l": sum_l, "pi": sp.pi}
    expr = sp.parse_expr(text, local_dict=table)
    unknown: list[str] = []

    def layer_sum(argument: sp.Expr) -> sp.Expr:
        out = sp.Integer(0)
        for term in sp.Add.make_args(sp.expand(argument)):
            coefficient, power = term.as_coeff_exponent(N_l)
            if coefficient.has(N_l) or not (power.is_integer and power <= 0):
                unknown.append(str(term))
                return sp.Integer(0)
            out += coefficient * (closed_forms.L if power == 0 else closed_forms.p(-int(power)))
        return out

    expr = expr.replace(sum_l, layer_sum)
    if unknown or expr.has(N_l):
        return f"its layer sums ({', '.join(unknown) or 'N_l outside sum_l'}) are not power sums of 1/N_l"
    values = {closed_forms.t(0): closed_forms.P}
    if temperature == "zero":  # W = I: t_m = P, q_m = r, e_m = m0, f_m = kxx - v0
        for m in range(LARGEST_POWER + 1):
            values |= {closed_forms.t(m): closed_forms.P, closed_forms.q(m): closed_forms.r,
                       closed_forms.e(m): closed_forms.m0, closed_forms.f(m): closed_forms.kxx - closed_forms.v0}
    return expr.subs(values), "per-layer" if "N_l" in names else "equal"


def _decide_symbolically(form: tuple[sp.Expr, str], quantity: str, order: int, beta: float,
                         depth: int | None) -> tuple[bool, str]:
    expr, widths = form
    truth = closed_forms.closed_form(quantity, order, math.inf if math.isinf(beta) else "finite", widths)
    if depth is not None:
        truth, expr = truth.subs(closed_forms.L, depth), expr.subs(closed_forms.L, depth)
    difference = sp.expand(expr - truth)
    if difference != 0:
        difference = sp.factor(sp.simplify(difference))
    return difference == 0, f"candidate - closed_form({quantity!r}, {order}, widths={widths!r}) = {difference}"


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
    K_all = net.kernels(np.vstack([X, X_test]), last_only=True)[-1]
    P = len(y)
    K, k, kxx = K_all[:P, :P], K_all[:P, P], K_all[P, P]
    A = np.linalg.inv(K + noise_variance(P, beta) * np.eye(P))
    W = K @ A
    powers = [np.linalg.matrix_power(W, m) for m in range(LARGEST_POWER + 1)]
    indexed = {}
    for m, Wm in enumerate(powers):
        indexed |= {f"t{m}": np.trace(Wm), f"q{m}": y @ A @ Wm @ y, f"e{m}": k @ A @ Wm @ y, f"f{m}": k @ A @ Wm @ k}
    return indexed | {
        "P": P, "L": net.depth, "N": net.widths[0], "beta": beta, "psi": net.psi, "sigma_w2": net.sigma_w2,
        "N_l": np.array(net.widths, dtype=float),
        "r": float(y @ np.linalg.solve(K, y)), "v0": float(kxx - k @ A @ k), "m0": float(k @ A @ y),
        "K": K, "A": A, "W": W, "y": y, "k": k, "kxx": float(kxx),
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
    method: str = "auto",
) -> VerifyReport:
    """Does ``candidate`` equal the engine's order-``order`` term of ``quantity``? (module docstring)

    ``method``: ``"auto"``, ``"symbolic"`` (``ValueError`` saying why when the candidate is not in the
    closed forms' invariants) or ``"random"``.
    """
    if method not in ("auto", "symbolic", "random"):
        raise ValueError(f"method must be 'auto', 'symbolic' or 'random', got {method!r}")
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
    symbolic = None
    if method != "random":
        if evaluate is None:
            reason = "it is a callable"
        elif psi != 0 or activation is not None:
            reason = "the network is shaped (closed forms exist for the deep linear network, psi = 0)"
        elif order > closed_forms.LARGEST_ORDER:
            reason = f"closed forms go to order {closed_forms.LARGEST_ORDER}"
        else:
            reason = symbolic_form(candidate, names, beta)
        if isinstance(reason, str) and method == "symbolic":
            raise ValueError(f"cannot decide symbolically: {reason}; use method='random'")
        if not isinstance(reason, str):
            symbolic = _decide_symbolically(reason, quantity, order, beta, depth)
            if symbolic[0]:
                return VerifyReport(True, f"{quantity}, order {order}, beta = {beta}: {symbolic[1]}",
                                    "symbolic: exact comparison with perturbo.closed_form", 0.0, None)
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
    how = f"randomised identity testing: {trials} random networks and datasets against the order-{order} engine"
    detail = (
        f"{quantity}, order {order}, psi = {psi}, beta = {beta}: largest relative discrepancy {worst:.3g} "
        f"(tolerance {rtol:g})"
    )
    if symbolic is not None:  # it does not hold: the difference decides, the draws give a counterexample
        holds = False
        how = "symbolic: exact comparison with perturbo.closed_form (counterexample by random testing)"
        detail = f"{quantity}, order {order}, beta = {beta}: {symbolic[1]}; largest relative discrepancy {worst:.3g}"
    if not holds:
        detail += f"; counterexample: {worst_case}"
    return VerifyReport(holds, detail, how, worst, None if holds else worst_case)
