"""Tests for the exact Monte Carlo reference (Gram-matrix chain + Rao-Blackwellised GP read-out)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import perturbo.reference.monte_carlo as monte_carlo_module
from perturbo.reference.monte_carlo import MonteCarloEstimate, monte_carlo, sample_gram_chain

Z_TOL = 5.0  # standard errors allowed between two Monte Carlo estimates


def linear(t: np.ndarray) -> np.ndarray:
    return t


def cubic(t: np.ndarray) -> np.ndarray:
    return t + 0.2 * t * t * t


def naive_gram(X: np.ndarray, widths: list[int], phi, sigma_w2: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """S_L from explicit weight matrices: S_L = (sigma_w2/N_L) phi(z_L) phi(z_L)^T, z1 = X W1^T, ..."""
    h = np.broadcast_to(X, (n, *X.shape))
    fan_in = X.shape[1]
    for l, width in enumerate(widths):
        W = rng.standard_normal((n, width, fan_in)) * math.sqrt(sigma_w2 / fan_in)
        z = h @ np.swapaxes(W, -1, -2)  # (n, M, N_l)
        h = phi(z)
        fan_in = width
    return sigma_w2 / fan_in * h @ np.swapaxes(h, -1, -2)


def naive_estimates(S: np.ndarray, P: int, y: np.ndarray, sigma2: float) -> dict[str, np.ndarray | float]:
    """The estimators of monte_carlo written out with explicit inverses and stored per-sample weights."""
    K = S[:, :P, :P] + sigma2 * np.eye(P)
    A = np.linalg.inv(K)
    log_w = -0.5 * np.einsum("p,bpq,q->b", y, A, y) - 0.5 * np.linalg.slogdet(K)[1] - 0.5 * P * math.log(2 * math.pi)
    m = np.einsum("btp,bpq,q->bt", S[:, P:, :P], A, y)
    C = S[:, P:, P:] - np.einsum("bsp,bpq,bqt->bst", S[:, P:, :P], A, S[:, :P, P:])
    w = np.exp(log_w - log_w.max())
    mean = w @ m / w.sum()
    second = np.einsum("b,bst->st", w, C + np.einsum("bs,bt->bst", m, m)) / w.sum()
    return {
        "log_evidence": log_w.max() + math.log(w.mean()),
        "log_evidence_se": w.std() / (math.sqrt(len(w)) * w.mean()),
        "mean": mean,
        "mean_se": np.sqrt((w**2) @ (m - mean) ** 2) / w.sum(),
        "var": np.diag(second) - mean**2,
        "cov": second - np.outer(mean, mean),
    }


def gp_reference(K: np.ndarray, P: int, y: np.ndarray, sigma2: float) -> tuple[float, np.ndarray, np.ndarray]:
    """Exact GP log evidence, predictive mean and covariance for kernel K."""
    KDD = K[:P, :P] + sigma2 * np.eye(P)
    A = np.linalg.inv(KDD)
    log_ev = -0.5 * y @ A @ y - 0.5 * np.linalg.slogdet(KDD)[1] - 0.5 * P * math.log(2 * math.pi)
    return log_ev, K[P:, :P] @ A @ y, K[P:, P:] - K[P:, :P] @ A @ K[:P, P:]


def z_mean(a: np.ndarray, b: np.ndarray) -> float:
    return abs(a.mean() - b.mean()) / math.sqrt(a.var() / len(a) + b.var() / len(b))


def var_se(a: np.ndarray) -> float:
    """Standard error of the sample variance, sqrt((mu4 - var^2)/n)."""
    c = a - a.mean()
    return math.sqrt(((c**4).mean() - c.var() ** 2) / len(a))


def z_var(a: np.ndarray, b: np.ndarray) -> float:
    return abs(a.var() - b.var()) / math.hypot(var_se(a), var_se(b))


ENTRIES = [(0, 0), (0, 1), (1, 2), (2, 2)]


@pytest.mark.parametrize("phi", [cubic, linear], ids=["cubic", "linear"])
def test_chain_matches_explicit_weights_in_distribution(phi) -> None:
    # N0 = 5 > M = 3 exercises the M x M input factor; widths 2 <= M and 6, 4 > M both factor paths.
    X = np.array([[0.6, -0.3, 0.2, 0.5, 0.1], [0.1, 0.7, -0.4, 0.0, 0.3], [-0.5, 0.2, 0.4, 0.3, -0.6]])
    widths, sigma_w2, n = [2, 6, 4], 1.3, 20_000
    chain = sample_gram_chain(X, widths, phi, sigma_w2, n, np.random.default_rng(1))
    naive = naive_gram(X, widths, phi, sigma_w2, n, np.random.default_rng(2))
    assert chain.shape == (n, 3, 3)
    np.testing.assert_array_equal(chain, np.swapaxes(chain, -1, -2))
    for a, b in ENTRIES:
        assert z_mean(chain[:, a, b], naive[:, a, b]) < Z_TOL, (a, b)
        assert z_var(chain[:, a, b], naive[:, a, b]) < Z_TOL, (a, b)


def test_linear_chain_exact_moments() -> None:
    # E[S_L] = sigma_w2^L S0; S_L,aa = K_aa prod chi2_{N_l}/N_l, Var = K_aa^2 (prod(1 + 2/N_l) - 1).
    X = np.array([[1.0, 0.2], [-0.3, 0.8], [0.5, 0.5]])
    widths, sigma_w2, n = [3, 7, 5], 1.3, 40_000
    S = sample_gram_chain(X, widths, linear, sigma_w2, n, np.random.default_rng(3))
    K = sigma_w2 ** len(widths) * sigma_w2 * X @ X.T / X.shape[1]
    excess = np.prod([1 + 2 / N for N in widths]) - 1
    for a, b in ENTRIES:
        s = S[:, a, b]
        assert abs(s.mean() - K[a, b]) < Z_TOL * s.std() / math.sqrt(n), (a, b)
    for a in range(3):
        s = S[:, a, a]
        assert abs(s.var() - K[a, a] ** 2 * excess) < Z_TOL * var_se(s), a


def readout_problem() -> tuple[np.ndarray, np.ndarray, int, list[int], float, float]:
    rng = np.random.default_rng(4)
    P, T = 4, 2
    X = rng.standard_normal((P + T, 3))
    X /= np.linalg.norm(X, axis=1, keepdims=True)  # unit inputs keep the cubic's tails mild
    return X, rng.standard_normal(P), P, [5, 3], 1.2, 8.0


@pytest.mark.parametrize("batch", [None, 40], ids=["one-batch", "batches-of-40"])
def test_readout_matches_explicit_formulas_on_same_draws(batch: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    # monte_carlo reads out the draws of sample_gram_chain(rng=default_rng(seed)) taken batch by batch,
    # so the streaming sums (rescaled whenever the largest weight grows) must equal the explicit formulas.
    X, y, P, widths, sigma_w2, beta = readout_problem()
    n = 3_000
    if batch is not None:
        monkeypatch.setattr(monte_carlo_module, "_FLOATS_PER_BATCH", batch * len(X) ** 2)
    est = monte_carlo(X, P, y, widths, cubic, sigma_w2, beta, samples=n, seed=5)
    rng = np.random.default_rng(5)
    S = np.concatenate([sample_gram_chain(X, widths, cubic, sigma_w2, min(batch or n, n - start), rng)
                        for start in range(0, n, batch or n)])
    for field, value in naive_estimates(S, P, y, P / beta).items():
        np.testing.assert_allclose(getattr(est, field), value, rtol=1e-7, atol=1e-12, err_msg=field)


def test_estimates_match_explicit_weight_forward_pass() -> None:
    X, y, P, widths, sigma_w2, beta = readout_problem()
    n = 20_000
    est = monte_carlo(X, P, y, widths, cubic, sigma_w2, beta, samples=n, seed=5)
    ref = naive_estimates(naive_gram(X, widths, cubic, sigma_w2, n, np.random.default_rng(6)), P, y, P / beta)
    assert est.samples == n
    assert abs(est.log_evidence - ref["log_evidence"]) < Z_TOL * math.hypot(est.log_evidence_se, ref["log_evidence_se"])
    assert np.all(np.abs(est.mean - ref["mean"]) < Z_TOL * np.hypot(est.mean_se, ref["mean_se"]))
    np.testing.assert_allclose(est.log_evidence_se, ref["log_evidence_se"], rtol=0.1)
    np.testing.assert_allclose(est.mean_se, ref["mean_se"], rtol=0.1)
    np.testing.assert_allclose(est.var, ref["var"], rtol=0.05)
    np.testing.assert_allclose(est.cov, ref["cov"], rtol=0.05, atol=0.05 * np.abs(ref["cov"]).max())


def test_repeated_points_at_finite_beta() -> None:
    X_train = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.6, -0.8]])  # rows 0 and 2 coincide
    X = np.vstack([X_train, X_train[1], [0.3, 0.3]])
    y = np.array([0.5, -0.2, 0.7, 0.1])
    est = monte_carlo(X, 4, y, [8, 2, 9], cubic, 1.0, beta=20.0, samples=2_000, seed=0)
    values = [est.log_evidence, est.log_evidence_se, est.mean, est.mean_se, est.var, est.cov]
    assert all(np.all(np.isfinite(v)) for v in values)
    np.testing.assert_allclose(est.cov, est.cov.T)
    assert np.linalg.eigvalsh(est.cov).min() > -1e-10


def test_zero_temperature_interpolates_training_point() -> None:
    X_train = np.array([[1.0, 0.0, 0.2], [0.0, 1.0, -0.3], [0.6, -0.8, 0.1], [-0.4, 0.2, 0.9]])
    X = np.vstack([X_train, X_train[1], [0.3, 0.3, 0.3]])
    y = np.array([0.5, -0.2, 0.7, 0.1])
    est = monte_carlo(X, 4, y, [6, 4, 9], cubic, 1.0, beta=math.inf, samples=2_000, seed=0)
    assert est.mean[0] == pytest.approx(y[1], abs=1e-8)
    assert abs(est.var[0]) < 1e-8
    assert est.mean_se[0] < 1e-8
    assert est.var[1] > 1e-3 and est.mean_se[1] > 0


def test_seed_determinism() -> None:
    rng = np.random.default_rng(7)
    X = rng.standard_normal((5, 3))
    y = rng.standard_normal(3)
    args = (X, 3, y, [4, 6], cubic, 1.0, 5.0)
    first, again = monte_carlo(*args, samples=500, seed=11), monte_carlo(*args, samples=500, seed=11)
    other = monte_carlo(*args, samples=500, seed=12)
    for field in ("log_evidence", "log_evidence_se", "mean", "mean_se", "var", "cov"):
        np.testing.assert_array_equal(getattr(first, field), getattr(again, field))
    assert first.log_evidence != other.log_evidence
    assert not np.array_equal(first.mean, other.mean)
    S1 = sample_gram_chain(X, [4, 6], cubic, 1.0, 10, np.random.default_rng(0))
    S2 = sample_gram_chain(X, [4, 6], cubic, 1.0, 10, np.random.default_rng(0))
    np.testing.assert_array_equal(S1, S2)


def test_no_test_block_gives_none() -> None:
    X = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, -0.8]])
    est = monte_carlo(X, 3, np.array([0.1, 0.2, -0.3]), [4, 4], cubic, 1.0, 3.0, samples=200)
    assert isinstance(est, MonteCarloEstimate)
    assert est.mean is est.mean_se is est.var is est.cov is None
    assert math.isfinite(est.log_evidence) and est.log_evidence_se > 0


@pytest.mark.parametrize("beta", [4.0, math.inf], ids=["finite-beta", "zero-temperature"])
def test_large_width_approaches_gaussian_process(beta: float) -> None:
    rng = np.random.default_rng(8)
    P, T, N0 = 4, 2, 5  # N0 >= P: a linear net's S_DD has rank <= N0
    X = rng.standard_normal((P + T, N0))
    y = rng.standard_normal(P)
    widths, sigma_w2, N = [2000, 2000], 1.5, 2000
    est = monte_carlo(X, P, y, widths, linear, sigma_w2, beta, samples=2_000, seed=1)
    K = sigma_w2 ** (len(widths) + 1) * X @ X.T / N0
    log_ev, mean, cov = gp_reference(K, P, y, 0.0 if math.isinf(beta) else P / beta)
    finite_width = 5 * len(widths) / N  # allowance for the O(L/N) finite-width shift
    assert abs(est.log_evidence - log_ev) < Z_TOL * est.log_evidence_se + finite_width
    np.testing.assert_allclose(est.mean, mean, atol=Z_TOL * est.mean_se.max() + finite_width * np.abs(mean).max())
    np.testing.assert_allclose(est.cov, cov, atol=finite_width * np.abs(cov).max())


def test_zero_temperature_needs_every_width_at_least_p() -> None:
    X = np.random.default_rng(9).standard_normal((6, 4))
    y = np.ones(5)
    with pytest.raises(ValueError, match=r"zero temperature needs every width >= P"):
        monte_carlo(X, 5, y, [8, 3, 8], cubic, 1.0, math.inf, samples=10)
    monte_carlo(X, 5, y, [8, 3, 8], cubic, 1.0, 10.0, samples=10)  # a finite beta is fine


def test_zero_temperature_singular_training_kernel_raises() -> None:
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.6, -0.8]])
    with pytest.raises(ValueError, match="repeated training inputs"):
        monte_carlo(X, 4, np.array([0.5, -0.2, 0.7, 0.1]), [20, 20], cubic, 1.0, math.inf, samples=10)
    # five training points in two dimensions: a linear network's S_DD has rank 2
    X = np.random.default_rng(10).standard_normal((5, 2))
    with pytest.raises(ValueError, match="numerically singular"):
        monte_carlo(X, 5, np.ones(5), [10, 10], linear, 1.0, math.inf, samples=200)
