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
from ..runtime.gp_posterior import check_condition
from ..runtime.local_map import local_polynomial
from ..symbolic.mean_map import S_aa, S_ab, S_bb, mean_map_expr, mean_part_expr
from .readout import LOG_2PI, Readout, ScaledKernel, gaussian_process
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

    def log_evidence(self, t: np.ndarray, kappa: np.ndarray | None, second: bool) -> Taylor:
        """``G`` with its derivatives in ``theta = (t, kappa)`` (``t`` alone for an odd activation), ``s = e^t``,
        ``c = e^kappa``: the read-out with the ``theta`` as ``Taylor`` variables."""
        L = len(t)
        variables = Taylor.variables(np.concatenate([t] if kappa is None else [t, kappa]), second)
        s = [x.exp() for x in variables[:L]]
        c = s if kappa is None else [x.exp() for x in variables[L:]]
        return self.readout(s, c, predictive=False).log_evidence


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
        self.maps = [(local_polynomial(centred, (S_aa, S_bb, S_ab)), LocalMap.of_polynomial(centred))]
        if not self.odd:
            self.maps.append((local_polynomial(mean_part, (S_aa, S_bb, S_ab)), LocalMap.of_polynomial(mean_part)))

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

    def log_evidence(self, t, kappa, second):
        """``G`` and its derivatives in ``theta = (t, kappa)`` by the adjoint method, in ``O(L P^2)`` memory (carrying
        the Hessian forward as ``Taylor`` matrices would take ``O(n^2 P^2)``). With ``T_l(V) = s_l F(V) + c_l U(V)``
        the layer map (centred part ``F``, mean part ``U``), ``K_l = T_l(K_{l-1})``, ``Gamma_L = dG/dK_L =
        (w w^T - A^-1)/2`` and ``Gamma_{l-1} = J_l^T Gamma_l``:

            dG/dt_l = s_l <Gamma_l, F(K_{l-1})>,      dG/dkappa_l = c_l <Gamma_l, U(K_{l-1})>,
            d2G/dtheta_i dtheta_j = d2G/dK_L^2 [X_i, X_j] + sum_l <Gamma_l, source_l,ij>,

        ``X_i`` the tangents ``dK_l/dtheta_i`` carried forward and ``source_l`` the second-order part of ``T_l``: its
        curvature ``H_l[X_i, X_j]``, the parameter-Jacobian terms ``s_l J_F[X_j]`` (``i = t_l``) and ``s_l F``
        (``i = j = t_l``), likewise for ``kappa_l`` with ``c_l`` and ``U``.
        """
        P, L = self.n_train, len(t)
        s = np.exp(t)
        c = s if kappa is None else np.exp(kappa)
        n = L if kappa is None else 2 * L
        inputs = []
        K = self.S0[:P, :P]
        for l in range(L):
            inputs.append(K)
            K = self._layer(K, s[l], c[l])
        lam, V = np.linalg.eigh(K + self.sigma2 * np.eye(P))
        check_condition(lam, self.sigma2)
        W = (V / lam) @ V.T
        w = W @ self.y
        value = -0.5 * (self.y @ w + np.sum(np.log(lam)) + P * LOG_2PI)
        gamma = 0.5 * (np.outer(w, w) - W)
        adjoints: list[np.ndarray] = [gamma] * L
        grad = np.zeros(n)
        for l in reversed(range(L)):
            adjoints[l] = gamma
            values, weights = self._parts(inputs[l], 1)
            grad[l] = s[l] * np.sum(gamma * values[0])
            if kappa is not None:
                grad[L + l] = c[l] * np.sum(gamma * values[1])
            gamma = _adjoint_jacobian(gamma, _combined(weights, (s[l], c[l]), 1))
        if not second:
            return Taylor(np.asarray(value), grad, None)

        hess = np.zeros((n, n))
        X = np.zeros((n, P, P))  # tangents of the current layer's input
        for l in range(L):
            gamma = adjoints[l]
            values, weights = self._parts(inputs[l], 2)
            scales = (s[l], c[l])
            hess += _curvature(gamma, _combined(weights, scales, 2), X)
            X_next = _apply_jacobian(X, _combined(weights, scales, 1))
            for k, index in enumerate([l] if kappa is None else [l, L + l]):  # theta_index = log scales[k]
                single = [w if j == k else {} for j, w in enumerate(weights)]
                mixed = np.einsum("ab,iab->i", _adjoint_jacobian(gamma, _combined(single, scales, 1)), X)
                hess[index] += mixed
                hess[:, index] += mixed
                hess[index, index] += scales[k] * np.sum(gamma * values[k])
                X_next[index] += scales[k] * values[k]
            X = X_next
        # the read-out's own second order on the tangents of K_L: -u_i.A^-1 u_j + tr(A^-1 X_i A^-1 X_j)/2
        u = X @ w
        rotated = np.einsum("pa,ipq,qb->iab", V, X, V, optimize=True) / np.sqrt(np.outer(lam, lam))
        flat = rotated.reshape(n, -1)
        hess += -u @ W @ u.T + 0.5 * flat @ flat.T
        return Taylor(np.asarray(value), grad, 0.5 * (hess + hess.T))

    def _layer(self, K: np.ndarray, s: float, c: float) -> np.ndarray:
        out = s * self.maps[0][0].apply(K)
        return out if self.odd else out + c * self.maps[1][0].apply(K)

    def _parts(self, V: np.ndarray, degree: int) -> tuple[list[np.ndarray], list[dict[tuple[int, int, int], np.ndarray]]]:
        """The centred and mean parts ``F(V)``, ``U(V)`` (the latter for non-odd activations) and their Taylor
        coefficients ``|beta| <= degree`` at ``V``."""
        return ([polynomial.apply(V) for polynomial, _ in self.maps],
                [local.weights(V, degree) for _, local in self.maps])


