"""Plots: the 1/N series against its reference over widths, the predictive along a line, the regime map.

``convergence_data``, ``predictive_data`` and ``regimes_data`` compute the numbers; ``plot_convergence``,
``plot_predictive`` and ``plot_regimes`` draw them with matplotlib (``pip install 'perturbo[plot]'``) on a
``Figure`` with the non-interactive Agg canvas, so no global pyplot state is touched.
The file format follows the suffix: ``.png`` or ``.pdf``.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .model import ShapedMLP
from .progress import progress
from .results import ROUNDOFF, Representations, expected_squared_error
from .validation import check_beta, check_count, check_data, check_finite_real, check_widths

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = (".png", ".pdf")

QUANTITIES = ("log_evidence", "mean", "var")

MC_RESOLUTION = 2.0
"""Errors below this many Monte Carlo standard errors cannot be told from the reference's noise."""

CHUNK = 20
"""Test points per ``predict`` call at orders 0 and 1: a compiled call is overhead-bound up to about 20 points
(orders >= 2 cost a high power of the number of points: one test point a call)."""


def check_plot_path(path: str | Path) -> Path:
    """An output file ending in ``.png`` or ``.pdf`` in an existing folder."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"plot file {str(path)!r}: unknown format {path.suffix!r}; use .png or .pdf")
    if not path.parent.is_dir():
        raise ValueError(f"plot file {str(path)!r}: the folder {str(path.parent)!r} does not exist")
    return path


def _new_figure() -> Figure:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ValueError("plots need matplotlib: pip install 'perturbo[plot]'") from None
    figure = Figure(figsize=(6.4, 4.8), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


# ------------------------------------------------------------------ convergence
@dataclass(frozen=True)
class ConvergenceData:
    """``errors[K, w] = |order-K series - reference|`` of ``quantity`` at ``widths[w]``."""

    quantity: str
    widths: np.ndarray  # (W,), increasing
    errors: np.ndarray  # (K+1, W)
    slopes: np.ndarray  # (K+1,): fitted d log(error) / d log(N); NaN when fewer than two widths resolve
    floor: np.ndarray  # (W,): smallest resolvable error
    reference: str  # "exact" or "Monte Carlo"
    title: str  # network, beta and reference


def _check_width_range(widths: int | Sequence[int]) -> np.ndarray:
    """At least two different widths, each an integer >= 1; returned sorted."""
    widths = [widths] if isinstance(widths, numbers.Number) else list(widths)
    values = sorted(set(check_widths(widths, len(widths))))
    if len(values) < 2:
        raise ValueError(f"widths must hold at least two different widths to fit a slope, got {widths!r}")
    return np.array(values)


def _value(result: object, name: str) -> float:
    """A scalar field of a result, or the entry of its one test point."""
    return float(np.ravel(getattr(result, name))[0])


def _partial_sums_and_reference(
    net: ShapedMLP, X: np.ndarray, y: np.ndarray, X_test: np.ndarray | None, beta: float, order: int,
    quantity: str, samples: int, seed: int,
) -> tuple[np.ndarray, float, float]:
    """The series summed to orders ``0..order``, the reference value and its smallest resolvable error."""
    if quantity == "log_evidence":
        terms = net.evidence(X, y, beta=beta, order=order).terms
    else:
        terms = getattr(net.predict(X, y, X_test, beta=beta, order=order), f"{quantity}_terms")[:, 0]
    if net.activation.is_linear:
        reference = _value(net.exact(X, y, X_test, beta=beta), quantity)
        return np.cumsum(terms), reference, ROUNDOFF * max(1.0, abs(reference))
    mc = net.monte_carlo(X, y, X_test, beta=beta, samples=samples, seed=seed)
    return np.cumsum(terms), _value(mc, quantity), MC_RESOLUTION * _value(mc, f"{quantity}_se")


def _slope(widths: np.ndarray, errors: np.ndarray, floor: np.ndarray) -> float:
    """Least-squares slope of ``log error`` against ``log N`` over the widths where ``error > floor``."""
    resolved = errors > floor
    if np.count_nonzero(resolved) < 2:
        return math.nan
    return float(np.polyfit(np.log(widths[resolved]), np.log(errors[resolved]), 1)[0])


def convergence_data(
    make_net: Callable[[int], ShapedMLP],
    X: np.ndarray,
    y: np.ndarray,
    widths: Sequence[int],
    beta: float = math.inf,
    max_order: int = 2,
    quantity: str = "log_evidence",
    x_test: np.ndarray | None = None,
    samples: int = 20_000,
    seed: int = 0,
) -> ConvergenceData:
    """Error of the series summed to order ``K = 0..max_order`` against a reference, per width.

    ``make_net(N)`` is the network at width ``N``. The reference is ``net.exact`` for the deep
    linear network, else ``net.monte_carlo`` (``samples``, ``seed``), whose noise sets the
    floor ``2 SE`` below which errors are not resolved (the Monte Carlo variance has no
    standard error, so ``quantity="var"`` needs the deep linear network). The order-K series
    is exact to ``O(N^-(K+1))``, so ``log error_K`` against ``log N`` has slope ``-(K+1)``;
    ``slopes`` fits it over the resolved widths. ``quantity``: ``log_evidence``, or ``mean``
    or ``var`` of ``f(x_test)``.
    """
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {', '.join(QUANTITIES)}, got {quantity!r}")
    widths = _check_width_range(widths)
    X_test = None
    if quantity != "log_evidence":
        if x_test is None:
            raise ValueError(f"the posterior {quantity} needs a test input x_test of shape (N0,)")
        X_test = np.asarray(x_test, dtype=float)[None]
    first = make_net(int(widths[0]))
    reference = "exact" if first.activation.is_linear else "Monte Carlo"
    if quantity == "var" and not first.activation.is_linear:
        raise ValueError("Monte Carlo gives no standard error for the variance: use quantity 'log_evidence' "
                         "or 'mean', or the deep linear network (psi = 0) with its exact reference")
    rows = [_partial_sums_and_reference(make_net(int(n)), X, y, X_test, beta, max_order, quantity, samples, seed)
            for n in widths]
    errors = np.abs(np.array([sums for sums, _, _ in rows]).T - np.array([ref for _, ref, _ in rows]))
    floor = np.array([resolution for _, _, resolution in rows])
    return ConvergenceData(
        quantity=quantity,
        widths=widths,
        errors=errors,
        slopes=np.array([_slope(widths, e, floor) for e in errors]),
        floor=floor,
        reference=reference,
        title=f"L = {first.depth}, phi(t) = {first.activation.phi}, beta = {beta}; reference: {reference}"
        + ("" if first.activation.is_linear else f" over {samples} networks"),
    )


def format_slope(slope: float) -> str:
    """``-1.98``, or ``unresolved`` when fewer than two errors lie above the reference's noise."""
    return "unresolved" if math.isnan(slope) else f"{slope:.2f}"


