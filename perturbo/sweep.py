"""Sweeps: a grid of networks, datasets and methods evaluated point by point, resumable, on a cluster or not.

A sweep is a small TOML file (every key optional except ``data``)::

    data = ["digits:0,1"]        # datasets as for --data; training points are the first n_train, and a bare
                                 # digits:CLASSES keeps one test set of n_test images for every n_train
    n_train = [50, 100]          # training points P (default: all of each dataset)
    n_test = 100                 # test points of packaged tasks (default 100)
    depths = [3, 10]             # hidden layers L
    widths = [100, 300, 1000]    # hidden width N
    noise = [1.0, 0.1]           # noise variance P / beta (default [1.0])
    psi = -0.6                   # the cubic's shaping, or activation = "0.5*t**2 - 0.3*t**3"
    sigma_w2 = 1.0
    order = 1                    # the series to this order (its partial sums are rows)
    method = "exact"             # the series' corrections: exact, sampled or auto
    samples = 200                # sampled: draws per pattern
    renormalized = ["Wishart, saddle + loop", "matched (Wishart + loop)"]   # labels of plots.RENORMALIZED
    ntk = true                   # the infinite-width gradient-flow predictor
    seed = 0
    [nuts]                       # posterior sampling of the finite network (net.sample_posterior options)
    samples = 500
    chains = 2
    warmup = 500

Every grid point (dataset, P, L, N, noise) is one task (``plots.evaluate_methods``) and one file
``points/<content hash>.json`` under the output directory, written as soon as it is computed: the hash covers
the point, the evaluation options and perturbo's version, so a rerun (after an interruption, or with a grid
that grew) computes only the points it has no file for, and a changed option computes them anew. The table
(``results.csv``, ``results.json``: a row per point and method) and the plots (regimes against ``L P / N`` per
dataset, P, L and noise; learning curves against ``P`` per dataset, L, N and noise) are rebuilt from the
files each time.
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .execution import Execution

KEYS = {"data", "n_train", "n_test", "depths", "widths", "noise", "psi", "activation", "sigma_w2", "order", "method",
        "samples", "renormalized", "ntk", "seed", "nuts"}
COLUMNS = ["data", "n_train", "depth", "width", "noise", "depth_ratio", "method", "log_evidence", "log_evidence_se",
           "test_error", "test_error_se"]


@dataclass(frozen=True)
class Sweep:
    """A checked sweep configuration: the grid and how each point is evaluated."""

    data: tuple[str, ...]
    n_train: tuple[int | None, ...]
    n_test: int
    depths: tuple[int, ...]
    widths: tuple[int, ...]
    noise: tuple[float, ...]
    model: dict[str, Any] = field(default_factory=dict)  # psi / activation, sigma_w2
    evaluation: dict[str, Any] = field(default_factory=dict)  # order, method, samples, renormalized, ntk, seed, nuts

    def points(self) -> list[dict[str, Any]]:
        """Every grid point, as the plain data a task receives."""
        return [{"data": d, "n_train": P, "n_test": self.n_test, "depth": L, "width": N, "noise": s,
                 "model": self.model, "evaluation": self.evaluation}
                for d in self.data for P in self.n_train for L in self.depths for N in self.widths for s in self.noise]


def _positive_ints(config: dict, key: str, default: list | None = None) -> tuple:
    values = config.get(key, default)
    values = [values] if isinstance(values, int) else values
    if not isinstance(values, list) or not values or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
        raise ValueError(f"sweep: {key} must be a positive integer or a list of them, got {config.get(key)!r}")
    return tuple(values)


def load(path: str | Path) -> Sweep:
    """Read and check a sweep file; ``ValueError`` naming the key to change."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        try:
            import tomli as tomllib
        except ImportError:
            raise ValueError("reading a sweep file needs tomli on Python 3.10: pip install -e \".[distributed]\"") from None
    try:
        with open(path, "rb") as handle:
            config = tomllib.load(handle)
    except OSError as exc:
        raise ValueError(f"sweep file {str(path)!r} could not be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"sweep file {str(path)!r} is not valid TOML: {exc}") from None
    return checked(config)


def checked(config: dict) -> Sweep:
    """The ``Sweep`` a configuration dictionary describes (the keys of the module docstring)."""
    from .plots import RENORMALIZED
    from .sampled.choice import METHODS

    unknown = sorted(set(config) - KEYS)
    if unknown:
        raise ValueError(f"sweep: unknown keys {unknown}; the keys are {sorted(KEYS)}")
    data = config.get("data")
    data = [data] if isinstance(data, str) else data
    if not isinstance(data, list) or not data or not all(isinstance(d, str) for d in data):
        raise ValueError("sweep: data must name at least one dataset, e.g. data = [\"digits:0,1\"]")
    n_train = (None,) if "n_train" not in config else _positive_ints(config, "n_train")
    noise = config.get("noise", [1.0])
    noise = [noise] if isinstance(noise, (int, float)) else noise
    if not isinstance(noise, list) or not noise or not all(
            isinstance(s, (int, float)) and not isinstance(s, bool) and math.isfinite(s) and s > 0 for s in noise):
        raise ValueError(f"sweep: noise must be positive noise variances P / beta, got {config.get('noise')!r}")
    method = config.get("method", "exact")
    if method not in METHODS:
        raise ValueError(f"sweep: method must be one of {', '.join(METHODS)}, got {method!r}")
    renormalized = config.get("renormalized", [])
    if not isinstance(renormalized, list) or any(r not in RENORMALIZED for r in renormalized):
        raise ValueError(f"sweep: renormalized must list labels among {list(RENORMALIZED)}, got {renormalized!r}")
    nuts = config.get("nuts")
    if nuts is not None and not isinstance(nuts, dict):
        raise ValueError("sweep: nuts is a table of net.sample_posterior options, e.g. [nuts] samples = 500")
    model = {k: config[k] for k in ("psi", "activation", "sigma_w2") if k in config}
    evaluation = {"order": config.get("order", 1), "method": method, "samples": config.get("samples"),
                  "renormalized": renormalized, "ntk": bool(config.get("ntk", False)), "seed": config.get("seed", 0),
                  "nuts": nuts}
    sweep = Sweep(tuple(data), n_train, _positive_ints(config, "n_test", [100])[0], _positive_ints(config, "depths"),
                  _positive_ints(config, "widths"), tuple(float(s) for s in noise), model, evaluation)
    _network(sweep.points()[0])  # a bad model is an error before anything runs
    return sweep


def point_key(point: dict[str, Any]) -> str:
    """The content address of a point's result: the point, its evaluation options and perturbo's version."""
    text = json.dumps({"point": point, "version": __version__}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _network(point: dict[str, Any]):
    from .model import ShapedMLP

    return ShapedMLP(point["depth"], point["width"], **point["model"])


def _dataset(point: dict[str, Any]):
    """The point's training data (the first ``n_train`` points) and test data with targets."""
    from .data import digits_spec, load_dataset

    spec = point["data"]
    if spec.startswith("digits:") and spec.count(":") == 1:  # the grid's counts: one test set, nested training sets
        from .datasets import digits_count

        classes, _ = digits_spec(spec)
        spec = f"{spec}:{digits_count(classes) - point['n_test']}:{point['n_test']}"
    data = load_dataset(spec)
    P = point["n_train"] or len(data.y)
    if P > len(data.y):
        raise ValueError(f"n_train = {P} but {point['data']!r} has {len(data.y)} training points")
    if data.X_test is None or data.y_test is None:
        raise ValueError(f"{point['data']!r} has no test inputs with targets: a sweep reports the test error")
    return data.X[:P], data.y[:P], data.X_test, data.y_test


def evaluate_point(point: dict[str, Any]) -> list[dict[str, Any]]:
    """One task: every method on one grid point (``plots.evaluate_methods``), as table rows."""
    from .plots import RENORMALIZED, evaluate_methods

    options = point["evaluation"]
    try:
        X, y, X_test, y_test = _dataset(point)
        P = len(y)
        results = evaluate_methods(
            _network(point), X, y, X_test, y_test, P / point["noise"], options["order"], options["method"],
            {label: RENORMALIZED[label] for label in options["renormalized"]}, nuts=options["nuts"],
            ntk=options["ntk"], seed=options["seed"], samples=options["samples"])
    except ValueError as exc:
        where = ", ".join(f"{k} {point[k]}" for k in ("data", "n_train", "depth", "width", "noise"))
        raise ValueError(f"sweep point ({where}): {exc}") from None
    common = {"data": point["data"], "n_train": P, "depth": point["depth"], "width": point["width"],
              "noise": point["noise"], "depth_ratio": point["depth"] * P / point["width"]}
    return [{**common, "method": label, "log_evidence": r.log_evidence, "log_evidence_se": r.log_evidence_se,
             "test_error": r.test_error, "test_error_se": r.test_error_se} for label, r in results.items()]


def _write_atomically(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
        handle.write(text)
    os.replace(handle.name, path)


@dataclass(frozen=True)
class Outcome:
    """What a run did: the table's rows, how many points it computed and how many it found on disk."""

    rows: list[dict[str, Any]]
    computed: int
    reused: int
    files: list[Path]


def run(sweep: Sweep, out: str | Path, execution: Execution = Execution(), show_progress: bool = True) -> Outcome:
    """Evaluate every point without a result file under ``out/points``, then write the table and the plots."""
    out = Path(out)
    (out / "points").mkdir(parents=True, exist_ok=True)
    points = sweep.points()
    paths = [out / "points" / f"{point_key(p)}.json" for p in points]
    pending = [i for i, path in enumerate(paths) if not path.exists()]

    def save(index: int, rows: list[dict[str, Any]]) -> None:
        i = pending[index]
        _write_atomically(paths[i], json.dumps({"point": points[i], "rows": rows}, indent=1))

    execution.map(evaluate_point, [(points[i],) for i in pending], "sweep points", show_progress, on_result=save)
    rows = [row for path in paths for row in json.loads(path.read_text())["rows"]]
    files = [_write_table(rows, out), *_plots(rows, out)]
    return Outcome(rows, len(pending), len(points) - len(pending), files)


def _write_table(rows: list[dict[str, Any]], out: Path) -> Path:
    _write_atomically(out / "results.json", json.dumps(rows, indent=1))
    with open(out / "results.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows([{k: ("" if row[k] is None else row[k]) for k in COLUMNS} for row in rows])
    return out / "results.csv"


def _slug(*parts: object) -> str:
    return "_".join(str(p).replace(":", "-").replace(",", "-").replace("/", "-") for p in parts)


def _plots(rows: list[dict[str, Any]], out: Path) -> list[Path]:
    """Regime maps (against ``L P / N``, width varied) and learning curves (against ``P``), where the grid has
    at least two values along the axis; nothing without matplotlib (the table is the result)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return []
    from .plots import Curve, RegimeData, plot_learning_curves, plot_regimes

    files = []
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["data"], row["n_train"], row["depth"], row["noise"]), []).append(row)
    for (data, P, L, noise), members in groups.items():
        widths = sorted({r["width"] for r in members}, reverse=True)
        if len(widths) < 2:
            continue
        table = {(r["method"], r["width"]): r for r in members}
        methods = [m for m in dict.fromkeys(r["method"] for r in members) if all((m, N) in table for N in widths)]

        def column(name: str, scale: float = 1.0) -> dict[str, np.ndarray]:
            return {m: np.array([table[m, N][name] / scale for N in widths]) for m in methods
                    if all(table[m, N][name] is not None for N in widths)}

        data_ = RegimeData(np.array(widths), np.array([L * P / N for N in widths]), column("log_evidence", P),
                           column("log_evidence_se", P), column("test_error"),
                           f"{data}, P = {P}, L = {L}, noise variance {noise}")
        files.append(plot_regimes(data_, out / f"regimes_{_slug(data, P, L, noise)}.png"))
    groups = {}
    for row in rows:
        groups.setdefault((row["data"], row["depth"], row["width"], row["noise"]), []).append(row)
    for (data, L, N, noise), members in groups.items():
        sizes = sorted({r["n_train"] for r in members})
        if len(sizes) < 2:
            continue
        table = {(r["method"], r["n_train"]): r for r in members}
        methods = [m for m in dict.fromkeys(r["method"] for r in members) if all((m, P) in table for P in sizes)]
        curve = Curve("P (training points)", np.array(sizes, dtype=float),
                      {m: np.array([table[m, P]["test_error"] for P in sizes]) for m in methods},
                      {m: np.array([table[m, P]["test_error_se"] for P in sizes]) for m in methods
                       if all(table[m, P]["test_error_se"] is not None for P in sizes)})
        files.append(plot_learning_curves([curve], f"{data}, L = {L}, N = {N}, noise variance {noise}",
                                          out / f"learning_curves_{_slug(data, L, N, noise)}.png"))
    return files


def describe(outcome: Outcome, out: str | Path) -> str:
    """The command line's summary of a run."""
    lines = [f"{outcome.computed + outcome.reused} points: {outcome.computed} computed, {outcome.reused} found in "
             f"{Path(out) / 'points'}", *(f"wrote {path}" for path in outcome.files)]
    return "\n".join(lines)
