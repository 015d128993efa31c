"""The compiler's order-K expansion of one activation, printed: LaTeX in Markdown for people, JSON for machines.

The expansion is the one the dense lowering evaluates (``compiler/transfer.py``, ``compiler/readout.py``),
written out term by term from the typed IR, nothing re-derived:

- the layer recursion of the cumulants ``kappa_n`` of ``X^(l) = S_l - K_l`` (``X^(0) = 0``): each term an
  outer product of named matrices over the output entries ``(a_i, b_i)`` (curvature weights ``c^beta``,
  one copy's noise coefficients ``Q_{r,alpha}``, cumulants of the previous layer with the Jacobian ``J``
  applied to some entries), times ``N_l^-p``. Unrolled over the layers it is the sum over single layers
  (order 1) and pairs of layers (order 2) of the noise each adds, carried to the output;
- the read-out: the ``n^-k`` parts of ``E[z]``, ``E[z m_x]``, ``E[z (C_xx' + m_x m_x')]`` as index sums of
  named matrices (``A``, ``K``, ``y``) against the moments of ``X^(L)`` (products of its cumulants over the
  set partitions of the letter slots);
- the series algebra (log evidence, mean, covariance from those three): ``perturbo.derive.series_algebra``.

Noise coefficients that vanish identically for the activation (tested on a random kernel with a generic
value of ``psi``) are left out; the rest are defined once at the top.
"""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import sympy as sp

from .activation import power_coefficients, t
from .compiler.copy_cumulants import CopyCumulants
from .compiler.layer_maps import VARIABLES
from .compiler.program import program
from .compiler.readout import ReadoutNetwork, readout_networks
from .ir.networks import End, Run
from .compiler.transfer import Noise, Term, Weight

OUTPUTS = {"z": "E[z]", "zm": "E[z m_x]", "zs": "E[z (C_xx' + m_x m_x')]"}
LARGEST_LISTED = 300
"""Lists with more terms are cut short in the Markdown (the JSON has all)."""
GENERIC = {"psi": sp.Rational(37, 100), "L": 3, "sigma_w2": sp.Rational(11, 10)}
"""Generic parameter values for deciding which noise coefficients vanish identically."""


def _generic_phi(phi: sp.Expr) -> tuple[sp.Expr, float]:
    values = {s: GENERIC[s.name] for s in phi.free_symbols if s.name in GENERIC}
    return phi.subs(values), float(GENERIC["sigma_w2"])


def _vanishing_noise(phi: sp.Expr, terms: dict[int, tuple[Term, ...]]) -> set[Noise]:
    """Noise operands equal to zero on a random kernel (``2r`` distinct points) at generic parameters."""
    generic, sigma_w2 = _generic_phi(phi)
    cumulants, rng, zero = CopyCumulants(power_coefficients(generic), sigma_w2), np.random.default_rng(0), set()
    noises = {op for n in terms for term in terms[n] for op, _ in term.operands if isinstance(op, Noise)}
    for op in noises:
        B = rng.normal(size=(2 * op.r, 2 * op.r + 1))
        K = B @ B.T / (2 * op.r + 1)
        if not np.any(np.abs(cumulants.tensor(K, op.r, op.alpha)) > 1e-12):
            zero.add(op)
        cumulants.forget()
    return zero


def _term_json(term: Term) -> dict:
    operands = []
    for op, idx in term.operands:
        if isinstance(op, Weight):
            operands.append({"kind": "c", "beta": list(op.beta), "indices": list(idx)})
        else:
            operands.append({"kind": "Q", "r": op.r, "alpha": [list(pq) for pq in op.alpha], "indices": list(idx)})
    states = [{"factors": [{"entry": list(f.entry), "jacobian": f.jacobian} for f in s.factors]} for s in term.states]
    return {"outputs": [list(e) for e in term.outputs], "multiplicity": term.multiplicity,
            "noise_power": term.noise_power, "operands": operands, "states": states}


def _network_json(net: ReadoutNetwork) -> dict:
    operands = []
    for op, idx in net.operands:
        if isinstance(op, Run):
            operands.append({"kind": "run", "letters": "".join(op.letters), "indices": list(idx)})
        elif isinstance(op, End):
            operands.append({"kind": "end", "end": op.end, "letters": "".join(op.letters), "indices": list(idx)})
        else:
            left, letters, right = op.left, op.letters, op.right
            operands.append({"kind": "closed", "word": [left, "".join(letters), right], "indices": list(idx)})
    return {"coefficient": str(net.coefficient), "operands": operands, "slots": [list(s) for s in net.slots],
            "free": list(net.free)}


def _index(name: str) -> str:
    """``a0 -> a_{0}``, ``r12 -> r_{12}``; ``X``, ``Y`` (test points) as they are."""
    return name if len(name) == 1 else f"{name[0]}_{{{name[1:]}}}"


