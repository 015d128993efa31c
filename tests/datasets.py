"""Small random datasets in the regime the theory is built for."""
from __future__ import annotations

import numpy as np


def make_data(P: int = 4, N0: int = 8, T: int = 2, seed: int = 0, scale: float = 1.0):
    """Inputs with ``|x|^2/N0 ~ scale^2`` and targets of order one."""
    rng = np.random.default_rng(seed)
    X = scale * rng.normal(size=(P, N0))
    y = rng.normal(size=P)
    X_test = scale * rng.normal(size=(T, N0))
    return X, y, X_test
