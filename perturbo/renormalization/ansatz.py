"""The two ansätze: the renormalised kernel as a function of the order parameters.

Each hidden layer ``l`` has a scale ``s_l`` (the order parameter, ``1`` at infinite width) and, for a non-odd
activation, a second one ``c_l = 1/(1 + Q_l)`` for the mean part of its features (Baglioni et al. 2024). With
``mu_l(a) = E[phi(z_a)]`` the features' mean and ``M_l = sigma_w2 mu_l mu_l^T`` (zero for an odd ``phi``):

- **Equivalent Wishart ansatz** (``Wishart``): the network's own NNGP kernel ``K = K_L`` and mean part
  ``M = M_L`` (from ``K_{L-1}``), renormalised layer by layer as ``K <- s_l (K - M) + c_l M``:

      K^R = S (K_L - M_L) + C M_L,    S = prod_l s_l,    C = C_L,  C_0 = 1,  C_l = s_l (C_{l-1} - 1) + c_l.

  For the deep linear network this is the exact law of the output given the scales (``f = sqrt(s) g``).
- **Nested ansatz** (``Nested``, Pacelli et al. 2023): every layer renormalises its own output,

      K^R_0 = S_0,    K^R_l = s_l (m(K^R_{l-1}) - M(K^R_{l-1})) + c_l M(K^R_{l-1}),

  with ``m`` the layer map. At ``psi = 0`` (``m`` linear) it is the Wishart ansatz; so it is with one layer.

``readout`` takes the ``s_l`` and ``c_l`` as numbers or ``Taylor`` variables, so the same code gives the value,
gradient and Hessian of ``G = log N(y; 0, K^R_DD + sigma2 I)`` and of the predictor's mean and covariance.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import sympy as sp

from ..compiler.layer_maps import LocalMap
from ..runtime.local_map import LocalPolynomial
from ..symbolic.mean_map import S_aa, S_ab, S_bb, mean_map_expr, mean_part_expr
from .readout import Readout, ScaledKernel, gaussian_process
from .taylor import Taylor

Parameter = Taylor | float


class Ansatz(ABC):
    """The renormalised kernel ``K^R(s, c)`` on the ``P`` training and ``T`` test points, and its read-out."""

    name: str
    widths: tuple[int, ...]
    odd: bool  # no mean part: the c_l do not enter
    n_train: int
    y: np.ndarray
    sigma2: float

    @abstractmethod
    def readout(self, s: Sequence[Parameter], c: Sequence[Parameter], predictive: bool, covariance: bool = True
                ) -> Readout:
        """``G``, mean and covariance (its diagonal without ``covariance``) of the GP with kernel ``K^R(s, c)``."""

    @abstractmethod
    def kernel(self, s: Sequence[float], c: Sequence[float]) -> np.ndarray:
        """``K^R`` on all ``M = P + T`` points."""


def _as_taylor(x: Taylor | np.ndarray | float) -> Taylor:
    return x if isinstance(x, Taylor) else Taylor.constant(x, 0, False)


class Wishart(Ansatz):
    name = "wishart"

    def __init__(self, family: ScaledKernel, widths: tuple[int, ...], y: np.ndarray) -> None:
        self.family, self.widths, self.y = family, widths, y
        self.odd, self.n_train, self.sigma2 = family.odd, family.n_train, family.sigma2

    @staticmethod
    def scale_and_mean_weight(s: Sequence[Parameter], c: Sequence[Parameter]) -> tuple[Parameter, Parameter]:
        """``S = prod s_l`` and ``C_L`` (``C_0 = 1``, ``C_l = s_l (C_{l-1} - 1) + c_l``)."""
        S, C = 1.0, 1.0
        for s_l, c_l in zip(s, c):
            S, C = s_l * S, s_l * (C - 1.0) + c_l
        return S, C

    def readout(self, s, c, predictive, covariance=True):
        S, C = self.scale_and_mean_weight(s, c)
        return self.family.readout(_as_taylor(S), C, predictive, covariance)

    def kernel(self, s, c):
        return self.family.kernel(*self.scale_and_mean_weight(s, c))


class Nested(Ansatz):
    name = "nested"

    def __init__(self, S0: np.ndarray, phi: sp.Expr, sigma_w2: sp.Rational, widths: tuple[int, ...], n_train: int,
                 y: np.ndarray, sigma2: float) -> None:
        self.S0, self.widths, self.n_train, self.y, self.sigma2 = S0, widths, n_train, y, sigma2
        mean_part = mean_part_expr(phi, sigma_w2)
        self.odd = mean_part == 0
        centred = mean_map_expr(phi, sigma_w2) - mean_part
        self.maps = [(LocalPolynomial.of(centred, (S_aa, S_bb, S_ab)), LocalMap.of_polynomial(centred))]
        if not self.odd:
            self.maps.append((LocalPolynomial.of(mean_part, (S_aa, S_bb, S_ab)), LocalMap.of_polynomial(mean_part)))

    def chain(self, s: Sequence[Parameter], c: Sequence[Parameter], points: int) -> Taylor | np.ndarray:
        """``K^R_L`` on the first ``points`` points."""
        K: Taylor | np.ndarray = self.S0[:points, :points]
        for s_l, c_l in zip(s, c):
            value = K.value if isinstance(K, Taylor) else K
            parts = [_local_map(polynomial.apply(value), local.weights(value, 2), K) for polynomial, local in self.maps]
            K = s_l * parts[0] if self.odd else s_l * parts[0] + c_l * parts[1]
        return K

    def readout(self, s, c, predictive, covariance=True):
        points = len(self.S0) if predictive else self.n_train
        readout = gaussian_process(_as_taylor(self.chain(s, c, points)), self.n_train, self.y, self.sigma2, predictive)
        if covariance or readout.cov is None:
            return readout
        return Readout(readout.log_evidence, readout.mean, readout.cov.linear(lambda a: np.diagonal(a, 0, -2, -1)))

    def kernel(self, s, c):
        return self.chain(s, c, len(self.S0))


def _components(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``X_aa``, ``X_bb`` and ``X_ab`` of a (stack of) matrices, broadcastable to ``X``'s shape."""
    diagonal = np.diagonal(X, axis1=-2, axis2=-1)
    return diagonal[..., :, None], diagonal[..., None, :], X


