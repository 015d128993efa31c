"""One pattern's value for a batch of draws: jets through the layer maps, the copies and the read-out.

For a pattern with copies ``c`` (layer ``l_c``, block size ``a_c``) and draws ``g_c ~ N(0, I_M)``
(docs/design.md section 8):

    S_l(delta) = m(S_{l-1}(delta)) + sum_{c at layer l} delta_c xi(S_{l-1}(delta), g_c),    S_0 = K_0,
    xi(S, g)   = sigma_w2 phi(F(S) g) phi(F(S) g)^T - m(S),     F(S) F(S)^T = S  (SampledNetwork.draw),

as jets in the ``delta``s (``jets``). The layer map is its Taylor polynomial around the kernel,
``m(K + X)_ab = m(K)_ab + sum_beta c^beta_ab X_aa^b1 X_bb^b2 X_ab^b3`` (``compiler.layer_maps``),
``phi`` a polynomial in the jet of ``u = F(S) g``. With ``S_L = K_L + E`` and
``A = (K_DD + sigma2 I)^{-1}`` the read-out relative to the Gaussian process is

    log z = -1/2 sum_{j>=1} (-1)^(j+1) tr((A E_DD)^j) / j - 1/2 y^T [(K_DD + sigma2 I + E_DD)^{-1} - A] y,
    (K_DD + sigma2 I + E_DD)^{-1} = sum_j (-A E_DD)^j A                (Neumann series),
    m_x = S_xD (K_DD + sigma2 I + E_DD)^{-1} y,   C = S_xx - S_xD (K_DD + sigma2 I + E_DD)^{-1} S_Dx,

and the pattern's value is the coefficient of ``prod_c delta_c^{a_c}`` in ``z``, ``z m_x`` and
``z (C + m m^T)``. Each draw costs ``O(M^3)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..activation import t
from ..compiler.layer_maps import local_map_of
from ..runtime.gp_posterior import cholesky_of_training_kernel, gp_predict
from .jets import Box, Jet, dot, exp_nilpotent, hadamard_polynomial, matvec, outer, polynomial
from .log_det import log_det
from .patterns import Pattern


@dataclass(frozen=True)
class Readout:
    """The Gaussian-process read-out at the last layer's kernel ``K`` (training points first)."""

    K: np.ndarray
    n_train: int
    y: np.ndarray
    sigma2: float
    A: np.ndarray  # (K_DD + sigma2 I)^{-1}

    @classmethod
    def at(cls, K: np.ndarray, n_train: int, y: np.ndarray, sigma2: float) -> Readout:
        """``ValueError`` (``cholesky_of_training_kernel``) when the training block is singular."""
        inverse = np.linalg.inv(cholesky_of_training_kernel(K[:n_train, :n_train], sigma2))
        return cls(K, n_train, y, sigma2, inverse.T @ inverse)

    def gaussian_process(self) -> tuple[np.ndarray, np.ndarray]:
        """Row 0 of the moments: the GP mean and second moment ``C + m m^T`` on the test points."""
        P, K = self.n_train, self.K
        mean, cov = gp_predict(K[:P, :P], K[P:, :P], K[P:, P:], self.y, self.sigma2)
        return mean, cov + np.outer(mean, mean)

    def values(self, E: Jet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top coefficients of ``z``, ``z m_x``, ``z (C + m m^T)`` for ``S_L = K + E`` (module docstring). ``A E_DD``
        is never formed for the Neumann series (matrix-vector products) and only as ``log_det`` plans it."""
        P, K, A, y = self.n_train, self.K, self.A, self.y
        box = E.box
        E_DD = E.map(lambda e: e[..., :P, :P])
        solved = Jet.constant(box, A @ y)  # (K_DD + sigma2 I + E_DD)^{-1} y
        step = solved
        for _ in range(box.degree):
            step = matvec(E_DD, step).map(lambda v: -(v @ A))
            solved = solved + step
        log_det_jet = log_det(A, E_DD)
        quadratic = dot(Jet.constant(box, y), solved).nonconstant()
        z = exp_nilpotent((log_det_jet + quadratic) * -0.5)
        if len(K) == P:
            return np.asarray(z.top), np.zeros(np.shape(z.top) + (0,)), np.zeros(np.shape(z.top) + (0, 0))
        S_xD = E.map(lambda e: e[..., P:, :P]) + K[P:, :P]
        S_xx = E.map(lambda e: e[..., P:, P:]) + K[P:, P:]
        mean = matvec(S_xD, solved)
        inverse_times = S_xD.map(lambda s: A @ np.swapaxes(s, -1, -2))  # (K_DD + sigma2 I + E_DD)^{-1} S_Dx
        step = inverse_times
        for _ in range(box.degree):
            step = E_DD.times(step, np.matmul).map(lambda m: -(A @ m))
            inverse_times = inverse_times + step
        second = S_xx - S_xD @ inverse_times + outer(mean, mean)
        zm = z.times(mean, lambda a, b: np.expand_dims(a, -1) * b)
        zs = z.times(second, lambda a, b: np.expand_dims(a, (-1, -2)) * b)
        return np.asarray(z.top), np.asarray(zm.top), np.asarray(zs.top)


def _stacked(weights: dict[tuple[int, int, int], np.ndarray], M: int) -> tuple[np.ndarray, np.ndarray]:
    """The layer map's ``c^beta`` as one ``(B, M, M)`` array and the exponents ``beta`` as ``(B, 3)``."""
    betas = sorted(weights)
    stacked = np.array([np.broadcast_to(weights[b], (M, M)) for b in betas]).reshape(len(betas), M, M)
    return np.ascontiguousarray(stacked, dtype=float), np.array(betas, dtype=np.int64).reshape(len(betas), 3)


def _support(box: Box, present: set[tuple[int, ...]], degree: int) -> set[tuple[int, ...]]:
    """The multi-indices a polynomial of ``degree`` in jets supported on ``present`` can reach (within the box)."""
    reached, frontier = set(present), set(present)
    for _ in range(degree - 1):
        frontier = {tuple(a + b for a, b in zip(f, p)) for f in frontier for p in present}
        frontier = {alpha for alpha in frontier if box.contains(alpha)}
        reached |= frontier
    return reached


class SampledNetwork:
    """What pattern values depend on: the activation, ``sigma_w2`` and the kernels ``K_0 .. K_L`` (not the widths)."""

    def __init__(self, phi: sp.Expr, sigma_w2: sp.Rational, kernels: list[np.ndarray], readout: Readout) -> None:
        self.activation = (phi, sigma_w2)
        self.kernels = kernels
        self.readout = readout
        self.sigma_w2 = float(sigma_w2)
        self.phi = [float(c) for c in reversed(sp.Poly(phi, t).all_coeffs())]
        self.weights = self._layer_maps()
        self._factors: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}

    def _layer_maps(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The Taylor coefficients ``c^beta`` of the map from layer ``l - 1`` to ``l``, ``l = 1..L`` (stacked)."""
        local_map = local_map_of(*self.activation)
        return [_stacked(local_map.weights(K), len(K)) for K in self.kernels[:-1]]

    def __getstate__(self) -> dict:
        """Pickled (for a worker) without what the kernels determine: the layer maps' ``B L`` matrices of ``M x M``
        (the bulk: 180 MB for the cubic at ``M = 500``, ``L = 10``) and the Cholesky factors."""
        state = dict(self.__dict__)
        del state["weights"]
        state["_factors"] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.weights = self._layer_maps()

    def factor(self, layer: int, needs_inverse: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """A factor ``C_0 C_0^T = K_layer`` (Cholesky; an eigenvector factor for a singular kernel, which has no jet)
        and ``K_layer^-1`` (``None`` for a singular kernel)."""
        if layer not in self._factors:
            K = self.kernels[layer]
            try:
                C = np.linalg.cholesky(K)
                inverse = np.linalg.inv(C)
                self._factors[layer] = (C, inverse.T @ inverse)
            except np.linalg.LinAlgError:
                lam, Q = np.linalg.eigh(K)
                self._factors[layer] = (Q * np.sqrt(np.clip(lam, 0.0, None)), None)
        C, K_inverse = self._factors[layer]
        if needs_inverse and K_inverse is None:
            raise ValueError(
                f"method='sampled' at this order needs the layer-{layer} kernel on the P + T points to be positive "
                "definite (distinct inputs, P + T <= N0): remove repeated points, predict fewer test points at a time, "
                "or use method='exact'"
            )
        return C, K_inverse

    def mean_map(self, S: Jet, layer: int) -> Jet:
        """``m(S)`` for the map into ``layer``, as its Taylor polynomial around ``K_{layer-1}``:
        ``m(K + X)_ab = m(K)_ab + sum_beta c^beta_ab X_aa^b1 X_bb^b2 X_ab^b3`` (``jets.hadamard_polynomial``)."""
        box, K_next = S.box, self.kernels[layer]
        X = S.nonconstant()
        if not X.coefficients:
            return Jet.constant(box, K_next)
        weights, exponents = self.weights[layer - 1]
        reached = _support(box, set(X.coefficients), int(exponents.sum(axis=1).max(initial=0)))
        support = tuple(alpha for alpha in box.indices if alpha == box.zero or alpha in reached)
        shape = np.broadcast_shapes(*(np.shape(c) for c in X.coefficients.values()))
        stacked = np.zeros((len(support),) + shape)
        for k, alpha in enumerate(support):
            if alpha in X.coefficients:
                stacked[k] = X.coefficients[alpha]
        stacked = stacked.reshape((len(support), -1) + shape[-2:])
        diagonal = np.ascontiguousarray(np.diagonal(stacked, axis1=-2, axis2=-1))
        out = np.empty_like(stacked)
        degree = np.array([sum(alpha) for alpha in support], dtype=np.int64)
        hadamard_polynomial(stacked, diagonal, weights, exponents, box.product_table(support), degree, out)
        coefficients = {alpha: out[k].reshape(shape) for k, alpha in enumerate(support) if k}
        return Jet(box, {box.zero: K_next, **coefficients})

    def draw(self, S: Jet, layer: int, g: np.ndarray) -> Jet:
        """``u = F(S) g ~ N(0, S)`` for ``g ~ N(0, I)`` (``S`` at ``layer``, ``g`` of shape ``(..., M)``), the factor

            F(K + E) = (I + E K^-1)^(1/2) C_0 = sum_k binom(1/2, k) (E K^-1)^k C_0,     C_0 C_0^T = K,

        which squares to ``K + E`` (``(E K^-1)^k K = K (K^-1 E)^k``) and is exact in the jet (``E`` has no constant
        term). Applied to the vector ``C_0 g`` the series is matrix-vector products: ``O(M^2)`` per jet coefficient,
        where a Cholesky factor's jet costs ``O(M^3)``. Any smooth factor gives the same expectation; with this one
        term 2's standard error came out 1.3-1.5x smaller than with Cholesky jets on the same draws at ``P = 60-200``
        (docs/guide.md, "The cost of order 2 at large P").
        """
        E = S.nonconstant()
        C0, K_inverse = self.factor(layer, needs_inverse=bool(E.coefficients))
        term = Jet.constant(S.box, g @ C0.T)  # binom(1/2, k) (E K^-1)^k C_0 g, k = 0
        u = term
        for k in range(1, S.box.degree + 1 if E.coefficients else 1):  # no E: a singular K has no inverse
            term = matvec(E, term.map(lambda v: v @ K_inverse)) * ((1.5 - k) / k)
            u = u + term
        return u

    def noise(self, S: Jet, m_S: Jet, layer: int, g: np.ndarray) -> Jet:
        """``xi(S, g) = sigma_w2 phi(u) phi(u)^T - m(S)``, ``u = F(S) g`` (``draw``), for the copies of ``layer``
        (``S`` at ``layer - 1``)."""
        activated = polynomial(self.draw(S, layer - 1, g), self.phi)
        return outer(activated, activated) * self.sigma_w2 - m_S

    def values(self, pattern: Pattern, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The pattern's value per draw; ``draws`` is ``(copies, D, M)``."""
        box = Box(pattern.top)
        first = pattern.copies[0][0]
        S = Jet.constant(box, self.kernels[first - 1])
        for layer in range(first, len(self.kernels)):
            m_S = self.mean_map(S, layer)
            new = m_S
            for c, (copy_layer, _) in enumerate(pattern.copies):
                if copy_layer == layer:
                    new = new + self.noise(S, m_S, layer, draws[c]).shifted(c)
            S = new
        return self.readout.values(S.nonconstant())