def _indices(idx) -> str:
    return "".join(_index(i) for i in idx)


def _term_latex(term: Term) -> str:
    parts = [] if term.multiplicity == 1 else [str(term.multiplicity)]
    if term.noise_power:
        parts.append(f"N_l^{{-{term.noise_power}}}")
    for op, idx in term.operands:
        if isinstance(op, Weight):
            parts.append(f"c^{{{''.join(map(str, op.beta))}}}_{{{_indices(idx)}}}")
        else:
            alpha = ",".join(f"{p}{q}" for p, q in op.alpha) or r"\varnothing"
            parts.append(f"Q^{{({op.r})}}_{{{alpha}}}({','.join(_index(i) for i in idx)})")
    for s in term.states:
        entries = ", ".join((r"(JX)" if f.jacobian else "X") + f"_{{{_indices(f.entry)}}}" for f in s.factors)
        parts.append(rf"\kappa_{{{len(s.factors)}}}[{entries}]")
    return r"\,".join(parts)


def _letters(letters: str) -> str:
    return letters or "I"


def _network_latex(net: ReadoutNetwork) -> str:
    """``+ c ...`` or ``- |c| ...``: the signed term."""
    c = Fraction(net.coefficient)
    parts = [] if abs(c) == 1 else [sp.latex(sp.Rational(abs(c.numerator), c.denominator))]
    for op, idx in net.operands:
        if isinstance(op, Run):
            parts.append(f"({_letters(''.join(op.letters))})_{{{_indices(idx)}}}")
        elif isinstance(op, End):
            head = "y^\\top" if op.end == "y" else f"e_{{{_indices(idx[:1])}}}^\\top"
            parts.append(f"({head} {''.join(op.letters)})_{{{_indices(idx[-1:])}}}")
        else:
            left, letters, right = op.left, op.letters, op.right
            body = "".join(letters) or "I"
            ends = {"y": "y", "x": "e_X", "x'": "e_Y"}
            parts.append(rf"\operatorname{{tr}}({body})" if left == "tr" else f"{ends[left]}^\\top {body}\\, {ends[right]}")
    if net.slots:
        parts.append(r"\mathbb{E}[" + " ".join(f"X_{{{_indices(s)}}}" for s in net.slots) + "]")
    return ("-" if c < 0 else "+") + r"\," + (r"\,".join(parts) or "1")


def expansion(order: int, phi: sp.Expr, sigma_w2: sp.Expr) -> tuple[dict, dict[int, list[Term]], dict]:
    """The machine-readable expansion (module docstring: symbols, transfer terms by ``n``, read-out networks),
    the transfer terms it lists and the curvature weights (``beta -> d^beta f / beta!``)."""
    compiled = program(phi, order, sigma_w2)
    local_map, terms = compiled.local_map, compiled.transfer
    zero = _vanishing_noise(phi, terms)
    kept = {n: [term for term in terms[n] if not any(op in zero for op, _ in term.operands)] for n in terms}
    weights = {"".join(map(str, beta)): sp.sstr(e) for beta, e in local_map.coefficients.items()}
    readout = {name: {str(k): [_network_json(net) for net in compiled.readout[k][name]]
                      for k in range(2 * order + 1)} for name in OUTPUTS}
    return {
        "order": order,
        "phi": sp.sstr(phi),
        "sigma_w2": sp.sstr(sigma_w2),
        "local_map_variables": [str(v) for v in VARIABLES],
        "curvature_weights": weights,
        "noise": sorted({(op.r, tuple(op.alpha)) for n in kept for term in kept[n] for op, _ in term.operands
                         if isinstance(op, Noise)}),
        "transfer": {str(n): [_term_json(term) for term in kept[n]] for n in kept},
        "readout": readout,
    }, kept, local_map.coefficients


