"""Derived results written out: the deep linear closed forms in ``derivations/deep_linear/``, and the guide's table.

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
    lines.append(GUIDE_END)
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