def plot_convergence(data: ConvergenceData, path: str | Path) -> Path:
    """Log-log ``|series_K - reference|`` against the width, with guides ``N^-(K+1)`` (dashed)."""
    path = check_plot_path(path)
    figure = _new_figure()
    ax = figure.subplots()
    for K, (errors, slope) in enumerate(zip(data.errors, data.slopes)):
        label = f"order {K}: slope {format_slope(slope)}, dashed N^-{K + 1}"
        (line,) = ax.loglog(data.widths, np.where(errors > 0, errors, np.nan), "o-", label=label)
        resolved = np.flatnonzero(errors > data.floor)
        if resolved.size:  # anchored at the widest resolved point, the most asymptotic one
            anchor = resolved[-1]
            guide = errors[anchor] * (data.widths / data.widths[anchor]) ** -(K + 1.0)
            ax.loglog(data.widths, guide, "--", color=line.get_color(), alpha=0.5)
    if data.reference != "exact":
        bottom = ax.get_ylim()[0]
        ax.fill_between(data.widths, bottom, data.floor, color="grey", alpha=0.25,
                        label=f"below {MC_RESOLUTION:g} Monte Carlo standard errors")
        ax.set_ylim(bottom=bottom)
    ax.set_xticks(data.widths, [str(n) for n in data.widths])
    ax.set_xticks([], minor=True)
    ax.set_xlabel("width N")
    ax.set_ylabel(f"|order-K {data.quantity.replace('_', ' ')} - {data.reference}|")
    ax.set_title(data.title, fontsize="small")
    ax.legend(fontsize="small")
    figure.savefig(path)
    return path