HEADER = r"""Widths $N_l$; $K_l$ the infinite-width kernels ($K_0 = \sigma_w^2 X X^\top/N_0$, $K_l = m(K_{l-1})$, $m$ the
Gaussian mean map of $\phi$) on the $M = P + T$ stacked points, training points first.

**Symbols** (at layer $l$, all evaluated at $K = K_{l-1}$):

- $X = X^{(l-1)} = S_{l-1} - K_{l-1}$, the fluctuation of the previous layer's Gram matrix; $X^{(0)} = 0$.
- $\kappa_s[X_{e_1}, \dots, X_{e_s}]$: the joint cumulant of $s$ entries of $X$ (a power series in $1/N$).
- $c^{\beta}_{ab} = \partial^\beta f / \beta!$ at $(K_{aa}, K_{bb}, K_{ab})$, $\beta = (\beta_1\beta_2\beta_3)$ the powers of
  $(X_{aa}, X_{bb}, X_{ab})$, where $m(S)_{ab} = f(S_{aa}, S_{bb}, S_{ab})$ (listed below).
- $(JX)_{ab} = c^{001}_{ab} X_{ab} + c^{100}_{ab} X_{aa} + c^{010}_{ab} X_{bb}$, the Jacobian of $m$.
- $Q^{(r)}_\alpha(l_0, \dots, l_{2r-1})$: the Taylor coefficient $\partial^\alpha \kappa_r(Y_{l_0 l_1}, \dots,
  Y_{l_{2r-2} l_{2r-1}}) / \alpha!$ of one copy $Y = \sigma_w^2 \phi(z)\phi(z)^\top$, $z \sim N(0, K)$, in the
  covariance entries $K_{l_p l_q}$ of the pairs $pq \in \alpha$ ($\varnothing$: the cumulant itself).

**Read-out** (around $K = K_L$): $A = (K_{DD} + \sigma^2 I)^{-1}$ padded with zeros, $\sigma^2 = P/\beta$; $y$ the
targets (zero on test rows); $e_X$, $e_Y$ unit vectors of test points $X$, $Y$ (free indices); products of $A$, $K$
written as words, $I$ the identity; $X = X^{(L)}$, and $\mathbb{E}[X_{e_1} \cdots X_{e_k}]$ its moments, sums over
products of the cumulants $\kappa$ over the set partitions of the entries. Repeated indices are summed over the
$M$ points.
"""


def _markdown(data: dict, terms: dict[int, list[Term]], weights: dict, phi: sp.Expr) -> str:
    order = data["order"]
    lines = [f"# The order-{order} expansion for $\\phi(t) = {sp.latex(phi)}$\n\n",
             "Written by `perturbo derive` from the compiler's typed IR (`perturbo/printed_expansion.py`); the "
             "JSON next to this file holds the same terms and is evaluated back on data by the tests.\n\n", HEADER]
    lines.append("\n**Curvature weights** (the non-zero ones):\n\n")
    entries = dict(zip(VARIABLES, sp.symbols("K_aa K_bb K_ab")))
    for beta, e in weights.items():
        lines.append(f"- $c^{{{''.join(map(str, beta))}}}_{{ab}} = {sp.latex(e.subs(entries))}$\n")
    lines.append(f"\n**Noise coefficients used**: {len(data['noise'])} ($r$, $\\alpha$).\n\n")
    lines.append("## The layer recursion\n\n")
    for n, listed in terms.items():
        entries = ", ".join(f"X'_{{a_{i} b_{i}}}" for i in range(n))
        lines.append(f"### $\\kappa_{n}[{entries}]$ of the next layer: {len(listed)} terms, each an outer product "
                     f"over $M^{{{2 * n}}}$ entries\n\n")
        for term in listed[:LARGEST_LISTED]:
            lines.append(f"- $+\\,{_term_latex(term)}$\n")
        if len(listed) > LARGEST_LISTED:
            lines.append(f"- ... ({len(listed) - LARGEST_LISTED} more in the JSON file)\n")
        lines.append("\n")
    lines.append("## The read-out\n\n")
    for name, title in OUTPUTS.items():
        for k in range(2 * order + 1):
            nets = readout_networks(k, 2 * order)[name]
            if not nets:
                continue
            indices = max(len({i for _, idx in net.operands for i in idx} | {i for s in net.slots for i in s})
                          for net in nets)
            lines.append(f"### ${title}$, part with {k} factors of $X$: {len(nets)} terms "
                         f"(at most {indices} indices)\n\n")
            lines += [f"- ${_network_latex(net)}$\n" for net in nets[:LARGEST_LISTED]]
            if len(nets) > LARGEST_LISTED:
                lines.append(f"- ... ({len(nets) - LARGEST_LISTED} more in the JSON file)\n")
            lines.append("\n")
    lines.append("The log evidence, mean and covariance follow by the series algebra of `order_K.md` "
                 "(`perturbo.derive.series_algebra`).\n")
    return "".join(lines)


def write_expansion(order: int, phi: sp.Expr, sigma_w2: sp.Expr, folder: Path) -> list[Path]:
    """Write ``expansion_<order>.{md,json}`` into ``folder``; return the paths."""
    if sp.Poly(phi, t).degree() < 1:
        raise ValueError("the activation must be a polynomial in t of degree at least 1")
    data, terms, weights = expansion(order, phi, sigma_w2)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"expansion_{order}.md", folder / f"expansion_{order}.json"]
    paths[0].write_text(_markdown(data, terms, weights, phi))
    paths[1].write_text(json.dumps(data) + "\n")
    return paths
