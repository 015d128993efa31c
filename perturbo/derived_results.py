"""Derived results written out: the deep linear closed forms in ``derivations/deep_linear/``, the cubic's continuum
first order in ``derivations/cubic_continuum/``, and the guide's table of both.

``write_deep_linear(K)`` writes ``order_K.md`` (LaTeX in Markdown, every symbol defined at the top) and
``order_K.json`` (each term as SymPy text, read back by ``read_deep_linear``) from ``closed_form``: the
log evidence, posterior mean and variance at zero and finite temperature, for equal widths (the
coefficient of ``1/N^K``) and per-layer widths (the whole term in the power sums ``p_a``).
``guide_section`` renders the zero-temperature table from those files; ``update_guide`` puts it into the
user guide between two markers, so the guide's numbers are the committed derivation's.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import sympy as sp

from . import closed_forms
from .closed_forms import QUANTITIES, closed_form

TEMPERATURES = {"zero": math.inf, "finite": "finite"}
WIDTHS = ("equal", "per-layer")
TITLES = {"log_evidence": "log evidence", "mean": "posterior mean", "var": "posterior variance"}
SYMBOLS = {
    "P": "number of training points",
    "L": "depth (hidden layers); equal widths N",
    "r": "y^T K^-1 y (K the infinite-width kernel on the training points)",
    "v0": "kxx - k^T K^-1 k, the Gaussian-process variance at the test point",
    "kxx": "the kernel at the test point; k its column against the training points",
    "t_m": "tr W^m, with A = (K + (P/beta) I)^-1 and W = K A",
    "q_m": "y^T A W^m y",
    "e_m": "k^T A W^m y (e_0 the Gaussian-process mean)",
    "f_m": "k^T A W^m k",
    "p_a": "sum_l N_l^-a (per-layer widths; sum_{l<l'} 1/(N_l N_l') = (p_1^2 - p_2)/2)",
}
GUIDE_BEGIN = "<!-- derived-results: begin (perturbo derive --guide writes this part) -->"
GUIDE_END = "<!-- derived-results: end -->"


def deep_linear_terms(order: int, temperatures: tuple[str, ...] = ("zero", "finite")) -> dict[tuple[str, str, str], sp.Expr]:
    """``(quantity, temperature, widths) -> closed_form(...)`` at one order."""
    unknown = set(temperatures) - set(TEMPERATURES)
    if unknown or not temperatures:
        raise ValueError(f"temperatures must be among {', '.join(TEMPERATURES)}, got {temperatures!r}")
    return {(quantity, temperature, widths): closed_form(quantity, order, TEMPERATURES[temperature], widths)
            for temperature in temperatures for quantity in QUANTITIES for widths in WIDTHS}


def _heading(quantity: str, temperature: str, widths: str, order: int) -> str:
    beta = r"\beta = \infty" if temperature == "zero" else r"\text{finite } \beta"
    what = f"coefficient of $1/N^{order}$" if widths == "equal" else "the whole term, per-layer widths"
    return f"{TITLES[quantity]}, ${beta}$, {what}"


def _markdown(order: int, terms: dict[tuple[str, str, str], sp.Expr]) -> str:
    lines = [f"# Deep linear network: the order-{order} terms of the 1/N expansion\n\n",
             "Written by `perturbo derive --network linear --order ", str(order), "` from `perturbo.closed_form` ",
             "(`P` and the data invariants symbolic; see `perturbo/closed_forms.py` for the derivation). ",
             "The JSON file next to this one holds the same expressions as SymPy text.\n\n## Symbols\n\n"]
    lines += [f"- `{name}`: {meaning}\n" for name, meaning in SYMBOLS.items()]
    lines.append("\n## Terms\n\n")
    for (quantity, temperature, widths), expr in terms.items():
        lines.append(f"### {_heading(quantity, temperature, widths, order)}\n\n$$\n{sp.latex(expr)}\n$$\n\n")
    return "".join(lines)


def write_deep_linear(order: int, out_dir: Path | str = "derivations",
                      temperatures: tuple[str, ...] = ("zero", "finite")) -> tuple[list[Path], dict]:
    """Write ``deep_linear/order_<order>.{md,json}``; return the paths and the terms."""
    terms = deep_linear_terms(order, temperatures)
    folder = Path(out_dir) / "deep_linear"
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "network": "deep linear",
        "order": order,
        "temperatures": list(temperatures),
        "symbols": SYMBOLS,
        "terms": [{"quantity": q, "temperature": temp, "widths": w, "sympy": sp.sstr(expr), "latex": sp.latex(expr)}
                  for (q, temp, w), expr in terms.items()],
    }
    paths = [folder / f"order_{order}.md", folder / f"order_{order}.json"]
    paths[0].write_text(_markdown(order, terms))
    paths[1].write_text(json.dumps(data, indent=1) + "\n")
    return paths, terms


def read_deep_linear(path: Path | str) -> dict[tuple[str, str, str], sp.Expr]:
    """The terms of one ``order_K.json``, parsed with ``closed_form``'s symbols (assumptions included)."""
    data = json.loads(Path(path).read_text())
    names = closed_forms.symbol_table(data["order"])
    return {(t["quantity"], t["temperature"], t["widths"]): sp.parse_expr(t["sympy"], local_dict=names)
            for t in data["terms"]}


