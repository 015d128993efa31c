"""Command line: ``perturbo demo | evaluate | check``.

Every command validates its input first; a bad input ends with a one-line
message on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Sequence

import numpy as np

from ._version import __version__
from .data import Dataset, demo_dataset, load_dataset
from .datasets import linear_teacher
from .model import MAX_ORDER, ShapedMLP
from .validation import check_count, check_order
from .verify import QUANTITIES, VOCABULARY

DESCRIPTION = """\
perturbo: finite-width (1/N) corrections to Bayesian inference with deep shaped networks.

  perturbo demo                      the built-in example, orders 0-2 against references
  perturbo evaluate --data FILE      log evidence and posterior predictive to --order K
  perturbo check --data FILE         the series against Monte Carlo over finite networks
  perturbo derive --order K          write the derived expansion to derivations/
  perturbo derive --order K --network linear   the deep linear closed forms (P symbolic)
  perturbo cost --order K            what an exact evaluation costs against the number of points
  perturbo verify "FORMULA"          check a hand-derived term (exit 0 if it holds, 1 if not)
  perturbo representations --data FILE   posterior mean of each hidden layer's Gram matrix
  perturbo plot convergence          error of orders 0..K against width, log-log (PNG or PDF)
  perturbo plot predictive           posterior mean and 2-std band along a line, order 0 and K
  perturbo plot representations      per-layer kernel change (heatmaps) and alignment against depth
  perturbo plot regimes              log evidence and test error against L P / N: series, kernel renormalisation
  perturbo plot learning-curves      test error against P, depth and L P / N, with the NTK and NUTS
  perturbo evaluate --regime proportional   kernel renormalisation (L P / N of order one)
  perturbo check --sampler nuts      the series against posterior sampling of the finite network (NUTS)
  perturbo depth-benefit --data FILE does a larger L P / N raise the evidence? (first order)
  perturbo sweep sweep.toml --out DIR   a grid of widths, depths, noises, datasets and methods: table + plots

The network has DEPTH hidden layers of width N and activation
phi(t) = t + p(t)/DEPTH, with p(t) = psi t^3/3 by default or any polynomial
given by --activation. Training targets are observed with Gaussian noise of
variance P/beta (beta = inf: noise-free interpolation).

