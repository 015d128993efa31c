"""The continuum limit of the default cubic at first order (docs/design.md section 9): ``L -> inf``, ``L/N`` fixed.

With ``sigma_w2 = 1`` and depth fraction ``t = l/L`` the infinite-width kernel flows in closed form,

    Phi_tau(S)_ab = S_ab g(S_aa) g(S_bb),   g(s) = (1 - 2 psi tau s)^(-1/2),   K(t) = Phi_t(K_0),

the flow of ``dS_ab/dtau = psi (S_aa + S_bb) S_ab``, the ``1/L`` part of the cubic's layer map. At
leading order in ``1/L`` one copy is Wishart, so the layer at depth ``t`` adds a fluctuation of
covariance ``(1/N) C(t)``, ``C_{ab,cd} = K_ac K_bd + K_ad K_bc`` (``K = K(t)``), and the flow carries
it to the output. Summed over the ``L`` layers, the output fluctuation ``X = S_L - K(1)`` has

    kappa_2(X) = (L/N) int_0^1 dt (J_t (x) J_t) C(t),
    kappa_1(X) = (L/N) int_0^1 dt sum_{|beta| = 2} c^beta_t E_{C(t)}[X^beta],

with ``J_t`` and ``c^beta_t`` the Taylor coefficients of ``Phi_{1-t}`` at ``K(t)``: the same transfer
terms as one deterministic layer of the compiler (``transfer``, noise terms left out), and the same
read-out (``readout_moments``). So ``term_1 -> (L/N) int_0^1 h(t) dt`` with ``h`` the read-out of one
depth's fluctuation (docs/design.md section 9:
``E_z[coef_{delta^2} G(Phi_{1-t}(K(t) + delta (z z^T - K(t))))]``).

Gauss-Legendre in ``t``. ``kappa_2`` is kept factored (``runtime_terms.FactoredCumulant``: sums of products of
``M x M`` matrices, stacked over the nodes), so the read-out costs ``O(nodes M^3)`` and memory ``O(nodes M^2)``.
Outside the domain (``2 psi K0_aa >= 1`` for some point) the flow blows up before the output.
"""
from __future__ import annotations

from functools import cached_property, lru_cache

import numpy as np
import sympy as sp

from ..problem import Moments
from .layer_maps import taylor_coefficients
from .readout import ReadoutOperands
from .runtime_terms import BATCH, FactoredCumulant, LayerTransfer, readout_moments
from .transfer import transfer_terms

psi, tau = sp.symbols("psi tau", real=True)
s_aa, s_bb, s_ab = sp.symbols("s_aa s_bb s_ab", real=True)
DEFAULT_NODES = 24
"""Gauss-Legendre nodes in depth (the integrand is smooth inside the domain; 24 against 48 agree to 1e-9
on the tested cases, ``tests/test_continuum.py``)."""


def flow_map() -> sp.Expr:
    """``Phi_tau(S)_ab = S_ab g(S_aa) g(S_bb)``, ``g(s) = (1 - 2 psi tau s)^(-1/2)``, as ``f(s_aa, s_bb, s_ab)``."""
    def g(s: sp.Symbol) -> sp.Expr:
        return (1 - 2 * psi * tau * s) ** sp.Rational(-1, 2)

    return s_ab * g(s_aa) * g(s_bb)


class ContinuumFlow:
    """The Taylor coefficients ``d^beta Phi_tau / beta!`` (``|beta| <= 2``) of the flow, derived once."""

    @cached_property
    def coefficients(self) -> dict[tuple[int, int, int], sp.Expr]:
        return taylor_coefficients(flow_map(), (s_aa, s_bb, s_ab), 2, sp.simplify)

    @cached_property
    def curvatures(self) -> tuple[tuple[int, int, int], ...]:
        return tuple(sorted(b for b in self.coefficients if sum(b) == 2))

    @cached_property
    def _numeric(self):
        return {b: sp.lambdify((s_aa, s_bb, s_ab, psi, tau), e, "numpy") for b, e in self.coefficients.items()}

    def weights(self, K: np.ndarray, strength: float, depth: float) -> dict[tuple[int, int, int], np.ndarray]:
        """``c^beta`` of ``Phi_depth`` at ``K``, as ``M x M`` matrices."""
        d = np.diagonal(K)
        return {b: np.broadcast_to(fn(d[:, None], d[None, :], K, strength, depth), K.shape).astype(float)
                for b, fn in self._numeric.items()}