CONTINUUM = r"""With depth fraction $t = l/L$, $\sigma_w^2 = 1$ and $K(t) = \Phi_t(K_0)$, the flow of the cubic's
layer map integrates to $\Phi_\tau(S)_{ab} = f(S_{aa}, S_{bb}, S_{ab})$,
$$
f(s_{aa}, s_{bb}, s_{ab}) = FLOW .
$$
The layer at depth $t$ adds a Wishart fluctuation, $N \operatorname{Cov}(S_{ab}, S_{cd}) = C_{ab,cd}(t) =
K_{ac}K_{bd} + K_{ad}K_{bc}$ ($K = K(t)$), which $\Phi_{1-t}$ carries to the output: with
$(J_t X)_{ab} = c^{001}_{ab} X_{ab} + c^{100}_{ab} X_{aa} + c^{010}_{ab} X_{bb}$ and
$c^\beta_{ab} = \partial^\beta f / \beta!$ of $\Phi_{1-t}$ at $K(t)$,
$$
\kappa_2(S_L - K(1)) = \frac{L}{N}\int_0^1 (J_t \otimes J_t)\, C(t)\, dt, \qquad
\kappa_1(S_L - K(1)) = \frac{L}{N}\int_0^1 \sum_{|\beta| = 2} c^\beta_{ab}\, \mathbb{E}_{C(t)}[X^\beta]\, dt,
$$
and the first-order read-out of these two cumulants around $K(1)$ is the $L \to \infty$ limit of the first-order
term at fixed $L/N$: $\text{term}_1 \to \frac{L}{N}\int_0^1 h(t)\,dt$,
$h(t) = \mathbb{E}_z\big[[\delta^2]\, G\big(\Phi_{1-t}(K(t) + \delta (z z^\top - K(t)))\big)\big]$, $z \sim N(0, K(t))$.
The Taylor coefficients (derived, `perturbo/compiler/continuum.py`):
"""


def write_continuum(out_dir: Path | str = "derivations") -> list[Path]:
    """Write ``cubic_continuum/order_1.{md,json}``: the continuum flow and its Taylor coefficients (LaTeX and SymPy)."""
    from .compiler.continuum import ContinuumFlow, flow_map

    coefficients = ContinuumFlow().coefficients
    folder = Path(out_dir) / "cubic_continuum"
    folder.mkdir(parents=True, exist_ok=True)
    md = ["# The continuum limit of the default cubic, first order\n\n",
          "Written by `perturbo derive --order 1 --limit continuum`; evaluated by `limit=\"continuum\"` on ",
          "`evidence` and `predict` (Gauss-Legendre in $t$).\n\n", _continuum_formula(flow_map(), coefficients)]
    data = {"flow": sp.sstr(flow_map()), "taylor_coefficients": {"".join(map(str, b)): sp.sstr(e)
                                                                  for b, e in coefficients.items()}}
    paths = [folder / "order_1.md", folder / "order_1.json"]
    paths[0].write_text("".join(md))
    paths[1].write_text(json.dumps(data, indent=1) + "\n")
    return paths


