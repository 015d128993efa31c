"""Datasets for the command line: user files (CSV or NPZ), the packaged tasks of ``perturbo.datasets``, the demo.

CSV: a header row; the column named ``y`` holds the targets, every other column
is an input coordinate; rows whose ``y`` is empty are test inputs.
NPZ: arrays ``X`` (P, N0), ``y`` (P,) and optionally ``X_test`` (T, N0) and its targets ``y_test`` (T,).
``digits:CLASSES[:N_TRAIN[:N_TEST[:SEED]]]``: scikit-learn's handwritten digits (``perturbo.datasets.digits``),
``CLASSES`` two digits such as ``0,1`` or ``even-odd``; 100 training and 100 test images by default.
"""
from __future__ import annotations

import csv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Dataset:
    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray | None
    y_test: np.ndarray | None = None  # targets of the test inputs, when known


def demo_dataset() -> Dataset:
    """Three training points and two test points in ``N0 = 10`` dimensions, ``|x|^2/N0 ~ 0.5``."""
    rng = np.random.default_rng(2024)
    X = np.sqrt(0.5) * rng.normal(size=(5, 10))
    y = np.tanh(X[:3] @ rng.normal(size=10) / np.sqrt(10))
    return Dataset(X=X[:3], y=y, X_test=X[3:])


def load_dataset(path: str | Path) -> Dataset:
    """Read a ``.csv`` or ``.npz`` file, or make a ``digits:...`` task; ``ValueError`` with the reason when it cannot be
    used."""
    if str(path).startswith("digits:"):
        return _digits(str(path))
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"data file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _load_npz(path)
    if suffix == ".csv":
        return _load_csv(path)
    raise ValueError(f"data file {str(path)!r}: unknown format {suffix!r}; use .csv or .npz")


def _load_npz(path: Path) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile):
        raise ValueError(f"data file {str(path)!r} is not a readable .npz archive of numeric arrays (np.savez)") from None
    missing = {"X", "y"} - arrays.keys()
    if missing:
        raise ValueError(f"data file {str(path)!r} lacks the arrays {sorted(missing)}; it needs X, y (and optionally X_test)")
    for key, value in arrays.items():
        if value.dtype.kind not in "biuf":
            raise ValueError(f"data file {str(path)!r}: array {key} has dtype {value.dtype}, expected numbers")
    if "y_test" in arrays and "X_test" not in arrays:
        raise ValueError(f"data file {str(path)!r} has y_test but no X_test")
    return Dataset(X=arrays["X"].astype(float), y=arrays["y"].astype(float), X_test=_float_or_none(arrays.get("X_test")),
                   y_test=_float_or_none(arrays.get("y_test")))


def digits_spec(spec: str) -> tuple[tuple[int, ...] | str, list[int]]:
    """``digits:CLASSES[:N_TRAIN[:N_TEST[:SEED]]]`` read: the classes and the counts that follow them."""
    from .datasets import PARITY

    fields = spec.split(":")[1:]
    try:
        classes = fields[0] if fields[0] == PARITY else tuple(int(c) for c in fields[0].split(","))
        counts = [int(f) for f in fields[1:]]
    except ValueError:
        raise ValueError(f"data {spec!r}: write digits:CLASSES[:N_TRAIN[:N_TEST[:SEED]]], for example digits:0,1:200:100 "
                         f"or digits:{PARITY}") from None
    if len(counts) > 3:
        raise ValueError(f"data {spec!r}: at most N_TRAIN, N_TEST and SEED follow the classes")
    return classes, counts


def _digits(spec: str) -> Dataset:
    from .datasets import digits

    classes, counts = digits_spec(spec)
    X, y, X_test, y_test = digits(classes, *counts)
    return Dataset(X=X, y=y, X_test=X_test if len(X_test) else None, y_test=y_test if len(y_test) else None)


def _float_or_none(a: np.ndarray | None) -> np.ndarray | None:
    return None if a is None else a.astype(float)


def _load_csv(path: Path) -> Dataset:
    try:
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"data file {str(path)!r} could not be read as CSV: {exc}") from None
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if len(rows) < 2:
        raise ValueError(f"data file {str(path)!r} needs a header row and at least one data row")
    header = [name.strip() for name in rows[0]]
    if "y" not in header:
        raise ValueError(f"data file {str(path)!r}: the header needs a column named 'y' (the targets)")
    target = header.index("y")
    inputs, targets, test_inputs = [], [], []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ValueError(f"data file {str(path)!r}, line {line}: {len(row)} fields, the header has {len(header)}")
        try:
            x = [float(cell) for i, cell in enumerate(row) if i != target]
        except ValueError:
            raise ValueError(f"data file {str(path)!r}, line {line}: an input is not a number") from None
        if row[target].strip() == "":
            test_inputs.append(x)
            continue
        try:
            targets.append(float(row[target]))
        except ValueError:
            raise ValueError(f"data file {str(path)!r}, line {line}: y = {row[target]!r} is not a number") from None
        inputs.append(x)
    if not inputs:
        raise ValueError(f"data file {str(path)!r} has no training rows (rows with a value of y)")
    return Dataset(X=np.array(inputs), y=np.array(targets), X_test=np.array(test_inputs) if test_inputs else None)