Start with `perturbo demo`. Data files for `evaluate` and `check` are .npz
(arrays X, y, optional X_test) or .csv (header row; column y is the target,
the others are inputs; rows with an empty y are test inputs).
"""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``perturbo CMD: error: ...`` and exit status 2."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _beta(text: str) -> float:
    try:
        return float(text)  # accepts "inf"
    except ValueError:
        raise argparse.ArgumentTypeError(f"beta must be a number or 'inf', got {text!r}") from None


def _widths(text: str) -> int | list[int]:
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"width must be an integer or a comma-separated list, got {text!r}") from None
    return values[0] if len(values) == 1 else values


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="dataset file (.npz or .csv)")
    parser.add_argument("--depth", type=int, default=4, help="number of hidden layers L (default 4)")
    parser.add_argument("--width", type=_widths, default=64, help="hidden width N, or one per layer: 64,128,64")
    _add_shaping_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def _add_execution_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int,
                       help=f"{what} on a local Dask cluster of this many processes (the same numbers)")
    where.add_argument("--scheduler", help=f"{what} on a running Dask cluster, e.g. tcp://host:8786")


def _add_shaping_arguments(parser: argparse.ArgumentParser, beta_default: float | None = math.inf,
                           beta_help: str = "inverse temperature (default inf)") -> None:
    parser.add_argument("--psi", type=float, default=0.0, help="cubic shaping strength psi (default 0: linear)")
    parser.add_argument("--activation", help="shaping polynomial p(t) (overrides --psi), e.g. '0.5*t**2 - 0.3*t**3'")
    parser.add_argument("--sigma-w2", type=float, default=1.0, help="weight variance sigma_w^2 (default 1)")
    parser.add_argument("--beta", type=_beta, default=beta_default, help=beta_help)


def _add_plot_arguments(parser: argparse.ArgumentParser, out: str) -> None:
    parser.add_argument("--data", help="dataset file (.npz or .csv; default: the built-in demo data)")
    parser.add_argument("--depth", type=int, default=4, help="number of hidden layers L (default 4)")
    _add_shaping_arguments(parser)
    parser.add_argument("--out", default=out, help=f"output file, .png or .pdf (default {out})")


def _add_plot_parser(commands: argparse._SubParsersAction) -> None:
    from .plots import QUANTITIES

    plot = commands.add_parser("plot", help="plot the convergence in width or the predictive along a line")
    kinds = plot.add_subparsers(dest="kind", required=True, metavar="KIND")
    convergence = kinds.add_parser(
        "convergence", help="|order-K series - reference| against the width, log-log; reference: exact "
        "(psi = 0) or Monte Carlo, whose 2-standard-error floor is shaded")
    _add_plot_arguments(convergence, "convergence.png")
    convergence.add_argument("--order", type=int, default=2, help="highest order K (default 2)")
    convergence.add_argument("--widths", type=_widths, default="64,128,256,512", help="widths (default 64,128,256,512)")
    convergence.add_argument("--quantity", choices=QUANTITIES, default="log_evidence",
                             help="default log_evidence; mean and var are at the first test input")
    convergence.add_argument("--samples", type=int, default=20_000, help="Monte Carlo samples (default 20000)")
    convergence.add_argument("--seed", type=int, default=0, help="Monte Carlo seed (default 0)")
    representations = kinds.add_parser(
        "representations", help="per layer, the order-1 change of the posterior kernel (heatmaps) and the "
        "kernel-target alignment against depth, order 0 and order K")
    _add_plot_arguments(representations, "representations.png")
    representations.add_argument("--width", type=_widths, default=64, help="hidden width N, or one per layer")
    representations.add_argument("--order", type=int, default=1, help=f"order K, 1..{MAX_ORDER} (default 1)")
    regimes = kinds.add_parser(
        "regimes", help="log evidence per point and test error against L P / N (width varied): the series by order, "
        "kernel renormalisation (both ansaetze, saddle and loop, matched), the exact answer (psi = 0) or Monte Carlo")
    regimes.add_argument("--data", help="dataset file with test targets (.npz with y_test; otherwise the last quarter of "
                         "the training points is held out); default: a noisy linear teacher, P = 30, N0 = 60")
    regimes.add_argument("--depth", type=int, default=3, help="number of hidden layers L (default 3)")
    _add_shaping_arguments(regimes)
    regimes.add_argument("--out", default="regimes.png", help="output file, .png or .pdf (default regimes.png)")
    regimes.add_argument("--widths", type=_widths, help="widths (default: L P / N from 0.05 to 3.2)")
    regimes.add_argument("--order", type=int, default=2, help="highest order of the series (default 2)")
    regimes.add_argument("--method", choices=["exact", "sampled", "auto"], default="auto",
                         help="how the series' corrections are evaluated (default auto: exact where cheap)")
    regimes.add_argument("--mc-samples", type=int, default=0,
                         help="Monte Carlo networks per width for a shaped network (default 0: none)")
    curves = kinds.add_parser(
        "learning-curves", help="test error of the series, kernel renormalisation, the NTK and the exact answer or "
        "NUTS against P, against depth at fixed L/N, and against L P/N")
    curves.add_argument("--data", default="digits:0,1:100:100",
                        help="dataset with test targets (default digits:0,1:100:100; without y_test the last quarter "
                        "of the training points is held out)")
    curves.add_argument("--depth", type=int, default=3, help="number of hidden layers L (default 3)")
    curves.add_argument("--width", type=int, default=100, help="hidden width N (default 100)")
    _add_shaping_arguments(curves, None, "inverse temperature (default P: noise variance 1)")
    curves.add_argument("--sizes", type=_widths, help="numbers of training points (default P/4, P/2, P)")
    curves.add_argument("--depths", type=_widths, default="1,2,4,8", help="depths at fixed L/N (default 1,2,4,8)")
    curves.add_argument("--widths", type=_widths, help="widths (default: L P / N from 0.1 to 3.2)")
    curves.add_argument("--order", type=int, default=1, help="highest order of the series (default 1)")
    curves.add_argument("--method", choices=["exact", "sampled", "auto"], default="exact",
                        help="how the series' corrections are evaluated (default exact)")
    curves.add_argument("--nuts-samples", type=int, default=0,
                        help="NUTS draws per chain for the finite network (default 0: no sampling; 2 chains)")
    curves.add_argument("--out", default="learning_curves.png", help="output file, .png or .pdf")
    predictive = kinds.add_parser(
        "predictive", help="posterior mean and 2-std band along the line from the first training input "
        "through the second, order 0 and order K")
    _add_plot_arguments(predictive, "predictive.png")
    predictive.add_argument("--width", type=_widths, default=64, help="hidden width N, or one per layer")
    predictive.add_argument("--order", type=int, default=1, help=f"order K, 0..{MAX_ORDER} (default 1)")
    predictive.add_argument("--points", type=int, default=100, help="points along the line (default 100)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="perturbo", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"perturbo {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log progress to stderr (-v: steps and cache use, -vv: debug)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="run the built-in example against exact and Monte Carlo references")
    demo.add_argument("--samples", type=int, default=20_000, help="Monte Carlo samples (default 20000)")

    evaluate = commands.add_parser("evaluate", help="log evidence and posterior predictive on a dataset")
    _add_model_arguments(evaluate)
    evaluate.add_argument("--order", type=int, help=f"highest order in 1/N, 0..{MAX_ORDER} (default 1)")
    evaluate.add_argument("--method", choices=["exact", "sampled", "auto"], default="exact",
                          help="exact (default), sampled (drawn insertion patterns, with standard errors) or auto")
    evaluate.add_argument("--samples", type=int, help="sampled: draws per pattern (default 2000)")
    evaluate.add_argument("--seed", type=int, default=0, help="sampled: random seed (default 0)")
    evaluate.add_argument("--rtol", type=float,
                          help="sampled or auto: target standard error of each correction relative to its size")
    _add_execution_arguments(evaluate, "sampled or auto: the draws")
    evaluate.add_argument("--regime", choices=["series", "proportional"], default="series",
                          help="series (default): the 1/N expansion; proportional: kernel renormalisation, for L P/N "
                          "of order one (order parameters, log evidence, predictive)")
    evaluate.add_argument("--ansatz", choices=["wishart", "nested"], default="wishart",
                          help="proportional: the equivalent Wishart ansatz (default) or the nested one")
    evaluate.add_argument("--no-loop", action="store_true",
                          help="proportional: the saddle point alone, without its one-loop correction")
    evaluate.add_argument("--mixture", action="store_true",
                          help="proportional: integrate the Wishart ansatz's scale exactly (odd activations)")
    evaluate.add_argument("--matched", action="store_true",
                          help="proportional: swap the ansatz's first-order coefficient for the engine's exact one")

    derive = commands.add_parser("derive", help="derive the expansion to an order and write it to derivations/")
    derive.add_argument("--order", type=int, help="order in 1/n (>= 1)")
    derive.add_argument("--activation", help="shaping polynomial p(t) with numeric coefficients (default psi t^3/3)")
    derive.add_argument("--network", choices=["shaped", "linear"], default="shaped",
                        help="linear: the deep linear closed forms, P and the data invariants symbolic (orders 1-4)")
    derive.add_argument("--temperature", choices=["zero", "finite", "both"], default="both",
                        help="deep linear: which temperatures (default both; finite order 4 takes about 5 minutes)")
    derive.add_argument("--limit", choices=["continuum"],
                        help="continuum: the L -> inf first order of the default cubic at fixed L/N")
    derive.add_argument("--out", default="derivations", help="output folder (default derivations/)")
    derive.add_argument("--guide", metavar="GUIDE",
                        help="instead: rewrite the derived-results part of this guide file from the output folder")

    representations = commands.add_parser(
        "representations", help="posterior mean of every hidden layer's Gram matrix, order by order")
    _add_model_arguments(representations)
    representations.add_argument("--order", type=int, default=1, help=f"highest order in 1/N, 0..{MAX_ORDER} (default 1)")

    cost = commands.add_parser("cost", help="the compiler's plan and estimate against the number of points")
    cost.add_argument("--order", type=int, required=True, help=f"order in 1/n, 1..{MAX_ORDER}")
    cost.add_argument("--depth", type=int, default=6, help="number of hidden layers L (default 6)")
    cost.add_argument("--points", type=_widths, default=[4, 8, 12, 16, 24, 32],
                      help="numbers of points M = P + T, comma-separated (default 4,8,12,16,24,32)")
    cost.add_argument("--psi", type=float, default=-0.6, help="cubic shaping strength psi (default -0.6)")
    cost.add_argument("--activation", help="shaping polynomial p(t) (overrides --psi)")

    compile_ = commands.add_parser(
        "compile", help="write a standalone evaluator of the series (a module needing only NumPy and Numba)")
    compile_.add_argument("--order", type=int, required=True, help="order in 1/N")
    compile_.add_argument("--psi", type=float, default=-0.6, help="cubic shaping strength psi (default -0.6)")
    compile_.add_argument("--activation", help="shaping polynomial p(t) (overrides --psi), phi(t) = t + p(t)/L")
    compile_.add_argument("-o", "--output", required=True, help="the module to write, e.g. evaluator.py")

    verify = commands.add_parser(
        "verify", help="check a hand-derived term against the engine (exit 0: holds, 1: does not)",
        description="CANDIDATE is the coefficient of 1/N^order in the names: " + ", ".join(VOCABULARY)
        + "; matrices use @ and tr(). Example: perturbo verify --order 1 \"L*((r-P)**2/4 - r + P/2)\"",
    )
    verify.add_argument("candidate", help="the formula, e.g. 'L*((r-P)**2/4 - r + P/2)'")
    verify.add_argument("--order", type=int, default=1, help="which term (default 1)")
    verify.add_argument("--quantity", choices=QUANTITIES, default="log_evidence", help="default log_evidence")
    verify.add_argument("--psi", type=float, default=0.0, help="cubic strength (default 0: deep linear)")
    verify.add_argument("--activation", help="shaping polynomial p(t) (overrides --psi)")
    verify.add_argument("--beta", type=_beta, default=math.inf, help="inverse temperature (default inf)")
    verify.add_argument("--trials", type=int, default=12, help="random networks and datasets (default 12)")
    verify.add_argument("--method", choices=["auto", "symbolic", "random"], default="auto",
                        help="symbolic: exact, against the deep linear closed forms; random: identity testing; "
                        "auto (default): symbolic when the candidate is in the closed forms' invariants")

    check = commands.add_parser("check", help="compare the series with finite networks: Monte Carlo or NUTS")
    _add_model_arguments(check)
    check.add_argument("--order", type=int, default=1, help=f"highest order in 1/N, 0..{MAX_ORDER} (default 1)")
    check.add_argument("--sampler", choices=["monte-carlo", "nuts"], default="monte-carlo",
                       help="monte-carlo (default): the Gram chain of finite networks, reweighted; nuts: posterior "
                       "sampling of the weights (finite beta; pip install 'perturbo[sampling]')")
    check.add_argument("--samples", type=int, help="Monte Carlo networks (default 100000) or NUTS draws per chain "
                       "(default 2000)")
    check.add_argument("--chains", type=int, default=4, help="nuts: chains (default 4)")
    check.add_argument("--warmup", type=int, default=1000, help="nuts: warm-up steps per chain (default 1000)")
    check.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    benefit = commands.add_parser(
        "depth-benefit", help="does depth raise the evidence? the first-order term per unit L P/N (Hanin & Jiang)")
    benefit.add_argument("--data", required=True, help="dataset file (.npz or .csv) or digits:CLASSES[:N_TRAIN]")
    _add_shaping_arguments(benefit)
    benefit.add_argument("--depths", type=_widths, default="4,16,64", help="finite depths (default 4,16,64)")
    sweep = commands.add_parser("sweep", help="a grid (widths, depths, noises, datasets, methods) to a table and plots; "
                                "resumable")
    sweep.add_argument("config", help="sweep file (TOML; keys in perturbo.sweep's docstring)")
    sweep.add_argument("--out", default="sweep-results", help="output directory (default sweep-results)")
    _add_execution_arguments(sweep, "the points")
    cache = commands.add_parser("cache", help="show or clear the cache of generated kernels and moment tables")
    cache.add_argument("action", choices=["info", "clear"])
    _add_plot_parser(commands)
    return parser


def _model(args: argparse.Namespace, width: int | list[int] | None = None) -> ShapedMLP:
    """The network the arguments describe; ``width`` overrides ``--width``."""
    width = args.width if width is None else width
    return ShapedMLP(args.depth, width, psi=args.psi, sigma_w2=args.sigma_w2, activation=args.activation)


def _series(net: ShapedMLP, data: Dataset, beta: float, order: int, **sampling: object) -> dict:
    """The evaluate/check payload; ``sampling``: ``method``, ``samples``, ``seed``, ``rtol``, ``workers``, ``scheduler``."""
    ev = net.evidence(data.X, data.y, beta=beta, order=order, **sampling)
    out = {"method": ev.method, "log_evidence": ev.log_evidence, "log_evidence_terms": ev.terms.tolist(),
           "log_evidence_terms_se": _tolist(ev.terms_se), "log_partition": ev.log_partition,
           "log_evidence_error_estimate": ev.error_estimate, "log_evidence_converging": ev.converging}
    if data.X_test is not None:
        pr = net.predict(data.X, data.y, data.X_test, beta=beta, order=order, **sampling)
        out.update(mean=pr.mean.tolist(), var=pr.var.tolist(), mean_terms=pr.mean_terms.tolist(),
                   var_terms=pr.var_terms.tolist(), mean_terms_se=_tolist(pr.mean_terms_se),
                   var_terms_se=_tolist(pr.var_terms_se), mean_error_estimate=_tolist(pr.mean_error_estimate),
                   var_error_estimate=_tolist(pr.var_error_estimate), predictive_converging=pr.converging)
    return out


def _print_table(title: str, columns: list[str], rows: list[list[object]]) -> None:
    cells = [[c if isinstance(c, str) else f"{c:.8g}" for c in row] for row in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(columns, *cells)]
    print(title)
    print("  " + "  ".join(name.rjust(w) for name, w in zip(columns, widths)))
    for row in cells:
        print("  " + "  ".join(str(c).rjust(w) for c, w in zip(row, widths)))
    print()


DEMO_ORDERS = (0, 1, 2)

DEMO_PSI = -0.6
"""Negative psi keeps the Gram entries light-tailed, so the Monte Carlo reference is reliable."""


def _orders_table(net: ShapedMLP, data: Dataset, beta: float) -> list[list[object]]:
    """Rows ``quantity, order 0, order 1, ...``: each column the series summed to that order."""
    ev = net.evidence(data.X, data.y, beta=beta, order=max(DEMO_ORDERS))
    pr = net.predict(data.X, data.y, data.X_test, beta=beta, order=max(DEMO_ORDERS))
    rows = [["log evidence", *np.cumsum(ev.terms)]]
    for i in range(len(data.X_test)):
        rows.append([f"mean f(x_{i})", *np.cumsum(pr.mean_terms[:, i])])
        rows.append([f"var f(x_{i})", *np.cumsum(pr.var_terms[:, i])])
    return rows


def cmd_demo(args: argparse.Namespace) -> None:
    data = demo_dataset()
    print(f"Built-in data: P = {len(data.y)} training points, T = {len(data.X_test)} test points, N0 = {data.X.shape[1]}.")
    print("Columns: the 1/N series summed to order 0 (Gaussian process), 1, 2; then the reference.\n")
    order_columns = [f"order {k}" for k in DEMO_ORDERS]

    linear = ShapedMLP(depth=4, width=32)
    exact = linear.exact(data.X, data.y, data.X_test)
    reference = [exact.log_evidence] + [v for pair in zip(exact.mean, exact.var) for v in pair]
    rows = [row + [ref] for row, ref in zip(_orders_table(linear, data, math.inf), reference)]
    _print_table("Deep linear network, L = 4, N = 32, beta = inf", ["quantity", *order_columns, "exact"], rows)

    shaped = ShapedMLP(depth=4, width=32, psi=DEMO_PSI)
    mc = shaped.monte_carlo(data.X, data.y, data.X_test, beta=6.0, samples=args.samples, seed=0)
    reference = [[mc.log_evidence, mc.log_evidence_se]]
    for i in range(len(data.X_test)):
        reference += [[mc.mean[i], mc.mean_se[i]], [mc.var[i], ""]]
    rows = [row + ref for row, ref in zip(_orders_table(shaped, data, 6.0), reference)]
    _print_table(
        f"Shaped network, psi = {DEMO_PSI}, L = 4, N = 32, beta = 6; Monte Carlo over {args.samples} networks",
        ["quantity", *order_columns, "monte carlo", "std err"],
        rows,
    )


def cmd_evaluate(args: argparse.Namespace) -> None:
    net = _model(args)
    data = load_dataset(args.data)
    if args.regime == "proportional":
        return _evaluate_proportional(args, net, data)
    if args.no_loop or args.mixture or args.matched or args.ansatz != "wishart":
        raise ValueError("--ansatz, --no-loop, --mixture and --matched apply to --regime proportional")
    args.order = 1 if args.order is None else args.order
    sampling = {"method": args.method, "seed": args.seed}
    if args.method != "exact":
        sampling.update(samples=args.samples, rtol=args.rtol, workers=args.workers, scheduler=args.scheduler)
    elif any(value is not None for value in (args.samples, args.rtol, args.workers, args.scheduler)):
        raise ValueError("--samples, --rtol, --workers and --scheduler apply to --method sampled or auto")
    result = _series(net, data, args.beta, args.order, **sampling)
    if args.json:
        print(json.dumps({"model": repr(net), "beta": _json_beta(args.beta), "order": args.order, **result}, indent=2))
        return
    print(f"{net!r}, beta = {args.beta}, order {args.order}, method {result['method']}\n")
    se = result["log_evidence_terms_se"]
    rows = [[f"log evidence, order {k}", term] + ([] if se is None else [se[k]])
            for k, term in enumerate(result["log_evidence_terms"])]
    rows.append(["log evidence (sum)", result["log_evidence"]])
    if result["log_evidence_error_estimate"] is not None:
        rows.append(["error estimate (|last term|)", result["log_evidence_error_estimate"]])
    if result["log_evidence_converging"] is False:
        rows.append(["terms shrinking", "no: the series is breaking down"])
    if result["log_partition"] is not None:
        rows.append(["log Z_beta", result["log_partition"]])
    _print_table("Evidence", ["quantity", "value"] + ([] if se is None else ["std err"]),
                 [row + [""] * (len(rows[0]) - len(row)) for row in rows])
    if "mean" in result:
        columns, values = ["test point", "mean", "var"], [result["mean"], result["var"]]
        if result["mean_error_estimate"] is not None:
            columns += ["mean error est.", "var error est."]
            values += [result["mean_error_estimate"], result["var_error_estimate"]]
        if result["mean_terms_se"] is not None:
            order = args.order
            columns += [f"mean term {order} se", f"var term {order} se"]
            values += [[row[order] for row in zip(*result["mean_terms_se"])],
                       [row[order] for row in zip(*result["var_terms_se"])]]
        _print_table("Posterior predictive", columns, [[i, *row] for i, row in enumerate(zip(*values))])
        if result["predictive_converging"] is False:
            print("terms shrinking: no, the predictive series is breaking down\n")


def _evaluate_proportional(args: argparse.Namespace, net: ShapedMLP, data: Dataset) -> None:
    if args.method != "exact" or args.samples is not None or args.rtol is not None or args.order is not None:
        raise ValueError("--order, --method, --samples and --rtol apply to --regime series")
    kr = net.renormalized(data.X, data.y, data.X_test, beta=args.beta, ansatz=args.ansatz, loop=not args.no_loop,
                          mixture=args.mixture, matched=args.matched)
    P = len(data.y)
    alpha = [P / n for n in net.widths]
    if args.json:
        print(json.dumps({
            "model": repr(net), "beta": _json_beta(args.beta), "ansatz": kr.ansatz, "loop": kr.loop,
            "mixture": kr.mixture, "matched": kr.matched, "alpha": alpha,
            "order_parameters": kr.order_parameters.tolist(),
            "mean_order_parameters": _tolist(kr.mean_order_parameters), "action": kr.action,
            "loop_correction": kr.loop_correction, "log_evidence": kr.log_evidence, "log_partition": kr.log_partition,
            "fluctuation": kr.fluctuation, "saddles": kr.saddles, "mean": _tolist(kr.mean), "var": _tolist(kr.var),
        }, indent=2))
        return
    how = "mixture over the scale" if kr.mixture else ("saddle point + one loop" if kr.loop else "saddle point")
    print(f"{net!r}, beta = {args.beta}: kernel renormalisation, {kr.ansatz} ansatz, {how}"
          f"{', matched to the exact first order' if kr.matched else ''}\n")
    columns = ["layer", "alpha = P/N_l", "s_l"] + ([] if kr.mean_order_parameters is None else ["Q_l"])
    rows = [[str(l + 1), alpha[l], kr.order_parameters[l]]
            + ([] if kr.mean_order_parameters is None else [kr.mean_order_parameters[l]]) for l in range(net.depth)]
    _print_table("Order parameters at the saddle point", columns, rows)
    rows = [["action at the saddle (tree)", kr.action]]
    if kr.loop_correction is not None:
        rows.append(["one-loop correction", kr.loop_correction])
    rows.append(["log evidence", kr.log_evidence])
    if kr.log_partition is not None:
        rows.append(["log Z_beta", kr.log_partition])
    rows.append(["std of log S at the saddle", kr.fluctuation])
    _print_table("Evidence", ["quantity", "value"], rows)
    if kr.mean is not None:
        _print_table("Posterior predictive", ["test point", "mean", "var"],
                     [[i, m, v] for i, (m, v) in enumerate(zip(kr.mean, kr.var))])


def cmd_check(args: argparse.Namespace) -> None:
    net = _model(args)
    data = load_dataset(args.data)
    series = _series(net, data, args.beta, args.order)
    if args.sampler == "nuts":
        if data.X_test is None:
            raise ValueError("--sampler nuts compares the posterior predictive: the data need test inputs")
        reference = net.sample_posterior(data.X, data.y, data.X_test, beta=args.beta, samples=args.samples or 2000,
                                         chains=args.chains, warmup=args.warmup, seed=args.seed)
        name = f"NUTS ({reference.chains} chains x {reference.samples} draws, max R-hat {np.max(reference.rhat):.4f}, " \
               f"{reference.divergences} divergences)"
        deviations = {}
    else:
        reference = net.monte_carlo(data.X, data.y, data.X_test, beta=args.beta, samples=args.samples or 100_000,
                                    seed=args.seed)
        name = f"Monte Carlo ({reference.samples} networks)"
        deviations = {"log_evidence": (series["log_evidence"] - reference.log_evidence) / reference.log_evidence_se}
    if data.X_test is not None:
        deviations["mean"] = ((np.array(series["mean"]) - reference.mean) / reference.mean_se).tolist()
        if args.sampler == "nuts":
            deviations["var"] = ((np.array(series["var"]) - reference.var) / reference.var_se).tolist()
    if args.json:
        out = {"mean": _tolist(reference.mean), "mean_se": _tolist(reference.mean_se), "var": _tolist(reference.var)}
        if args.sampler == "nuts":
            out.update(var_se=_tolist(reference.var_se), rhat=_tolist(reference.rhat), ess=_tolist(reference.ess),
                       divergences=reference.divergences)
        else:
            out.update(log_evidence=reference.log_evidence, log_evidence_se=reference.log_evidence_se)
        print(json.dumps({"series": series, args.sampler.replace("-", "_"): out,
                          "deviation_in_standard_errors": deviations}, indent=2))
        return
    rows = []
    if "log_evidence" in deviations:
        rows.append(["log evidence", series["log_evidence"], reference.log_evidence, reference.log_evidence_se,
                     deviations["log_evidence"]])
    for i in range(0 if data.X_test is None else len(data.X_test)):
        rows.append([f"mean f(x_{i})", series["mean"][i], reference.mean[i], reference.mean_se[i], deviations["mean"][i]])
        if "var" in deviations:
            rows.append([f"var f(x_{i})", series["var"][i], reference.var[i], reference.var_se[i], deviations["var"][i]])
        else:
            rows.append([f"var f(x_{i})", series["var"][i], reference.var[i], "", ""])
    _print_table(f"{net!r}, beta = {args.beta}: order {args.order} versus {name}",
                 ["quantity", "series", "reference", "std err", "deviation/se"], rows)


def cmd_derive(args: argparse.Namespace) -> None:
    from .derive import derive
    from .derived_results import update_guide, write_continuum, write_deep_linear

    if args.guide:
        changed = update_guide(args.guide, args.out)
        print(f"{'updated' if changed else 'unchanged'}: {args.guide}")
        return
    if args.order is None:
        raise ValueError("derive needs --order K (or --guide GUIDE)")
    if args.limit == "continuum":
        if args.order != 1 or args.network != "shaped" or args.activation:
            raise ValueError("--limit continuum is derived for the default cubic at --order 1")
        for path in write_continuum(args.out):
            print(f"wrote {path}")
        return
    if args.network == "shaped":
        for path in derive(args.order, args.activation, args.out):
            print(f"wrote {path}")
        return
    if args.activation:
        raise ValueError("--activation is for --network shaped; the linear network has none")
    temperatures = ("zero", "finite") if args.temperature == "both" else (args.temperature,)
    paths, terms = write_deep_linear(args.order, args.out, temperatures)
    for (quantity, temperature, widths), expr in terms.items():
        if temperature == "zero" and widths == "equal":
            print(f"{quantity}, beta = inf, coefficient of 1/N^{args.order}: {expr}")
    for path in paths:
        print(f"wrote {path}")


def cmd_representations(args: argparse.Namespace) -> None:
    net = _model(args)
    data = load_dataset(args.data)
    rep = net.representations(data.X, data.y, data.X_test, beta=args.beta, order=args.order)
    if args.json:
        print(json.dumps({
            "model": repr(net), "beta": _json_beta(args.beta), "order": args.order, "mean": rep.mean.tolist(),
            "terms": rep.terms.tolist(), "alignment": rep.alignment.tolist(),
            "error_estimate": _tolist(rep.error_estimate), "converging": rep.converging,
        }, indent=2))
        return
    print(f"{net!r}, beta = {args.beta}, order {args.order}; {rep.mean.shape[-1]} points (training first)\n")
    columns = ["layer", "|K_l| (Frobenius)"] + [f"|term {k}|" for k in range(1, args.order + 1)]
    columns += ["alignment, order 0", f"alignment, order {args.order}"]
    norms = np.linalg.norm(rep.terms, axis=(2, 3))
    rows = [[str(l + 1), *norms[l], rep.alignment[l, 0], rep.alignment[l, -1]] for l in range(len(norms))]
    _print_table("Posterior mean of each hidden layer's Gram matrix", columns, rows)
    if rep.converging is False:
        print("terms shrinking: no, the series is breaking down\n")


def cmd_cost(args: argparse.Namespace) -> None:
    from .compiler import program

    net = ShapedMLP(depth=args.depth, width=1, psi=args.psi, activation=args.activation)
    order = check_order(args.order, MAX_ORDER)
    if order == 0:
        raise ValueError("order 0 is the Gaussian process (one P x P solve): give --order from 1")
    points = args.points if isinstance(args.points, list) else [args.points]
    if any(m < 1 for m in points):
        raise ValueError(f"--points must be positive integers, got {points}")
    compiled = program(net.activation.phi, order, net.sigma_w2)
    print(f"order {order}, phi(t) = {net.activation.phi}, L = {args.depth}")
    classes = "   ".join(f"kappa_{c.n}: {c.terms} terms, {c.products} products ({'printed' if c.printed else 'table'})"
                           for c in compiled.term_classes)
    print(f"derived transfer terms per layer (a compiled kernel visits the about M^(2n) / (2^n n!) canonical "
          f"entries of kappa_n): {classes}")
    print(f"read-out: {compiled.readout_contractions[True]} contractions (evidence and predict)")
    print(f"{'points':>8}  {'lowering':15} {'estimate':>10} {'memory':>10}")
    for m in points:
        try:
            chosen = compiled.plan(m, args.depth)
        except ValueError as error:
            print(f"{m:>8}  refused: {error}")
            continue
        lowering = chosen.lowering + (", printed" if chosen.printed else "")
        print(f"{m:>8}  {lowering:15} {chosen.seconds:>8.2g} s {chosen.memory / 1e6:>7.3g} MB")
    print("estimates for a warm process; compiled once per machine and cached on disk: perturbo's runtime (10-15 s), "
          "printed kernels where the plan prints (13-35 s per term structure), the factored module (3-25 s per "
          "activation, degree 3 to 7)")


def cmd_compile(args: argparse.Namespace) -> None:
    from pathlib import Path

    from .activation import parse_shaping
    from .compiler.cost import DENSE_MEMORY_LIMIT
    from .compiler.standalone import write_evaluator

    order = check_order(args.order, MAX_ORDER)
    output = Path(args.output)
    if output.suffix != ".py" or not output.stem.isidentifier():
        raise ValueError(f"--output must name a Python module (an identifier ending in .py), got {args.output!r}")
    shaping = parse_shaping(args.activation, args.psi)
    text = write_evaluator(shaping, order)
    output.write_text(text)
    print(f"wrote {output} ({text.count(chr(10))} lines): phi(t) = t + ({shaping})/L to order {order}, needing only "
          "NumPy and Numba")
    print(f"  import {output.stem}; {output.stem}.log_evidence_terms(X, y, beta, widths, sigma_w2=1.0)")
    print(f"  {output.stem}.predictive_terms(X, y, X_test, beta, widths, sigma_w2=1.0)  # (mean_terms, var_terms)")
    print("  its Numba kernels compile on first use (order 2: about 30 s) and are cached beside the module; memory "
          f"grows like M^(2 order + 2) for M points, refused above {DENSE_MEMORY_LIMIT / 1e9:.3g} GB")


def cmd_verify(args: argparse.Namespace) -> int:
    from .verify import verify

    report = verify(args.candidate, quantity=args.quantity, order=args.order, psi=args.psi, beta=args.beta,
                    activation=args.activation, trials=args.trials, method=args.method)
    print(("HOLDS: " if report.holds else "DOES NOT HOLD: ") + report.detail)
    print(f"method: {report.method}")
    return 0 if report.holds else 1


def cmd_depth_benefit(args: argparse.Namespace) -> None:
    from .depth_benefit import depth_benefit

    data = load_dataset(args.data)
    depths = [args.depths] if isinstance(args.depths, int) else args.depths
    d = depth_benefit(data.X, data.y, beta=args.beta, psi=args.psi, activation=args.activation, depths=depths)
    rows = [[f"L = {L}", c] for L, c in zip(d.depths, d.coefficient)]
    if d.continuum is not None:
        rows.append(["continuum (L -> inf)", d.continuum])
    _print_table(f"first-order log evidence per unit L P/N; r0 = y^T K_L^-1 y / P = {d.r0:.4g}",
                 ["network", "coefficient"], rows)
    print("a larger L P/N " + ("raises" if d.depth_helps else "lowers") + " the evidence at first order")


def cmd_cache(args: argparse.Namespace) -> None:
    from .codegen.cache import cache_clear, cache_info

    if args.action == "clear":
        removed = cache_clear()
        print(
            f"removed {len(removed['modules'])} generated modules and {len(removed['arrays'])} derived moment tables "
            f"from {removed['directory']}"
        )
        return
    info = cache_info()
    print(f"cache directory: {info['directory']} (set PERTURBO_CACHE_DIR to move it)")
    print(
        f"{len(info['modules'])} generated modules, {len(info['arrays'])} derived moment tables, "
        f"{info['bytes'] / 1e6:.1f} MB including Numba's compiled code"
    )
    for name in info["modules"] + info["arrays"]:
        print(f"  {name}")


def cmd_plot(args: argparse.Namespace) -> None:
    from . import plots

    path = plots.check_plot_path(args.out)
    if args.kind == "regimes":
        data = _labelled_test_split(load_dataset(args.data) if args.data else Dataset(*linear_teacher(30, 20)))
        widths = args.widths or plots.default_regime_widths(args.depth, len(data.y))
        result = plots.regimes_data(lambda n: _model(args, n), data.X, data.y, data.X_test, data.y_test,
                                    [widths] if isinstance(widths, int) else widths, beta=args.beta,
                                    max_order=check_order(args.order, MAX_ORDER), method=args.method,
                                    mc_samples=args.mc_samples)
        plots.plot_regimes(result, path)
        print(f"wrote {path}")
        return
    if args.kind == "learning-curves":
        data = _labelled_test_split(load_dataset(args.data))
        P = len(data.y)
        beta = float(P) if args.beta is None else args.beta
        as_list = lambda v: [v] if isinstance(v, int) else v  # noqa: E731
        sizes = as_list(args.sizes) if args.sizes else sorted({max(1, P // 4), max(1, P // 2), P})
        widths = as_list(args.widths) if args.widths else plots.default_regime_widths(args.depth, P, (0.1, 0.4, 1.6, 3.2))
        nuts = None
        if args.nuts_samples:
            nuts = {"samples": check_count(args.nuts_samples, "--nuts-samples", 4), "chains": 2,
                    "warmup": args.nuts_samples}
        curves = plots.learning_curves_data(
            lambda L, N: ShapedMLP(L, N, psi=args.psi, sigma_w2=args.sigma_w2, activation=args.activation),
            data.X, data.y, data.X_test, data.y_test, args.depth, args.width, sizes, as_list(args.depths), widths,
            beta=beta, max_order=check_order(args.order, MAX_ORDER), method=args.method, nuts=nuts)
        net = _model(args, args.width)
        plots.plot_learning_curves(curves, f"{net!r}, beta = {beta:g}, data {args.data}", path)
        print(f"wrote {path}")
        return
    data = load_dataset(args.data) if args.data else demo_dataset()
    if args.kind == "representations":
        net = _model(args)
        rep = net.representations(data.X, data.y, data.X_test, beta=args.beta, order=args.order)
        plots.plot_representations(rep, f"{net!r}, beta = {args.beta}", path)
    elif args.kind == "predictive":
        result = plots.predictive_data(_model(args), data.X, data.y, beta=args.beta, order=args.order,
                                       points=args.points)
        plots.plot_predictive(result, path)
    else:
        x_test = None if data.X_test is None else data.X_test[0]
        result = plots.convergence_data(lambda n: _model(args, n), data.X, data.y, args.widths, beta=args.beta,
                                        max_order=args.order, quantity=args.quantity, x_test=x_test,
                                        samples=args.samples, seed=args.seed)
        plots.plot_convergence(result, path)
        for K, slope in enumerate(result.slopes):
            print(f"order {K}: fitted slope {plots.format_slope(slope)} (expected {-(K + 1)})")
    print(f"wrote {path}")


def _labelled_test_split(data: Dataset) -> Dataset:
    """The dataset with test targets: its own, or the last quarter of the training points held out."""
    if data.y_test is not None:
        return data
    P = len(data.y)
    held = P // 4
    if held < 1:
        raise ValueError(f"the data have no test targets and too few training points ({P}) to hold a quarter out")
    return Dataset(X=data.X[:-held], y=data.y[:-held], X_test=data.X[-held:], y_test=data.y[-held:])


def cmd_sweep(args: argparse.Namespace) -> None:
    from .execution import Execution
    from .sweep import describe, load, run

    outcome = run(load(args.config), args.out, Execution.checked(args.workers, args.scheduler))
    print(describe(outcome, args.out))


def _json_beta(beta: float) -> float | str:
    """Strict JSON has no infinity: zero temperature is written as the string "inf"."""
    return "inf" if math.isinf(beta) else beta


def _tolist(a: np.ndarray | None) -> list | None:
    return None if a is None else a.tolist()


COMMANDS = {"demo": cmd_demo, "evaluate": cmd_evaluate, "check": cmd_check, "derive": cmd_derive, "cost": cmd_cost, "compile": cmd_compile, "verify": cmd_verify,
            "representations": cmd_representations, "depth-benefit": cmd_depth_benefit,
            "sweep": cmd_sweep, "cache": cmd_cache, "plot": cmd_plot}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG if args.verbose > 1 else logging.INFO, format="perturbo: %(message)s")
    try:
        status = COMMANDS[args.command](args)
    except (ValueError, OSError) as exc:
        print(f"perturbo {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