# ------------------------------------------------------------------ predictive
@dataclass(frozen=True)
class PredictiveData:
    """Posterior mean and standard deviation of ``f(x(t))``, ``x(t) = x0 + t d``, at each order."""

    t: np.ndarray  # (points,)
    inputs: np.ndarray  # (points, N0): x(t)
    orders: tuple[int, ...]  # (0,) or (0, K)
    mean: np.ndarray  # (len(orders), points)
    std: np.ndarray  # (len(orders), points): sqrt(max(var, 0))
    train_t: np.ndarray  # slice positions of the training inputs that lie on the line
    train_y: np.ndarray  # their targets
    title: str


def _vector(v: object, name: str, N0: int) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    if v.shape != (N0,) or not np.all(np.isfinite(v)):
        raise ValueError(f"{name} must be a finite vector of length N0 = {N0}, got shape {v.shape}")
    return v


def default_line(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x0 = X[0]`` and ``d = X[1] - X[0]`` (``t = 0, 1`` are training inputs); with one
    training input, a random direction (seed 0) of the length of ``X[0]``."""
    if len(X) >= 2 and np.any(X[1] != X[0]):
        return X[0], X[1] - X[0]
    direction = np.random.default_rng(0).normal(size=X.shape[1])
    return X[0], direction * np.linalg.norm(X[0]) / np.linalg.norm(direction)


def predictive_data(
    net: ShapedMLP,
    X: np.ndarray,
    y: np.ndarray,
    beta: float = math.inf,
    order: int = 1,
    points: int = 100,
    x0: np.ndarray | None = None,
    direction: np.ndarray | None = None,
    t_range: tuple[float, float] = (-0.5, 1.5),
) -> PredictiveData:
    """``net.predict`` along ``x(t) = x0 + t d``, ``t`` in ``t_range`` (defaults: ``default_line``).

    A training input ``x_mu`` lies on the line when ``x_mu - x0`` is parallel to ``d``
    (to 1e-9 relative); it is marked at ``t_mu = (x_mu - x0) . d / |d|^2``.
    """
    X, y, _ = check_data(X, y, None, check_beta(beta))
    points = check_count(points, "points", 2)
    lo, hi = (check_finite_real(end, "t_range") for end in t_range)
    if not lo < hi:
        raise ValueError(f"t_range must be increasing, got {t_range!r}")
    base, along = default_line(X)
    x0 = _vector(base if x0 is None else x0, "x0", X.shape[1])
    direction = _vector(along if direction is None else direction, "direction", X.shape[1])
    if not np.any(direction):
        raise ValueError("direction must be a nonzero vector")
    t = np.linspace(lo, hi, points)
    inputs = x0 + t[:, None] * direction
    chunk = CHUNK if order <= 1 else 1  # orders >= 2 cost a high power of P + T: one test point at a time
    mean_terms, var_terms = [], []
    with progress(points, "predictive along a line") as bar:
        for start in range(0, points, chunk):
            pr = net.predict(X, y, inputs[start : start + chunk], beta=beta, order=order)
            mean_terms.append(pr.mean_terms)
            var_terms.append(pr.var_terms)
            bar.update(len(pr.mean))
    orders = (0,) if order == 0 else (0, order)
    mean = np.cumsum(np.concatenate(mean_terms, axis=1), axis=0)[list(orders)]
    var = np.cumsum(np.concatenate(var_terms, axis=1), axis=0)[list(orders)]
    train_t = (X - x0) @ direction / (direction @ direction)
    off_line = np.linalg.norm(X - x0 - train_t[:, None] * direction, axis=1)
    scale = np.maximum(np.linalg.norm(X, axis=1), np.linalg.norm(direction))
    on_line = (off_line <= 1e-9 * scale) & (lo <= train_t) & (train_t <= hi)
    return PredictiveData(
        t=t,
        inputs=inputs,
        orders=orders,
        mean=mean,
        std=np.sqrt(np.maximum(var, 0.0)),
        train_t=train_t[on_line],
        train_y=y[on_line],
        title=f"{net!r}, beta = {beta}",
    )


def plot_predictive(data: PredictiveData, path: str | Path) -> Path:
    """Posterior mean and a band of two standard deviations along the line, one colour per order."""
    path = check_plot_path(path)
    figure = _new_figure()
    ax = figure.subplots()
    for k, mean, std in zip(data.orders, data.mean, data.std):
        (line,) = ax.plot(data.t, mean, label=f"order {k}: mean")
        ax.fill_between(data.t, mean - 2 * std, mean + 2 * std, color=line.get_color(), alpha=0.2,
                        label=f"order {k}: mean ± 2 std")
    if data.train_t.size:
        ax.plot(data.train_t, data.train_y, "ko", label="training points on the line")
    ax.set_xlabel("t, input x(t) = x0 + t d")
    ax.set_ylabel("f(x(t))")
    ax.set_title(data.title, fontsize="small")
    ax.legend(fontsize="small")
    figure.savefig(path)
    return path


# ------------------------------------------------------------------ representations
def plot_representations(rep: Representations, title: str, path: str | Path) -> Path:
    """Per layer, the order-1 kernel change ``terms[l, 1]`` as a heatmap (one colour scale for all layers), and
    the kernel-target alignment against depth at order 0 and order K."""
    path = check_plot_path(path)
    if rep.order < 1:
        raise ValueError("the representations plot shows corrections: use order >= 1")
    figure = _new_figure()
    L = len(rep.terms)
    layout = figure.add_gridspec(2, L, height_ratios=[1, 1.2])
    heatmaps = [figure.add_subplot(layout[0, l]) for l in range(L)]
    change = rep.terms[:, 1]
    scale = float(np.max(np.abs(change))) or 1.0
    for l, heatmap in enumerate(heatmaps):
        image = heatmap.imshow(change[l], cmap="RdBu_r", vmin=-scale, vmax=scale)
        heatmap.set_title(f"layer {l + 1}", fontsize="small")
        heatmap.set_xticks([])
        heatmap.set_yticks([])
    figure.colorbar(image, ax=heatmaps, shrink=0.8, label="order-1 change of E[S_l]")
    ax = figure.add_subplot(layout[1, :])
    depth = np.arange(1, L + 1)
    ax.plot(depth, rep.alignment[:, 0], "o-", label="order 0 (prior kernel)")
    ax.plot(depth, rep.alignment[:, rep.order], "s-", label=f"order {rep.order}")
    ax.set_xlabel("layer l")
    ax.set_ylabel("alignment y^T S y / (|y|^2 tr S)")
    ax.set_xticks(depth)
    ax.legend(fontsize="small")
    figure.suptitle(title, fontsize="small")
    figure.savefig(path)
    return path


# ------------------------------------------------------------------ regimes and learning curves
RENORMALIZED = {
    "Wishart, saddle": {"ansatz": "wishart", "loop": False},
    "Wishart, saddle + loop": {"ansatz": "wishart", "loop": True},
    "nested, saddle": {"ansatz": "nested", "loop": False},
    "nested, saddle + loop": {"ansatz": "nested", "loop": True},
    "matched (Wishart + loop)": {"ansatz": "wishart", "loop": True, "matched": True},
}
"""The kernel-renormalisation curves: label -> ``net.renormalized`` options."""


@dataclass(frozen=True)
class Point:
    """One method's answer on one network: log evidence (``None`` where it has none) and test error, each with a
    standard error where the method is stochastic."""

    log_evidence: float | None
    log_evidence_se: float | None
    test_error: float
    test_error_se: float | None = None


def evaluate_methods(
    net: ShapedMLP, X: np.ndarray, y: np.ndarray, X_test: np.ndarray, y_test: np.ndarray, beta: float, max_order: int,
    method: str, renormalized: dict[str, dict], mc_samples: int = 0, nuts: dict | None = None, ntk: bool = False,
    seed: int = 0, samples: int | None = None,
) -> dict[str, Point]:
    """Every method on one network and dataset: the series summed to orders ``0..max_order`` (``method`` and
    ``samples`` for the corrections, as in ``net.evidence``), the ``renormalized`` answers, the NTK predictor (``ntk``; skipped where its kernel is singular), and
    the references: ``net.exact`` for the deep linear network, Monte Carlo over ``mc_samples`` networks and NUTS
    (``nuts``: the options of ``net.sample_posterior``) when asked. The test error is ``mean_x[(y - mean)^2 + var]``."""
    out: dict[str, Point] = {}
    sampling = {} if method == "exact" else {"method": method, "samples": samples}
    ev = net.evidence(X, y, beta=beta, order=max_order, **sampling)
    pr = net.predict(X, y, X_test, beta=beta, order=max_order, **sampling)
    for k in range(max_order + 1):
        se = None if ev.terms_se is None else float(np.sqrt(np.sum(ev.terms_se[: k + 1] ** 2)))
        error = expected_squared_error(y_test, pr.mean_terms[: k + 1].sum(0), pr.var_terms[: k + 1].sum(0))
        out[f"series, order {k}"] = Point(float(ev.terms[: k + 1].sum()), se, error)
    for label, options in renormalized.items():
        kr = net.renormalized(X, y, X_test, beta=beta, **options)
        out[label] = Point(kr.log_evidence, None, kr.generalization_error(y_test))
    if ntk:
        try:
            out["NTK (gradient flow)"] = Point(None, None, net.ntk(X, y, X_test).generalization_error(y_test))
        except ValueError:  # a singular tangent kernel: gradient flow does not single out one interpolant
            pass
    if net.activation.is_linear:
        exact = net.exact(X, y, X_test, beta=beta)
        out["exact"] = Point(exact.log_evidence, None, exact.generalization_error(y_test))
    elif mc_samples:
        mc = net.monte_carlo(X, y, X_test, beta=beta, samples=mc_samples, seed=seed)
        out["Monte Carlo"] = Point(mc.log_evidence, mc.log_evidence_se, mc.generalization_error(y_test))
    if nuts is not None:
        post = net.sample_posterior(X, y, X_test, beta=beta, seed=seed, **nuts)
        # the error's standard error from those of the mean and the variance, treated as independent
        error_se = math.sqrt(np.sum((2 * (post.mean - y_test) * post.mean_se) ** 2 + post.var_se**2)) / len(y_test)
        out["NUTS (finite network)"] = Point(None, None, post.generalization_error(y_test), error_se)
    return out


@dataclass(frozen=True)
class RegimeData:
    """Per width (``L P / N`` increasing along the list), each method's log evidence per training point and test
    error ``mean_x[(y - mean)^2 + var]``; ``log_evidence_se``: standard errors of the stochastic ones (Monte Carlo, a
    sampled series)."""

    widths: np.ndarray  # (W,)
    depth_ratio: np.ndarray  # (W,) L P / N
    log_evidence: dict[str, np.ndarray]  # label -> (W,), divided by P
    log_evidence_se: dict[str, np.ndarray]
    test_error: dict[str, np.ndarray]
    title: str


def default_regime_widths(depth: int, n_train: int, ratios: Sequence[float] = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)
                          ) -> list[int]:
    """Widths ``N = L P / ratio`` for effective depths ``L P / N`` from 0.05 (kernel regime) to 3.2."""
    return sorted({max(1, round(depth * n_train / r)) for r in ratios}, reverse=True)


def _checked_test_data(X, y, X_test, y_test, beta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X, y, X_test = check_data(X, y, X_test, beta)
    if X_test is None or y_test is None:
        raise ValueError("the test error needs test inputs X_test and their targets y_test")
    return X, y, X_test, np.asarray(y_test, dtype=float)


def regimes_data(
    make_net: Callable[[int], ShapedMLP],
    X: np.ndarray,
    y: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    widths: Sequence[int],
    beta: float = math.inf,
    max_order: int = 2,
    method: str = "auto",
    mc_samples: int = 0,
    seed: int = 0,
) -> RegimeData:
    """The regime map's numbers (``evaluate_methods`` with the ``RENORMALIZED`` answers, per width): the series summed
    to orders ``0..max_order``, kernel renormalisation, and the reference: ``net.exact`` for the deep linear network,
    else Monte Carlo over ``mc_samples`` finite networks (none when 0)."""
    beta = check_beta(beta)
    X, y, X_test, y_test = _checked_test_data(X, y, X_test, y_test, beta)
    mc_samples = check_count(mc_samples, "mc_samples", 0)
    widths = _check_width_range(widths)[::-1]
    P = len(y)
    first = make_net(int(widths[0]))
    points = []
    with progress(len(widths), "regime map over widths") as bar:
        for n in widths:
            points.append(evaluate_methods(make_net(int(n)), X, y, X_test, y_test, beta, max_order, method,
                                           RENORMALIZED, mc_samples=mc_samples, seed=seed))
            bar.update()
    labels = list(points[0])
    reference = "exact" if first.activation.is_linear else (f"Monte Carlo over {mc_samples} networks" if mc_samples
                                                             else "no reference")
    return RegimeData(
        widths=widths,
        depth_ratio=first.depth * P / widths,
        log_evidence={k: np.array([p[k].log_evidence for p in points]) / P for k in labels},
        log_evidence_se={k: np.array([p[k].log_evidence_se for p in points]) / P for k in labels
                         if points[0][k].log_evidence_se is not None},
        test_error={k: np.array([p[k].test_error for p in points]) for k in labels},
        title=f"L = {first.depth}, phi(t) = {first.activation.phi}, beta = {beta}, P = {P}; reference: {reference}",
    )


@dataclass(frozen=True)
class Curve:
    """Test error of each method along one axis (``x``), with standard errors for the stochastic ones."""

    axis: str
    x: np.ndarray
    errors: dict[str, np.ndarray]
    errors_se: dict[str, np.ndarray]


LEARNING_CURVE_METHODS = {"Wishart, saddle + loop": RENORMALIZED["Wishart, saddle + loop"],
                          "matched (Wishart + loop)": RENORMALIZED["matched (Wishart + loop)"]}


def learning_curves_data(
    make_net: Callable[[int, int], ShapedMLP],
    X: np.ndarray,
    y: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    depth: int,
    width: int,
    sizes: Sequence[int],
    depths: Sequence[int],
    widths: Sequence[int],
    beta: float,
    max_order: int = 1,
    method: str = "exact",
    nuts: dict | None = None,
    seed: int = 0,
) -> list[Curve]:
    """Test error of every method (``evaluate_methods``: the series, kernel renormalisation, the NTK, the exact answer
    or NUTS) against the number of training points ``sizes`` (the first ``P`` of ``X``; the network ``make_net(depth,
    width)``), against the depth ``depths`` at fixed ``depth / width``, and against ``L P / N`` (``widths``)."""
    beta = check_beta(beta)
    X, y, X_test, y_test = _checked_test_data(X, y, X_test, y_test, beta)
    runs = [("P (training points)", [(int(P), depth, width) for P in sizes]),
            ("L at fixed L / N", [(len(y), int(L), max(1, round(L * width / depth))) for L in depths]),
            ("L P / N (width varied)", [(len(y), depth, int(N)) for N in sorted(widths, reverse=True)])]
    curves = []
    with progress(sum(len(points) for _, points in runs), "learning curves") as bar:
        for axis, settings in runs:
            if not settings:
                continue
            points = []
            for P, L, N in settings:
                if not 1 <= P <= len(y):
                    raise ValueError(f"sizes must lie between 1 and the {len(y)} training points, got {P}")
                points.append(evaluate_methods(make_net(L, N), X[:P], y[:P], X_test, y_test, beta, max_order, method,
                                               LEARNING_CURVE_METHODS, nuts=nuts, ntk=True, seed=seed))
                bar.update()
            labels = [k for k in points[0] if all(k in p for p in points)]
            x = {"P (training points)": [P for P, _, _ in settings], "L at fixed L / N": [L for _, L, _ in settings],
                 "L P / N (width varied)": [L * P / N for P, L, N in settings]}[axis]
            curves.append(Curve(axis, np.array(x, dtype=float), {k: np.array([p[k].test_error for p in points])
                                                                for k in labels},
                                {k: np.array([p[k].test_error_se for p in points]) for k in labels
                                 if points[0][k].test_error_se is not None}))
    return curves


def plot_learning_curves(curves: list[Curve], title: str, path: str | Path) -> Path:
    """One panel per axis: the test error of each method, the series dashed, NUTS with two standard errors."""
    path = check_plot_path(path)
    figure = _new_figure()
    figure.set_size_inches(5.0 * len(curves), 4.5)
    axes = np.atleast_1d(figure.subplots(1, len(curves)))
    for ax, curve in zip(axes, curves):
        for label, errors in curve.errors.items():
            style = {"linestyle": "--", "marker": "."} if label.startswith("series") else {"marker": "o"}
            if label in curve.errors_se:
                ax.errorbar(curve.x, errors, yerr=2 * curve.errors_se[label], label=label, color="black", **style)
            else:
                ax.plot(curve.x, errors, label=label, **style)
        ax.set_xscale("log")
        ax.set_xlabel(curve.axis)
        ax.set_ylabel("test error  mean[(y - m)^2 + v]")
    axes[0].legend(fontsize="x-small")
    figure.suptitle(title, fontsize="small")
    figure.savefig(path)
    return path


def plot_regimes(data: RegimeData, path: str | Path) -> Path:
    """Log evidence per point and test error against ``L P / N``: the series by order (dashed), kernel
    renormalisation (solid), the reference (black, with two standard errors for Monte Carlo)."""
    path = check_plot_path(path)
    figure = _new_figure()
    figure.set_size_inches(11.0, 4.8)
    left, right = figure.subplots(1, 2)
    for label in data.log_evidence:
        style = {"color": "black", "marker": "o", "linewidth": 2} if label in ("exact", "Monte Carlo") else (
            {"linestyle": "--", "marker": "."} if label.startswith("series") else {"marker": "s", "markersize": 3})
        se = data.log_evidence_se.get(label)
        if se is not None:
            left.errorbar(data.depth_ratio, data.log_evidence[label], yerr=2 * se, label=label, **style)
        else:
            left.plot(data.depth_ratio, data.log_evidence[label], label=label, **style)
        right.plot(data.depth_ratio, data.test_error[label], label=label, **style)
    for ax, name in ((left, "log evidence / P"), (right, "test error  mean[(y - m)^2 + v]")):
        ax.set_xscale("log")
        ax.set_xlabel("L P / N (width varied)")
        ax.set_ylabel(name)
    left.legend(fontsize="x-small")
    figure.suptitle(data.title, fontsize="small")
    figure.savefig(path)
    return path
