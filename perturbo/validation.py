"""Input checks shared by the API and the CLI.

Every check raises ``ValueError`` with a message that says what to change, and
returns a clean copy (float arrays, ints) so that callers never see raw input.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np


def is_integer(value: object) -> bool:
    """An integer of any kind (Python, NumPy), but not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_depth(depth: object) -> int:
    if not is_integer(depth) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1 (the number of hidden layers), got {depth!r}")
    return int(depth)


def check_widths(width: object, depth: int) -> tuple[int, ...]:
    """An int (all layers) or a sequence of ``depth`` ints, each >= 1."""
    if is_integer(width):
        widths = (width,) * depth
    elif isinstance(width, Sequence) and not isinstance(width, str):
        widths = tuple(width)
        if len(widths) != depth:
            raise ValueError(f"width lists {len(widths)} layers but depth is {depth}: give one width per hidden layer")
    else:
        raise ValueError(f"width must be an integer or a list of {depth} integers, got {width!r}")
    for n in widths:
        if not is_integer(n) or n < 1:
            raise ValueError(f"every width must be an integer >= 1, got {n!r}")
    return tuple(int(n) for n in widths)


def check_finite_real(value: object, name: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return float(value)


def check_beta(beta: object) -> float:
    """Inverse temperature: ``0 < beta <= inf`` (``math.inf`` is Bayesian interpolation)."""
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or math.isnan(beta) or beta <= 0:
        raise ValueError(f"beta must be > 0 (use math.inf for zero temperature), got {beta!r}")
    return float(beta)


def check_order(order: object, max_order: int) -> int:
    if not is_integer(order) or not 0 <= order <= max_order:
        raise ValueError(
            f"order must be an integer from 0 to {max_order} (the highest power of 1/width kept), got {order!r}"
        )
    return int(order)


MAX_SAMPLES = 10**9
"""Monte Carlo keeps one log-weight per sample: 8 GB at this limit."""


def check_samples(samples: object) -> int:
    if not is_integer(samples) or not 2 <= samples <= MAX_SAMPLES:
        raise ValueError(
            f"samples must be an integer from 2 to {MAX_SAMPLES:.0e} (larger runs: average several seeds), got {samples!r}"
        )
    return int(samples)


def check_count(value: object, name: str, minimum: int) -> int:
    """An integer (not a bool) ``>= minimum``: seeds, trials, points along a line."""
    if not is_integer(value) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_seed(seed: object) -> int:
    return check_count(seed, "seed", 0)


def _as_float_array(a: object, name: str, ndim: int) -> np.ndarray:
    try:
        kind = np.asarray(a).dtype.kind
    except ValueError:  # ragged nested lists
        kind = "O"
    if kind not in "biuf":
        what = {"c": "complex numbers", "U": "strings", "S": "bytes"}.get(kind, "objects that are not numbers")
        raise ValueError(f"{name} must be an array of real numbers, got {what}")
    arr = np.array(a, dtype=float)
    if arr.ndim != ndim:
        shape = "(P, N0)" if name == "X" else "(T, N0)" if name == "X_test" else "(P,)"
        raise ValueError(f"{name} must be {ndim}-D with shape {shape}, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: give at least one data point")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values: clean the data first")
    return arr


def check_data(
    X: object, y: object, X_test: object | None, beta: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Shapes ``X (P, N0)``, ``y (P,)``, ``X_test (T, N0)``; finite values; ``P < N0`` at ``beta = inf``."""
    X = _as_float_array(X, "X", 2)
    y = _as_float_array(y, "y", 1)
    P, N0 = X.shape
    if y.shape != (P,):
        raise ValueError(f"y must have shape ({P},) to match X with {P} rows, got {y.shape}")
    if X_test is not None:
        X_test = _as_float_array(X_test, "X_test", 2)
        if X_test.shape[1] != N0:
            raise ValueError(f"X_test must have {N0} columns like X, got shape {X_test.shape}")
    if math.isinf(beta) and P >= N0:
        raise ValueError(
            f"at zero temperature (beta = inf) the theory needs fewer training points than input dimensions, "
            f"got P = {P} >= N0 = {N0}: use a finite beta or fewer points"
        )
    return X, y, X_test
