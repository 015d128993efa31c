"""Exact Monte Carlo reference for Bayesian inference with a finite-width network.

The network ``z1 = W1 x``, ``z(l+1) = W(l+1) phi(z(l))``, ``f = z(L+1)`` with
``W(l+1)[i, j] ~ N(0, sigma_w2 / N_l)`` induces a Markov chain on Gram matrices
over the ``M`` stacked inputs::

    S_0 = sigma_w2 X X^T / N_0,
    S_l = (sigma_w2 / N_l) sum_{i=1..N_l} phi(z_i) phi(z_i)^T,   z_i iid N(0, S_{l-1}),

and, given ``S_L``, the outputs are ``N(0, S_L)``. Sampling ``S_L`` exactly and
integrating the outputs analytically (Rao-Blackwellisation) gives importance
weights ``w = N(y; 0, S_DD + sigma2 I)`` and Gaussian-process predictions per
sample, which are averaged into the evidence and the posterior moments.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from perturbo.progress import progress
from perturbo.results import PredictiveResult

_FLOATS_PER_BATCH = 2**22
"""Bound on ``batch * max(N_l) * M``, the size of the largest per-batch array."""

_PROGRESS_MIN_BATCHES = 20


@dataclass(frozen=True)
class MonteCarloEstimate(PredictiveResult):
    """Evidence and posterior moments at the test points, with standard errors.

    ``mean``, ``mean_se`` and ``var`` have shape ``(T,)``, ``cov`` ``(T, T)``;
    all four are ``None`` when there are no test points.
    """

    log_evidence: float
    log_evidence_se: float
    mean: np.ndarray | None
    mean_se: np.ndarray | None
    var: np.ndarray | None
    cov: np.ndarray | None
    samples: int
    noise_variance: float = 0.0  # P/beta


def sample_gram_chain(
    X_all: np.ndarray,
    widths: Sequence[int],
    phi: Callable[[np.ndarray], np.ndarray],
    sigma_w2: float,
    n: int,
    rng: np.random.Generator,
    every_layer: bool = False,
) -> np.ndarray:
    """Draw ``n`` independent final Gram matrices ``S_L``, shape ``(n, M, M)`` (``every_layer``: all of
    ``S_1 .. S_L``, shape ``(n, L, M, M)``).

    With a factor ``S_{l-1} = F F^T`` (``F`` of shape ``M x r``), the
    pre-activations are ``Z = G F^T`` with ``G`` standard normal of shape
    ``(n, N_l, r)``, and ``S_l = (sigma_w2 / N_l) phi(Z)^T phi(Z)``. The next factor
    is ``sqrt(sigma_w2 / N_l) phi(Z)^T`` when ``N_l <= M``, else ``V sqrt(Lambda)``
    from the eigendecomposition ``S_l = V Lambda V^T`` (negative round-off
    eigenvalues clipped to 0), which also covers singular ``S_l``.
    """
    X_all = np.asarray(X_all, dtype=float)
    M, N0 = X_all.shape
    factor = math.sqrt(sigma_w2 / N0) * X_all
    gram = factor @ factor.T
    if N0 > M:
        factor = _eigh_factor(gram)
    layers = []
    for width in widths:
        G = rng.standard_normal((n, width, factor.shape[-1]))
        act = phi(G @ np.swapaxes(factor, -1, -2))
        scaled = math.sqrt(sigma_w2 / width) * np.swapaxes(act, -1, -2)
        gram = scaled @ np.swapaxes(scaled, -1, -2)
        gram = 0.5 * (gram + np.swapaxes(gram, -1, -2))
        factor = scaled if width <= M else _eigh_factor(gram)
        layers.append(gram)
    if every_layer:
        return np.stack(layers, axis=1)
    return gram if gram.ndim == 3 else np.tile(gram, (n, 1, 1))


def _eigh_factor(S: np.ndarray) -> np.ndarray:
    """Return ``F = V sqrt(max(Lambda, 0))`` with ``F F^T = S`` (batched)."""
    eigval, eigvec = np.linalg.eigh(S)
    return eigvec * np.sqrt(np.clip(eigval, 0.0, None))[..., None, :]


def _batch_size(samples: int, widths: list[int], M: int, layers_kept: int) -> int:
    """Draws per batch: ``batch * max(N_l, M) * M * layers_kept`` stays below ``_FLOATS_PER_BATCH``."""
    return max(1, min(samples, _FLOATS_PER_BATCH // (max(widths + [M]) * M * layers_kept)))


def _checked(X_all: np.ndarray, n_train: int, y: np.ndarray, widths: Sequence[int], beta: float,
             samples: int) -> tuple[np.ndarray, np.ndarray, list[int], float]:
    """The inputs as arrays, and the noise variance ``P / beta``; ``ValueError`` for what the chain cannot sample."""
    X_all = np.asarray(X_all, dtype=float)
    y = np.asarray(y, dtype=float)
    widths = [int(width) for width in widths]
    if X_all.ndim != 2:
        raise ValueError(f"X_all must be a 2-d array (inputs x features), got shape {X_all.shape}")
    M, P = X_all.shape[0], n_train
    if not 1 <= P <= M:
        raise ValueError(f"n_train must be between 1 and the number of inputs {M}, got {n_train}")
    if y.shape != (P,):
        raise ValueError(f"y must have shape ({P},), got {y.shape}")
    if not widths or min(widths) < 1:
        raise ValueError(f"widths must be a non-empty list of positive integers, got {widths}")
    if not beta > 0:
        raise ValueError(f"beta must be positive (math.inf for zero temperature), got {beta}")
    if samples < 1:
        raise ValueError(f"samples must be positive, got {samples}")
    sigma2 = 0.0 if math.isinf(beta) else P / beta
    if sigma2 == 0.0 and min(widths) < P:
        raise ValueError(
            f"the Monte Carlo read-out at zero temperature needs every width >= P = {P} (got widths {widths}): "
            "a narrower layer makes the sampled training kernel singular; use a finite beta"
        )
    if sigma2 == 0.0 and len(np.unique(X_all[:P], axis=0)) < P:
        raise ValueError(
            "repeated training inputs make the training kernel singular at zero temperature; use a finite beta"
        )
    return X_all, y, widths, sigma2


def monte_carlo(
    X_all: np.ndarray,
    n_train: int,
    y: np.ndarray,
    widths: Sequence[int],
    phi: Callable[[np.ndarray], np.ndarray],
    sigma_w2: float,
    beta: float,
    samples: int = 100_000,
    seed: int = 0,
) -> MonteCarloEstimate:
    """Estimate the evidence and the test-point posterior from ``samples`` draws of ``S_L``.

    The first ``n_train`` rows of ``X_all`` are training inputs with targets
    ``y``, the rest test inputs. Noise variance ``sigma2 = P / beta`` (0 at
    ``beta = inf``). Per sample, with ``A = (S_DD + sigma2 I)^{-1}``::

        w = N(y; 0, S_DD + sigma2 I),  m = S_xD A y,  C = S_xx - S_xD A S_Dx,

    and ``Z = mean(w)``, ``mean = sum w m / sum w``,
    ``var = sum w (diag C + m^2) / sum w - mean^2``, ``cov`` likewise with
    ``C + m m^T``. Standard errors: ``std(w) / (sqrt(n) mean(w))`` for
    ``log Z`` (delta method) and ``sqrt(sum w^2 (m - mean)^2) / sum w`` for the
    self-normalised mean (ratio estimator).

    The draws are those of ``sample_gram_chain`` called batch by batch with
    ``np.random.default_rng(seed)``; the batch size depends only on the
    widths and ``M``, so a given seed always gives the same result.
    """
    X_all, y, widths, sigma2 = _checked(X_all, n_train, y, widths, beta, samples)
    M = X_all.shape[0]
    T = M - n_train
    rng = np.random.default_rng(seed)
    batch = _batch_size(samples, widths, M, 1)
    n_batches = -(-samples // batch)
    log_w = np.empty(samples)
    moments = _WeightedMoments(T)
    with progress(samples, "monte carlo", enabled=n_batches > _PROGRESS_MIN_BATCHES) as bar:
        for start in range(0, samples, batch):
            size = min(batch, samples - start)
            S = sample_gram_chain(X_all, widths, phi, sigma_w2, size, rng)
            log_w[start : start + size], m, C = _gp_readout(S, y, sigma2)
            if T:
                moments.add(log_w[start : start + size], m, C)
            bar.update(size)

    w = np.exp(log_w - log_w.max())
    log_evidence = float(log_w.max() + np.log(w.mean()))
    log_evidence_se = float(w.std() / (math.sqrt(samples) * w.mean()))
    if not T:
        return MonteCarloEstimate(log_evidence, log_evidence_se, None, None, None, None, samples, sigma2)
    mean, mean_se, cov = moments.result()
    return MonteCarloEstimate(log_evidence, log_evidence_se, mean, mean_se, np.diag(cov).copy(), cov, samples, sigma2)


def monte_carlo_representations(
    X_all: np.ndarray,
    n_train: int,
    y: np.ndarray,
    widths: Sequence[int],
    phi: Callable[[np.ndarray], np.ndarray],
    sigma_w2: float,
    beta: float,
    samples: int = 100_000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means of ``S_1 .. S_L`` (``(L, M, M)``) and their standard errors, self-normalised.

    ``E_post[S_l] = sum w S_l / sum w`` over chains drawn by ``sample_gram_chain(every_layer=True)``, with
    ``w = N(y; 0, S_L,DD + sigma2 I)``; standard error ``sqrt(sum w^2 (S_l - mean)^2) / sum w`` (ratio
    estimator). Same seed, same draws.
    """
    X_all, y, widths, sigma2 = _checked(X_all, n_train, y, widths, beta, samples)
    M, L = X_all.shape[0], len(widths)
    rng = np.random.default_rng(seed)
    batch = _batch_size(samples, widths, M, L)
    top = -math.inf
    sums = [0.0, 0.0] + [np.zeros((L, M, M)) for _ in range(3)]  # w, w^2, w S, w^2 S, w^2 S^2 (w relative to top)
    for start in range(0, samples, batch):
        S = sample_gram_chain(X_all, widths, phi, sigma_w2, min(batch, samples - start), rng, every_layer=True)
        log_w, _, _ = _gp_readout(S[:, -1], y, sigma2)
        if log_w.max() > top:
            shift, top = top - float(log_w.max()), float(log_w.max())
            sums = [x * math.exp(shift * power) for x, power in zip(sums, (1, 2, 1, 2, 2))]
        w = np.exp(log_w - top)
        new = [w.sum(), (w**2).sum(), np.einsum("b,blij->lij", w, S), np.einsum("b,blij->lij", w**2, S),
               np.einsum("b,blij->lij", w**2, S**2)]
        sums = [x + d for x, d in zip(sums, new)]
    total, squares, first, cross, second = sums
    mean = first / total
    spread = np.clip(second - 2 * mean * cross + mean**2 * squares, 0.0, None)
    return mean, np.sqrt(spread) / total


