"""Posterior sampling of the finite shaped network in weight space (numpyro's NUTS on JAX, CPU).

The network exactly as perturbo defines it, in whitened coordinates: every hidden weight matrix is
``W_l = sqrt(sigma_w2 / N_{l-1}) V_l`` with ``V_l ~ N(0, I)``, the features ``h_l = phi(W_l h_{l-1})``, ``h_0 = x``.
Given the last hidden layer's features the read-out weights are Gaussian, so they are integrated out exactly: with
``F = sqrt(sigma_w2 / N_L) h_L`` on the training points and ``A = F F^T + sigma2 I`` (``sigma2 = P/beta``),

    log p(V | data) = -|V|^2/2 + log N(y; 0, A) + const,

evaluated through ``sigma2 I_N + F^T F`` when ``N_L < P`` (Woodbury), and each draw contributes the exact
Gaussian-process mean and covariance of ``f`` at the test points, ``m = F_x F^T A^-1 y`` and
``C = F_x F_x^T - F_x F^T A^-1 F F_x^T`` (Rao-Blackwellisation). The predictive is their posterior average:

    mean = E[m],    cov = E[C] + Cov[m].

Diagnostics are taken on the function-space draws (weights are identified only up to the network's symmetries):
split R-hat and effective sample sizes of ``m`` per test point, Monte Carlo standard errors
``sd / sqrt(ESS)`` of the mean and of the variance (through ``diag C + (m - mean)^2``), and the divergences.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ..activation import Activation
from ..results import PredictiveResult

EXTRA = "sampling"
"""The optional extra that installs JAX and numpyro."""


@dataclass(frozen=True)
class PosteriorSample(PredictiveResult):
    """The posterior predictive of ``f`` at the test points from NUTS over the hidden weights, with its diagnostics."""

    mean: np.ndarray  # (T,)
    mean_se: np.ndarray  # (T,) Monte Carlo standard errors
    var: np.ndarray  # (T,)
    var_se: np.ndarray  # (T,)
    cov: np.ndarray  # (T, T)
    rhat: np.ndarray  # (T,) split R-hat of the per-draw mean m(x)
    ess: np.ndarray  # (T,) effective sample size of m(x)
    divergences: int
    samples: int  # per chain
    chains: int
    seconds: float
    noise_variance: float


def _jax():
    """``jax``, ``jax.numpy`` and ``numpyro``; ``ValueError`` naming the extra when they are missing."""
    try:
        import jax
        import jax.numpy as jnp
        import numpyro
    except ImportError:
        raise ValueError(f"posterior sampling needs JAX and numpyro: pip install 'perturbo[{EXTRA}]'") from None
    return jax, jnp, numpyro


def sample_posterior(
    X_all: np.ndarray, n_train: int, y: np.ndarray, widths: tuple[int, ...], activation: Activation, sigma_w2: float,
    sigma2: float, samples: int, chains: int, warmup: int, seed: int, progress: bool,
) -> PosteriorSample:
    """NUTS over ``V_1 .. V_L`` (module docstring); inputs checked by ``ShapedMLP.sample_posterior``."""
    jax, jnp, numpyro = _jax()
    import numpyro.distributions as dist
    from numpyro.diagnostics import effective_sample_size, split_gelman_rubin
    from numpyro.infer import MCMC, NUTS, init_to_sample

    P = n_train
    coefficients = [float(c) for c in activation.coefficients]
    shapes = [(n, fan_in) for n, fan_in in zip(widths, (X_all.shape[1],) + tuple(widths[:-1]))]

    def phi(z):
        out = jnp.full_like(z, coefficients[-1])
        for c in coefficients[-2::-1]:
            out = out * z + c
        return out

    def features(weights, inputs):
        h = inputs
        for V in weights:
            h = phi(h @ (math.sqrt(sigma_w2 / V.shape[1]) * V).T)
        return math.sqrt(sigma_w2 / h.shape[1]) * h  # F: f = F w, w ~ N(0, I)

    with jax.enable_x64(True):
        X_train, X_test, targets = jnp.asarray(X_all[:P]), jnp.asarray(X_all[P:]), jnp.asarray(y)

        def log_likelihood(weights):
            F = features(weights, X_train)
            N = F.shape[1]
            if N < P:  # Woodbury: det and solve through sigma2 I_N + F^T F
                inner = jnp.linalg.cholesky(sigma2 * jnp.eye(N) + F.T @ F)
                projected = jax.scipy.linalg.solve_triangular(inner, F.T @ targets, lower=True)
                quadratic = (targets @ targets - projected @ projected) / sigma2
                log_det = (P - N) * jnp.log(sigma2) + 2.0 * jnp.sum(jnp.log(jnp.diag(inner)))
            else:
                chol = jnp.linalg.cholesky(F @ F.T + sigma2 * jnp.eye(P))
                solved = jax.scipy.linalg.solve_triangular(chol, targets, lower=True)
                quadratic, log_det = solved @ solved, 2.0 * jnp.sum(jnp.log(jnp.diag(chol)))
            return -0.5 * (quadratic + log_det + P * math.log(2 * math.pi))

        def model():
            weights = [numpyro.sample(f"V{l + 1}", dist.Normal(0.0, 1.0).expand(shape).to_event(2))
                       for l, shape in enumerate(shapes)]
            numpyro.factor("likelihood", log_likelihood(weights))

        def readout(draw: dict, *_) -> dict:
            """The Gaussian-process mean and covariance of ``f`` at the test points given the hidden weights: what each
            draw keeps (``postprocess_fn``), instead of the weights themselves."""
            weights = [draw[f"V{l + 1}"] for l in range(len(shapes))]
            F, F_x = features(weights, X_train), features(weights, X_test)
            chol = jnp.linalg.cholesky(F @ F.T + sigma2 * jnp.eye(P))
            B = jax.scipy.linalg.solve_triangular(chol, F @ F_x.T, lower=True)  # L^-1 F F_x^T
            w = jax.scipy.linalg.solve_triangular(chol, targets, lower=True)
            return {"mean": B.T @ w, "cov": F_x @ F_x.T - B.T @ B}

        start = time.perf_counter()
        mcmc = MCMC(NUTS(model, init_strategy=init_to_sample), num_warmup=warmup, num_samples=samples,
                    num_chains=chains, chain_method="sequential", progress_bar=progress, postprocess_fn=readout)
        mcmc.run(jax.random.PRNGKey(seed), extra_fields=("diverging",))
        draws = mcmc.get_samples(group_by_chain=True)
        divergences = int(np.sum(np.asarray(mcmc.get_extra_fields(group_by_chain=True)["diverging"])))
        means, covs = np.asarray(draws["mean"]), np.asarray(draws["cov"])
        seconds = time.perf_counter() - start

    mean = means.mean(axis=(0, 1))
    spread = means - mean
    cov = covs.mean(axis=(0, 1)) + np.einsum("csx,csy->xy", spread, spread) / (chains * samples)
    cov = 0.5 * (cov + cov.T)
    per_draw_var = np.diagonal(covs, axis1=2, axis2=3) + spread**2  # averages to var
    ess, ess_var = np.array(effective_sample_size(means)), np.array(effective_sample_size(per_draw_var))
    rhat = np.array(split_gelman_rubin(means))
    return PosteriorSample(
        mean=mean,
        mean_se=means.std(axis=(0, 1)) / np.sqrt(np.maximum(ess, 1.0)),
        var=np.diagonal(cov).copy(),
        var_se=per_draw_var.std(axis=(0, 1)) / np.sqrt(np.maximum(ess_var, 1.0)),
        cov=cov,
        rhat=rhat,
        ess=ess,
        divergences=divergences,
        samples=samples,
        chains=chains,
        seconds=seconds,
        noise_variance=sigma2,
    )