def _local_map(value: np.ndarray, weights: dict[tuple[int, int, int], np.ndarray], K: Taylor | np.ndarray
               ) -> Taylor | np.ndarray:
    """``f(K)`` for a local map ``f`` with value ``f(K.value)`` and Taylor coefficients ``weights`` at ``K.value``:

        f(K)_i  = sum_{|beta| = 1} c^beta X_i^beta,
        f(K)_ij = sum_{|beta| = 1} c^beta X_ij^beta + sum_{beta = e_p + e_q} c^beta (X_i,p X_j,q + X_j,p X_i,q),

    ``X`` the derivatives of ``K`` and ``X_p`` its entries ``(X_aa, X_bb, X_ab)``."""
    if not isinstance(K, Taylor):
        return value
    grads = _components(K.grad)
    first = {beta: beta.index(1) for beta in weights if sum(beta) == 1}
    grad = sum(weights[beta] * grads[p] for beta, p in first.items())
    hess = None
    if K.second:
        hesses = _components(K.hess)
        hess = sum(weights[beta] * hesses[p] for beta, p in first.items()) + np.zeros(K.hess.shape)
        for beta, w in weights.items():
            if sum(beta) == 2:
                p, q = [axis for axis, k in enumerate(beta) for _ in range(k)]
                cross = grads[p][:, None] * grads[q][None, :]
                hess += w * (cross + np.swapaxes(cross, 0, 1))
    return Taylor(value, grad + np.zeros(K.grad.shape), hess)