def _gp_readout(S: np.ndarray, y: np.ndarray, sigma2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-sample ``log w``, predictive mean ``m`` and covariance ``C`` via ``S_DD + sigma2 I = L L^T``.

    With ``v = L^{-1} y`` and ``B = L^{-1} S_Dx``: ``log w = -|v|^2/2 - sum log L_ii - P log(2 pi)/2``,
    ``m = B^T v``, ``C = S_xx - B^T B``.
    """
    P = y.shape[0]
    K = S[:, :P, :P] + sigma2 * np.eye(P)
    try:
        chol = np.linalg.cholesky(K)
    except np.linalg.LinAlgError:
        raise ValueError(
            "the sampled training kernel S_DD + sigma2 I is numerically singular (Cholesky failed); "
            "linearly dependent training inputs (e.g. more of them than input dimensions for a linear network) "
            "need a finite beta"
        ) from None
    rhs = np.concatenate([np.broadcast_to(y[:, None], (S.shape[0], P, 1)), S[:, :P, P:]], axis=-1)
    solved = np.linalg.solve(chol, rhs)
    v, B = solved[..., 0], solved[..., 1:]
    log_det_half = np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(axis=-1)
    log_w = -0.5 * np.einsum("bp,bp->b", v, v) - log_det_half - 0.5 * P * math.log(2 * math.pi)
    m = np.einsum("bpt,bp->bt", B, v)
    C = S[:, P:, P:] - np.swapaxes(B, -1, -2) @ B
    return log_w, m, C


class _WeightedMoments:
    """Streaming weighted sums for the self-normalised posterior moments.

    Weights are stored relative to the largest ``log w`` seen so far (sums are
    rescaled when it grows), and ``m`` is centred on a shift ``c`` (first
    batch's weighted mean) so that ``sum w^2 (m - mean)^2`` and the covariance do
    not suffer from cancellation.
    """

    def __init__(self, T: int) -> None:
        self.ref = -math.inf
        self.shift: np.ndarray | None = None
        self.sw = 0.0  # sum w
        self.sw2 = 0.0  # sum w^2
        self.sd = np.zeros(T)  # sum w d, d = m - c
        self.sw2d = np.zeros(T)  # sum w^2 d
        self.sw2dd = np.zeros(T)  # sum w^2 d^2
        self.sC = np.zeros((T, T))  # sum w (C + d d^T)

    def add(self, log_w: np.ndarray, m: np.ndarray, C: np.ndarray) -> None:
        ref = max(self.ref, float(log_w.max()))
        scale = math.exp(self.ref - ref)
        self.ref = ref
        w = np.exp(log_w - ref)
        if self.shift is None:
            self.shift = w @ m / w.sum()
        d = m - self.shift
        self.sw = scale * self.sw + w.sum()
        self.sw2 = scale**2 * self.sw2 + w @ w
        self.sd = scale * self.sd + w @ d
        self.sw2d = scale**2 * self.sw2d + (w * w) @ d
        self.sw2dd = scale**2 * self.sw2dd + (w * w) @ (d * d)
        self.sC = scale * self.sC + np.einsum("b,bst->st", w, C) + np.einsum("b,bs,bt->st", w, d, d)

    def result(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``mean``, ``mean_se`` and ``cov``."""
        delta = self.sd / self.sw  # mean - c
        mean = self.shift + delta
        se2 = self.sw2dd - 2 * delta * self.sw2d + delta**2 * self.sw2
        mean_se = np.sqrt(np.clip(se2, 0.0, None)) / self.sw
        cov = self.sC / self.sw - np.outer(delta, delta)
        return mean, mean_se, 0.5 * (cov + cov.T)
