"""The Gaussian-process read-out of a renormalised kernel, with its derivatives in the order parameters.

For a kernel ``K`` on the ``P`` training points and ``T`` test points and ``A = K_DD + sigma2 I``:

    G = log N(y; 0, A),    m = K_xD A^-1 y,    C = K_xx - K_xD A^-1 K_Dx.

``gaussian_process`` takes ``K`` as a ``Taylor`` (any kernel, derivatives in a few parameters) and returns
``G``, ``m`` and ``C`` with theirs, from one eigendecomposition of ``A``: with ``w = A^-1 y``,
``R = K_xD A^-1``, ``u_i = A_i w``, ``z_i = A^-1 u_i``, ``B_i = A^-1 A_i`` and ``X_i = (K_xD)_i - R A_i``,

    G_i  = (1/2) w.A_i w - (1/2) tr(A^-1 A_i)
    G_ij = (1/2) w.A_ij w - (1/2) tr(A^-1 A_ij) - u_i.A^-1 u_j + (1/2) tr(B_i B_j)
    m_i  = (K_xD)_i w - R u_i
    m_ij = (K_xD)_ij w - (K_xD)_i z_j - (K_xD)_j z_i + R (A_i z_j + A_j z_i) - R A_ij w
    C_i  = (K_xx)_i - X_i R^T - R X_i^T - R A_i R^T
    C_ij = (K_xx)_ij - (K_xD)_ij R^T - R (K_Dx)_ij + R A_ij R^T - X_i A^-1 X_j^T - X_j A^-1 X_i^T

(``A_i = dA/dtheta_i``, the others likewise). ``ScaledKernel`` is the family of the equivalent Wishart ansatz,
``K(S, c) = S Kc + c mu mu^T`` with ``Kc`` and ``mu`` fixed: in the eigenbasis of ``Kc_DD`` every quantity is a
sum over eigenvalues, so an evaluation costs ``O(P)`` (``O(P T^2)`` for the covariance) after one
eigendecomposition.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..runtime.gp_posterior import check_condition
from .taylor import Taylor

LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class Readout:
    """``G = log N(y; 0, A)``, the mean ``m`` (``T``) and covariance ``C`` (``T x T``) on the test points (``None``
    without them), each a ``Taylor`` in the same parameters."""

    log_evidence: Taylor
    mean: Taylor | None
    cov: Taylor | None


def gaussian_process(K: Taylor, n_train: int, y: np.ndarray, sigma2: float, predictive: bool) -> Readout:
    """The read-out of a kernel carried with its derivatives (module docstring); ``K`` on the training points first."""
    P = n_train
    second = K.second
    lam, V = np.linalg.eigh(K.value[:P, :P] + sigma2 * np.eye(P))
    check_condition(lam, sigma2)
    W = (V / lam) @ V.T
    w = W @ y
    A = K.grad[:, :P, :P]
    u = A @ w  # (n, P): A_i w
    value = -0.5 * (y @ w + np.sum(np.log(lam)) + P * LOG_2PI)
    grad = 0.5 * (u @ w) - 0.5 * np.einsum("ab,iab->i", W, A)
    hess = None
    if second:
        A2 = K.hess[:, :, :P, :P]
        B = W @ A
        hess = (0.5 * np.einsum("ijab,a,b->ij", A2, w, w) - 0.5 * np.einsum("ijab,ab->ij", A2, W)
                - u @ W @ u.T + 0.5 * np.einsum("iab,jba->ij", B, B))
    log_evidence = Taylor(np.asarray(value), grad, hess)
    if not predictive or len(K.value) == P:
        return Readout(log_evidence, None, None)

    KxD, Kxx = K.value[P:, :P], K.value[P:, P:]
    dxD, dxx = K.grad[:, P:, :P], K.grad[:, P:, P:]
    R = KxD @ W
    X = dxD - R @ A  # (n, T, P)
    mean = Taylor(KxD @ w, dxD @ w - u @ R.T, None)
    RAR = R @ A @ R.T
    XR = X @ R.T
    cov_grad = dxx - XR - np.swapaxes(XR, 1, 2) - RAR
    cov = Taylor(Kxx - R @ KxD.T, cov_grad, None)
    if second:
        d2xD, d2xx = K.hess[:, :, P:, :P], K.hess[:, :, P:, P:]
        z = u @ W  # (n, P): A^-1 A_i w
        dxD_z = np.einsum("itp,jp->ijt", dxD, z)
        Az = np.einsum("iab,jb->ija", A, z)  # A_i z_j
        mean_hess = (d2xD @ w - dxD_z - np.swapaxes(dxD_z, 0, 1) + (Az + np.swapaxes(Az, 0, 1)) @ R.T
                     - (A2 @ w) @ R.T)
        mean = Taylor(mean.value, mean.grad, mean_hess)
        XWX = np.einsum("itp,jsp->ijts", X @ W, X)
        cov_hess = (d2xx - d2xD @ R.T - np.swapaxes(d2xD @ R.T, 2, 3) + R @ A2 @ R.T
                    - XWX - np.swapaxes(XWX, 0, 1))
        cov = Taylor(cov.value, cov.grad, cov_hess)
    return Readout(log_evidence, mean, cov)


@dataclass(frozen=True)
class ScaledKernel:
    """The kernels ``K(S, c) = S Kc + c mu mu^T`` on all points, in the eigenbasis ``Kc_DD = U diag(lam) U^T``:
    ``y_hat = U^T y``, ``mu_hat = U^T mu_D``, ``k_hat = U^T Kc_Dx``.

    With ``D = S lam + sigma2``, ``rho = mu_hat.D^-1 mu_hat``, ``tau = mu_hat.D^-1 y_hat``, ``gamma = c/(1 + c rho)``
    and ``v = mu_x - S k_hat^T D^-1 mu_hat`` (Sherman-Morrison for the rank-one ``c mu mu^T``):

        G = -(1/2) [y_hat.D^-1 y_hat - gamma tau^2 + sum log D + log(1 + c rho) + P log 2 pi],
        m = S k_hat^T D^-1 y_hat + gamma tau v,
        C = S Kc_xx - S^2 k_hat^T D^-1 k_hat + gamma v v^T.
    """

    Kc: np.ndarray  # (M, M)
    mu: np.ndarray  # (M,); zero for an odd activation
    n_train: int
    sigma2: float
    lam: np.ndarray
    y_hat: np.ndarray
    mu_hat: np.ndarray
    k_hat: np.ndarray  # (P, T)

    @classmethod
    def of(cls, Kc: np.ndarray, mu: np.ndarray, n_train: int, y: np.ndarray, sigma2: float) -> ScaledKernel:
        """One eigendecomposition of ``Kc_DD``; ``ValueError`` when ``Kc_DD + sigma2 I`` is singular."""
        P = n_train
        lam, U = np.linalg.eigh(Kc[:P, :P])
        check_condition(lam + sigma2, sigma2)
        return cls(Kc, mu, P, sigma2, lam, U.T @ y, U.T @ mu[:P], U.T @ Kc[:P, P:])

    @property
    def odd(self) -> bool:
        return not np.any(self.mu)

    def kernel(self, S: float, c: float) -> np.ndarray:
        return S * self.Kc + c * np.outer(self.mu, self.mu)

    def readout(self, S: Taylor, c: Taylor | float, predictive: bool, covariance: bool = True) -> Readout:
        """``G``, ``m`` and ``C`` (or, without ``covariance``, only its diagonal as ``cov``) at ``(S, c)``."""
        P = self.n_train
        D = S * self.lam + self.sigma2
        inverse = D.reciprocal()
        G = inverse.dot(self.y_hat**2) + D.log().sum() + P * LOG_2PI
        if not self.odd:
            rho, tau = inverse.dot(self.mu_hat**2), inverse.dot(self.mu_hat * self.y_hat)
            gamma = c * (c * rho + 1.0).reciprocal()
            G = G - gamma * tau * tau + (c * rho + 1.0).log()
        G = G * -0.5
        if not predictive or self.k_hat.shape[1] == 0:
            return Readout(G, None, None)
        mean = S * inverse.dot(self.k_hat * self.y_hat[:, None])
        K_xx = self.Kc[P:, P:]
        if covariance:
            quadratic = inverse.linear(lambda d: np.swapaxes(self.k_hat * d[..., :, None], -1, -2) @ self.k_hat)
            cov = S * K_xx - S * S * quadratic
        else:
            cov = S * np.diagonal(K_xx).copy() - S * S * inverse.dot(self.k_hat**2)
        if not self.odd:
            v = (S * inverse.dot(self.k_hat * self.mu_hat[:, None])) * -1.0 + self.mu[P:]
            mean = mean + gamma * tau * v
            cov = cov + gamma * (v[:, None] * v[None, :] if covariance else v * v)
        return Readout(G, mean, cov)