@lru_cache(maxsize=1)
def _flow() -> ContinuumFlow:
    return ContinuumFlow()


def flow(K0: np.ndarray, strength: float, depth: float) -> np.ndarray:
    """``Phi_depth(K0)``, elementwise."""
    g = 1.0 / np.sqrt(1.0 - 2.0 * strength * depth * np.diagonal(K0))
    return K0 * g[:, None] * g[None, :]


def check_domain(K0: np.ndarray, strength: float) -> None:
    """``ValueError`` unless ``2 psi K0_aa < 1`` for every point (the flow reaches the output)."""
    blow_up = 2.0 * strength * np.diagonal(K0)
    if np.any(blow_up >= 1.0):
        worst = int(np.argmax(blow_up))
        raise ValueError(
            f"outside the continuum's domain: 2 psi |x|^2/N0 = {blow_up[worst]:.4g} >= 1 for point {worst} (the kernel "
            "blows up before the output, and the finite-depth first order over L grows without bound with L); "
            "use smaller inputs or a smaller psi"
        )


def wishart_covariance(K: np.ndarray, weights: np.ndarray | None = None) -> FactoredCumulant:
    """``C_{ab,cd} = K_ac K_bd + K_ad K_bc`` (``N`` times the covariance of one layer's Gram matrix), factored;
    with ``K`` stacked over quadrature nodes, ``sum_nodes weights C`` (``BATCH`` the node axis)."""
    head = (BATCH,) if K.ndim == 3 else ()
    weight = () if weights is None else ((weights, (BATCH,)),)
    return FactoredCumulant(1, tuple(
        (1.0, weight + ((K, head + (a, c)), (K, head + (b, d))))
        for (a, c), (b, d) in ((("p0", "p2"), ("p1", "p3")), (("p0", "p3"), ("p1", "p2")))))


def continuum_moments(K0: np.ndarray, n_train: int, y: np.ndarray, sigma2: float, strength: float,
                      depth_over_width: float, nodes: int = DEFAULT_NODES) -> Moments:
    """The series ``E[z]``, ``E[z m]``, ``E[z (C + m m^T)]`` to first order in ``L/N``, around ``K(1)`` (module docstring).

    ``kappa_1`` is summed over the nodes as an ``M x M`` array; ``kappa_2`` stays factored, its matrices stacked
    over the nodes, so the read-out costs ``O(nodes M^3)``.
    """
    check_domain(K0, strength)
    flow_terms = _flow()
    terms = {n: tuple(term for term in transfer_terms(n, 1, flow_terms.curvatures, ()) if term.noise_power == 0)
             for n in (1, 2)}
    M = len(K0)
    points, weights = np.polynomial.legendre.leggauss(nodes)
    depths = 0.5 * (points + 1.0)
    scale = 0.5 * weights * depth_over_width
    kernels = np.stack([flow(K0, strength, t) for t in depths])
    taylor = [flow_terms.weights(K, strength, 1.0 - t) for K, t in zip(kernels, depths)]  # of Phi_{1-t} at K(t)
    kappa_1 = np.zeros((2, M, M))
    for K, weights_t, w in zip(kernels, taylor, scale):
        # a deterministic map (no noise terms), so the width does not enter: 1
        step = LayerTransfer(K, 1, weights_t, None, 1)
        kappa_1 += w * step.apply(terms[1], {1: np.zeros((2, M, M)), 2: wishart_covariance(K)}, 1)
    stacked = {beta: np.stack([weights_t[beta] for weights_t in taylor]) for beta in ((0, 0, 1), (1, 0, 0))}
    carried = LayerTransfer(K0, 1, stacked, None, 1)
    kappa_2 = carried.apply_factored(terms[2], {2: wishart_covariance(kernels, scale)}, 2)
    operands = ReadoutOperands(flow(K0, strength, 1.0), n_train, y, sigma2)
    return readout_moments(operands, {1: kappa_1, 2: kappa_2}, 1)
