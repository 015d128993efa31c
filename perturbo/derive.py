"""``perturbo derive``: write the derived 1/n expansion of one activation, order by order.

For order ``K`` and shaping ``p`` (``phi(t) = t + p(t)/L``, with ``psi``, ``L`` and
``sigma_w2`` kept symbolic) this writes ``expansion_K.{md,json}``, the order-K terms as the compiler
evaluates them (``printed_expansion``), and ``order_K.md`` (LaTeX in Markdown, for people)
and ``order_K.json`` (machine-readable) holding the ingredients of the pull-back (the test suite's oracle, ``tests/oracle/pullback``):

- the one-copy moments ``M_r`` (``r = 1``: the layer map; ``r >= 2``: noise central moments),
- the pull-back recursion through a layer and its consistent truncation at order ``K``,
- the falling-factorial weights of the sample mean,
- the Bayesian read-out (Neumann series),
- the series algebra from eps-coefficients to log-evidence, mean and covariance terms.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import sympy as sp

from .activation import parse_shaping, t
from .model import MAX_ORDER
from .printed_expansion import write_expansion
from .progress import progress
from .symbolic.copy_moments import copy_moment

psi, L, sigma_w2, eps, lam = sp.symbols("psi L sigma_w2 epsilon lambda")
LARGEST_PRINTED = 200
"""Moments with more terms are summarised in the Markdown (the JSON always has all terms)."""


def shaping_polynomial(activation: str | None) -> sp.Expr:
    """``p(t)``: the default cubic ``psi t^3/3`` with symbolic ``psi``, or a polynomial in ``t``."""
    return parse_shaping(activation, 0.0) if activation is not None else psi * t**3 / 3


def folder_name(shaping: sp.Expr) -> str:
    if shaping == psi * t**3 / 3:
        return "cubic"
    words = {"**": "^", "*": "", "/": "over", "+": "plus", "-": "minus", " ": "", ".": "p"}
    text = str(shaping)
    for symbol, word in words.items():
        text = text.replace(symbol, word)
    return "p_" + re.sub(r"[^0-9a-zA-Z_^]", "", text).replace("^", "")


def series_algebra(order: int) -> dict[str, list[sp.Expr]]:
    """Order-k terms from eps-coefficients ``c_k`` of ``E[z]``, ``a_k`` of ``E[z m]``, ``b_k`` of ``E[z (C + m m')]``.

    ``log_evidence_k = [eps^k] log(sum c_k eps^k)``, ``mean_k = [eps^k] a/c``,
    ``cov_k = [eps^k] (b/c - (a/c)(a'/c))`` (``c_0 = 1``; ``a'`` the second test point's).
    """
    c = [sp.Integer(1)] + list(sp.symbols(f"c_1:{order + 1}"))
    a, a2, b = (list(sp.symbols(f"{name}_0:{order + 1}")) for name in ("a", "a'", "b"))
    z, m, m2, second = (sum(v[k] * eps**k for k in range(order + 1)) for v in (c, a, a2, b))
    expansions = {
        "log_evidence": sp.log(z),
        "mean": m / z,
        "covariance": second / z - (m / z) * (m2 / z),
    }
    out = {}
    for name, expr in expansions.items():
        expanded = sp.series(expr, eps, 0, order + 1).removeO()
        out[name] = [sp.expand(expanded.coeff(eps, k)) for k in range(order + 1)]
    return out


def truncation_table(order: int) -> list[dict[str, int]]:
    """Which pieces of a monomial ``eps^k d'^s`` survive the pull-back at order ``order``.

    ``t`` factors become noise in ``b`` blocks (weight ``eps^{t-b}``), the other ``s - t`` are
    mean maps; the product is kept up to degree ``2 (order - k - t + b)`` in ``d``.
    """
    rows = []
    for s in range(2 * order + 1):
        for k in range(order - (s + 1) // 2 + 1):
            for size in range(s + 1):
                for blocks in range(1, size // 2 + 1) if size else [0]:
                    if k + size - blocks <= order:
                        rows.append(dict(degree=s, eps_power=k, noise_factors=size, blocks=blocks,
                                         kept_degree=2 * (order - k - size + blocks)))
    return rows


def falling_factorial_weights(order: int) -> dict[str, sp.Expr]:
    """``(N)_b / N^t`` with ``1/N = eps lambda``, expanded to ``eps^order``."""
    out = {}
    N = 1 / (eps * lam)
    for size in range(2, 2 * order + 1):
        for blocks in range(1, size // 2 + 1):
            if size - blocks <= order:
                exact = sp.prod([N - i for i in range(blocks)]) / N**size
                out[f"t={size},b={blocks}"] = sp.expand(sp.series(exact, eps, 0, order + 1).removeO())
    return out


PULL_BACK = r"""
$$F_{l-1}(d) = \mathbb{E}\big[F_l(\mu(d) + \bar\eta)\,\big|\,d\big],\qquad
\mu_e(d) = M_1(e;\,K_{l-1} + d) - (K_l)_e,$$
$$\mathbb{E}\Big[\prod_{k\in T}\bar\eta_{e_k}\,\Big|\,d\Big]
 = \sum_{\pi\ \text{partition of}\ T,\ |B|\ge 2} \frac{(N_l)_{|\pi|}}{N_l^{|T|}}\prod_{B\in\pi} M_{|B|}(e_B;\,K_{l-1}+d).$$
A term $\epsilon^k d^\alpha$ is kept iff $k + \lceil |\alpha|/2\rceil \le K$ (moments of $D$ of degree $j$ are $O(\epsilon^{\lceil j/2\rceil})$).
Start: $F_L$ = read-out polynomial; end: $\mathbb{E}[F_0(D_0)] = F_0(0)$ since $D_0 = 0$.
"""

READ_OUT = r"""
With $A = (K_{DD} + \sigma^2 I)^{-1}$, $\sigma^2 = P/\beta$, and $S = K + D$ on the stacked points:
$$(K_{DD}+\sigma^2 I + D_{DD})^{-1} = \sum_{j\ge0}(-A D_{DD})^j A,\qquad
\log\det(I + A D_{DD}) = \sum_{j\ge1}\frac{(-1)^{j+1}}{j}\operatorname{tr}(A D_{DD})^j,$$
$$z(D) = \exp\!\Big(-\tfrac12 y^\top[A(D)-A]y - \tfrac12\log\det(I + AD_{DD})\Big),\quad
m_x(D) = S_{xD}A(D)y,\quad C_{xx'}(D) = S_{xx'} - S_{xD}A(D)S_{Dx'},$$
each truncated at degree $2K$ in $D$: $F_L = (z,\ z\,m_x,\ z\,(C_{xx'} + m_x m_{x'}))$.
"""


def _polynomial_json(poly) -> dict:
    """``{"variables": [s_p_q, ...], "terms": [[exponents], "coefficient"], ...]}``."""
    return {
        "variables": [str(s) for s in poly.ring.symbols],
        "terms": [[list(m), str(poly.ring.domain.to_sympy(c))] for m, c in poly.terms()],
    }


def _moment_markdown(r: int, poly) -> str:
    labels = ", ".join(f"({2 * i},{2 * i + 1})" for i in range(r))
    head = f"### $M_{r}$, labels {labels}: {len(poly.terms())} terms\n\n"
    expr = poly.as_expr()
    if len(poly.terms()) <= LARGEST_PRINTED:
        return head + f"$$M_{r} = {sp.latex(sp.factor_terms(expr))}$$\n\n"
    first = sum(poly.ring.domain.to_sympy(c) * sp.Mul(*[g**k for g, k in zip(poly.ring.symbols, m)])
                for m, c in poly.terms()[:5])
    return head + f"$$M_{r} = {sp.latex(first)} + \\dots$$\n\n(all terms in the JSON file)\n\n"


def derive(order: int, activation: str | None = None, out_dir: Path | str = "derivations") -> list[Path]:
    """Derive order ``order`` for the shaping ``activation`` and write Markdown + JSON; return the paths."""
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= MAX_ORDER:
        raise ValueError(f"order must be an integer from 1 to {MAX_ORDER} to derive, got {order!r}")
    shaping = shaping_polynomial(activation)
    phi = sp.expand(t + shaping / L)
    folder = Path(out_dir) / folder_name(shaping)
    folder.mkdir(parents=True, exist_ok=True)
    moments = {}
    with progress(order + 1, f"deriving one-copy moments for order {order}") as bar:
        for r in range(1, order + 2):
            moments[r] = copy_moment(phi, sigma_w2, r)
            bar.update()
    algebra = series_algebra(order)
    weights = falling_factorial_weights(order)
    table = truncation_table(order)

    md = [f"# Order {order} of the 1/n expansion for $\\phi(t) = {sp.latex(phi)}$\n\n",
          "Written by `perturbo derive`; the test suite's pull-back oracle evaluates exactly these objects ",
          "(`tests/oracle/pullback`), and the compiler derives the same series its own way. ",
          "Widths $N_l = n c_l$, $\\epsilon = 1/n$, $\\lambda = n/N_l$; "
          "labels $0, 1, \\dots$ are abstract points (they may coincide), $s_{pq}$ their covariance.\n\n",
          "## One-copy moments (Wick)\n\n",
          "$M_1 = \\sigma_w^2 E[\\phi(z_0)\\phi(z_1)]$ is the layer map; for $r \\ge 2$, "
          "$M_r = E[\\prod_{i<r}(Y_i - EY_i)]$, $Y_i = \\sigma_w^2\\phi(z_{2i})\\phi(z_{2i+1})$.\n\n"]
    md += [_moment_markdown(r, poly) for r, poly in moments.items()]
    md += ["## Pull-back through one layer\n", PULL_BACK, "\n### Sample-mean weights $(N)_b/N^t$\n\n"]
    md += [f"- $t={k.split(',')[0][2:]}, b={k.split(',')[1][2:]}$: ${sp.latex(v)}$\n" for k, v in weights.items()]
    md += ["\n### What survives at this order\n\n| degree s | eps power k | noise factors t | blocks b | kept degree |\n",
           "|---|---|---|---|---|\n"]
    md += [f"| {r['degree']} | {r['eps_power']} | {r['noise_factors']} | {r['blocks']} | {r['kept_degree']} |\n"
           for r in table]
    md += ["\n## Read-out (Bayesian contraction)\n", READ_OUT, "\n## Series algebra\n\n",
           "$c_k$, $a_k$, $b_k$: the $\\epsilon^k$ coefficients of $E[z]$, $E[z m_x]$, $E[z(C + mm')_{xx'}]$ "
           "($c_0 = 1$; the reported log evidence adds the Gaussian-process value to term 0).\n\n"]
    for name, terms in algebra.items():
        md += [f"- {name.replace('_', ' ')}, term {k}: ${sp.latex(term)}$\n" for k, term in enumerate(terms)]

    data = {
        "phi": str(phi),
        "order": order,
        "symbols": {"psi": "cubic strength", "L": "depth", "sigma_w2": "weight variance", "epsilon": "1/n",
                    "lambda": "n/N_l"},
        "copy_moments": {str(r): _polynomial_json(poly) for r, poly in moments.items()},
        "sample_mean_weights": {k: sp.srepr(v) for k, v in weights.items()},
        "truncation": table,
        "series_algebra": {name: [sp.srepr(term) for term in terms] for name, terms in algebra.items()},
    }
    paths = [folder / f"order_{order}.md", folder / f"order_{order}.json"]
    paths[0].write_text("".join(md))
    paths[1].write_text(json.dumps(data, indent=1))
    return paths + write_expansion(order, phi, sigma_w2, folder)