def _combined(weights: list[dict[tuple[int, int, int], np.ndarray]], scales: tuple[float, float], degree: int
              ) -> dict[tuple[int, int, int], np.ndarray]:
    """The coefficients ``|beta| = degree`` of ``s F + c U`` from those of ``F`` and ``U``."""
    out: dict[tuple[int, int, int], np.ndarray] = {}
    for scale, part in zip(scales, weights):
        for beta, w in part.items():
            if sum(beta) == degree:
                out[beta] = out[beta] + scale * w if beta in out else scale * w
    return out


def _apply_jacobian(X: np.ndarray, weights: dict[tuple[int, int, int], np.ndarray]) -> np.ndarray:
    """``(J X)_ab = c^(0,0,1)_ab X_ab + c^(1,0,0)_ab X_aa + c^(0,1,0)_ab X_bb`` on a stack of matrices."""
    parts = _components(X)
    out = np.zeros(X.shape)
    for beta, w in weights.items():
        out += w * parts[beta.index(1)]
    return out


def _adjoint_jacobian(gamma: np.ndarray, weights: dict[tuple[int, int, int], np.ndarray]) -> np.ndarray:
    """``J^T Gamma`` for ``<Gamma, J X> = <J^T Gamma, X>`` over symmetric ``X``: ``Gamma c^(0,0,1)`` off the diagonal
    and, on it, the row sums of ``Gamma c^(1,0,0)`` and the column sums of ``Gamma c^(0,1,0)``."""
    zero = np.zeros_like(gamma)
    out = gamma * weights.get((0, 0, 1), zero)
    diagonal = (gamma * weights.get((1, 0, 0), zero)).sum(axis=1) + (gamma * weights.get((0, 1, 0), zero)).sum(axis=0)
    out[np.diag_indices_from(out)] += diagonal
    return out


def _curvature(gamma: np.ndarray, weights: dict[tuple[int, int, int], np.ndarray], X: np.ndarray) -> np.ndarray:
    """``<Gamma, H[X_i, X_j]>`` for all pairs, ``H`` the second-order part of a local map with coefficients ``weights``
    (``|beta| = 2``): each ``beta = e_p + e_q`` contributes ``sum_ab (Gamma c^beta)_ab (X_i,p X_j,q + X_j,p X_i,q)``,
    a matrix product over the entries (``p``, ``q`` among ``X_aa``, ``X_bb``, ``X_ab``)."""
    n = len(X)
    D = np.diagonal(X, axis1=1, axis2=2)  # (n, P)
    flat = X.reshape(n, -1)
    out = np.zeros((n, n))
    for beta, w in weights.items():
        Z = gamma * w
        p, q = [axis for axis, k in enumerate(beta) for _ in range(k)]
        if (p, q) == (0, 0):
            term = (D * Z.sum(axis=1)) @ D.T
        elif (p, q) == (1, 1):
            term = (D * Z.sum(axis=0)) @ D.T
        elif (p, q) == (0, 1):
            term = D @ Z @ D.T
        elif (p, q) == (0, 2):
            term = D @ np.einsum("ab,jab->ja", Z, X).T
        elif (p, q) == (1, 2):
            term = D @ np.einsum("ab,jab->jb", Z, X).T
        else:
            term = (flat * Z.ravel()) @ flat.T
        out += term + term.T
    return out


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
    first = {beta: w for beta, w in weights.items() if sum(beta) == 1}
    hess = None
    if K.second:
        hess = _apply_jacobian(K.hess, first)
        grads = _components(K.grad)
        for beta, w in weights.items():
            if sum(beta) == 2:
                p, q = [axis for axis, k in enumerate(beta) for _ in range(k)]
                cross = grads[p][:, None] * grads[q][None, :]
                hess += w * (cross + np.swapaxes(cross, 0, 1))
    return Taylor(value, _apply_jacobian(K.grad, first), hess)