def _continuum_formula(flow: sp.Expr, coefficients: dict) -> str:
    rows = [f"$$\nc^{{{''.join(map(str, b))}}} = {sp.latex(e)}\n$$\n\n" for b, e in coefficients.items()]
    return CONTINUUM.replace("FLOW", sp.latex(flow)) + "\n" + "".join(rows)


def _read_continuum(derivations: Path) -> str:
    from .compiler import continuum

    data = json.loads((derivations / "cubic_continuum" / "order_1.json").read_text())
    names = {str(v): v for v in (continuum.psi, continuum.tau, continuum.s_aa, continuum.s_bb, continuum.s_ab)}
    coefficients = {tuple(int(c) for c in b): sp.parse_expr(e, local_dict=names)
                    for b, e in data["taylor_coefficients"].items()}
    return _continuum_formula(sp.parse_expr(data["flow"], local_dict=names), coefficients)


def guide_section(derivations: Path | str = "derivations") -> str:
    """The zero-temperature deep linear table (equal widths), from every committed ``order_K.json``."""
    files = sorted((Path(derivations) / "deep_linear").glob("order_*.json"), key=lambda p: int(p.stem[6:]))
    if not files:
        raise ValueError(f"no derivations/deep_linear/order_K.json under {derivations}: run perturbo derive --network linear")
    lines = [GUIDE_BEGIN, "\n\n", "**Deep linear network, zero temperature, equal widths** (`derivations/deep_linear/`): ",
             "the coefficient of $1/N^k$ of the log evidence $\\ell_k$ and of the posterior variance $v_k$ ",
             "(the posterior mean has none: it does not depend on the random output scale). ",
             "$r = y^\\top K^{-1} y$, $v_0$ the Gaussian-process variance.\n\n"]
    for path in files:
        terms = read_deep_linear(path)
        k = int(path.stem[6:])
        for quantity, symbol in [("log_evidence", r"\ell"), ("var", "v")]:
            lines.append(f"$$\n{_by_powers_of_depth(f'{symbol}_{k}', terms[(quantity, 'zero', 'equal')])}\n$$\n\n")
    lines += ["**The continuum limit of the default cubic at first order** (`derivations/cubic_continuum/`, ",
              "the regime of Hanin & Zlokapa with $LP/N$ the effective depth; `limit=\"continuum\"`).\n\n",
              _read_continuum(Path(derivations)), GUIDE_END]
    return "".join(lines)


def _by_powers_of_depth(name: str, expr: sp.Expr) -> str:
    """``name = sum_j L^j c_j`` in LaTeX, one line per power of ``L``, each ``c_j`` factored."""
    poly = sp.Poly(sp.expand(expr), closed_forms.L)
    rows = [sp.latex(closed_forms.L**j) + r"\left(" + sp.latex(sp.factor(c)) + r"\right)" for (j,), c in poly.terms()]
    if len(rows) == 1:
        return f"{name} = {rows[0]}"
    return "\\begin{aligned}\n" + f"{name} = {{}}& " + "\\\\\n&+ ".join(rows) + "\n\\end{aligned}"


def update_guide(guide: Path | str, derivations: Path | str = "derivations") -> bool:
    """Replace the guide's derived-results part (between the markers) by ``guide_section``; True if it changed."""
    path = Path(guide)
    text = path.read_text()
    if text.count(GUIDE_BEGIN) != 1 or text.count(GUIDE_END) != 1:
        raise ValueError(f"{path} needs one line {GUIDE_BEGIN!r} and one {GUIDE_END!r} where the table goes")
    head, rest = text.split(GUIDE_BEGIN)
    _, tail = rest.split(GUIDE_END)
    new = head + guide_section(derivations) + tail
    path.write_text(new)
    return new != text
