"""Datasets that ship with packages (no download): scikit-learn's handwritten digits, and synthetic teachers.

Each returns ``X, y, X_test, y_test``: inputs of shape ``(P, N0)`` and ``(T, N0)`` with ``|x|^2/N0`` of order one (the
scale at which the shaped network's kernel is of order one), and targets.

    X, y, X_test, y_test = perturbo.datasets.digits(classes=(0, 1), n_train=200, n_test=100, seed=0)
    X, y, X_test, y_test = perturbo.datasets.linear_teacher(n_train=40, n_test=40, dimension=60, noise=0.3)
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .validation import is_integer, check_count, check_finite_real, check_seed

PARITY = "even-odd"


def digits(classes: Sequence[int] | str = (0, 1), n_train: int = 100, n_test: int = 100, seed: int = 0
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A binary task on the 8x8 handwritten digits bundled with scikit-learn (1797 images, ``N0 = 64``).

    ``classes=(a, b)``: images of digit ``a`` (target ``+1``) against digit ``b`` (target ``-1``), about 180 of
    each; ``classes="even-odd"``: all ten digits, even ``+1`` and odd ``-1``. The images are shuffled with ``seed``
    and split; the mean image of the whole collection is subtracted (a fixed vector: the training set's own mean would
    make its inputs linearly dependent) and every input is put on the sphere ``|x|^2 = N0`` (a standardisation pixel
    by pixel would blow the rare pixels up to many standard deviations, where a shaped network's kernel explodes).
    """
    n_train, n_test, seed = check_count(n_train, "n_train", 1), check_count(n_test, "n_test", 0), check_seed(seed)
    images, targets = _digits_task(classes)
    if n_train + n_test > len(targets):
        raise ValueError(f"the task {classes!r} has {len(targets)} images: ask for n_train + n_test <= {len(targets)}, "
                         f"got {n_train} + {n_test}")
    order = np.random.default_rng(seed).permutation(len(targets))[: n_train + n_test]
    images, targets = images[order], targets[order]
    norms = np.linalg.norm(images, axis=1, keepdims=True)
    inputs = images * np.sqrt(images.shape[1]) / np.where(norms > 0, norms, 1.0)
    return inputs[:n_train], targets[:n_train], inputs[n_train:], targets[n_train:]


def _digits_task(classes: Sequence[int] | str) -> tuple[np.ndarray, np.ndarray]:
    """The task's images (the collection's mean image subtracted) and targets, in the collection's order."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ValueError("the digits dataset needs scikit-learn: pip install 'perturbo[datasets]'") from None
    bunch = load_digits()
    images, labels = bunch.data.astype(float), bunch.target
    images = images - images.mean(axis=0)
    if isinstance(classes, str):
        if classes != PARITY:
            raise ValueError(f"classes must be a pair of digits such as (0, 1) or {PARITY!r}, got {classes!r}")
        chosen = np.ones(len(labels), dtype=bool)
        targets = np.where(labels % 2 == 0, 1.0, -1.0)
    else:
        pair = tuple(classes)
        if len(pair) != 2 or not all(is_integer(c) and 0 <= c <= 9 for c in pair) or pair[0] == pair[1]:
            raise ValueError(f"classes must be two different digits from 0 to 9, such as (0, 1), got {classes!r}")
        chosen = np.isin(labels, pair)
        targets = np.where(labels == pair[0], 1.0, -1.0)
    return images[chosen], targets[chosen]


def digits_count(classes: Sequence[int] | str = (0, 1)) -> int:
    """How many images the task has (``digits`` splits them into training and test points)."""
    return len(_digits_task(classes)[1])


def linear_teacher(n_train: int = 40, n_test: int = 40, dimension: int = 60, noise: float = 0.3, seed: int = 0
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The noisy linear teacher (Hanin & Zlokapa's deep linear data model): ``x ~ N(0, I_N0)`` and
    ``y = w.x / sqrt(N0) + noise * N(0, 1)`` with ``w ~ N(0, I_N0)``, for the training and the test points."""
    n_train, n_test = check_count(n_train, "n_train", 1), check_count(n_test, "n_test", 0)
    dimension, seed = check_count(dimension, "dimension", 1), check_seed(seed)
    noise = check_finite_real(noise, "noise")
    rng = np.random.default_rng(seed)
    teacher = rng.normal(size=dimension)
    X = rng.normal(size=(n_train + n_test, dimension))
    y = X @ teacher / np.sqrt(dimension) + noise * rng.normal(size=n_train + n_test)
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]
