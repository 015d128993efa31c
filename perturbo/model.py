"""The public model: a deep shaped MLP and its Bayesian quantities.

    z1 = W1 x,  z(l+1) = W(l+1) phi(z(l)),  f(x) = z(L+1),
    W(l)[i, j] ~ N(0, sigma_w2 / N_{l-1}),  phi(t) = t + p(t)/L.
"""
from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy as sp

from .activation import Activation, parse_shaping, t
from .results import (
    Evidence,
    ExactResult,
    NTKPrediction,
    Prediction,
    Renormalized,
    Representations,
    kernel_target_alignment,
    log_partition_from_evidence,
    require_finite,
    truncation_diagnostics,
)
from .compiler import moments as compiled_moments
from .compiler import plan as compiler_plan
from .problem import Moments, Problem
from .execution import Execution
from .runtime import series
from .runtime.gp_posterior import (
    check_condition,
    cholesky_of_training_kernel,
    gp_log_evidence,
    gp_predict,
    noise_variance,
)
from .runtime.kernel_flow import input_kernel, kernel_flow, tangent_kernel_flow
from .sampled.choice import Sampling
from .symbolic.mean_map import numeric_mean_map, numeric_derivative_map
from .validation import (
    check_beta,
    check_count,
    check_data,
    check_depth,
    check_finite_real,
    check_order,
    check_samples,
    check_seed,
    check_widths,
)

if TYPE_CHECKING:
    from .sampled.estimator import SampledSeries
    from .reference.monte_carlo import MonteCarloEstimate
    from .reference.posterior import PosteriorSample

MAX_ORDER = 4
"""Highest order offered (the cost of an exact order grows steeply with it: see README)."""

BACKEND_CHOICES = ("auto", "compiled")
Statistic = Callable[[Moments], np.ndarray]
Evaluator = Callable[[Statistic], tuple[np.ndarray, np.ndarray | None]]


def _check_backend(backend: str) -> None:
    """``auto`` and ``compiled`` both name the compiler (every order); ``reference`` was retired."""
    if backend == "reference":
        raise ValueError(
            "backend='reference' was retired: the pure-Python pull-back is now an independent oracle of the test "
            "suite (tests/oracle/pullback), not an evaluator; use backend='auto' (the compiler, every order), and "
            "perturbo.verify or method='sampled' to cross-check it")
    if backend not in BACKEND_CHOICES:
        raise ValueError(f"backend must be one of {', '.join(BACKEND_CHOICES)}, not {backend!r}")


def _exact(moments: Callable[[], Moments]) -> Evaluator:
    """An evaluator of exact moments (computed once, on first use): no standard error."""
    cache: list[Moments] = []

    def evaluate(statistic: Statistic) -> tuple[np.ndarray, None]:
        if not cache:
            cache.append(moments())
        return np.asarray(statistic(cache[0])), None

    return evaluate


def _warn_if_heavy_tailed(drawn: SampledSeries) -> None:
    """A ``RuntimeWarning`` with the tail index when the sampled terms' standard errors are not to be trusted."""
    from .sampled.estimator import TAIL_INDEX_WARNING

    alpha = drawn.tail_index()
    if alpha < TAIL_INDEX_WARNING:
        warnings.warn(
            f"method='sampled': the drawn pattern values are heavy-tailed here (tail index {alpha:.2f} < "
            f"{TAIL_INDEX_WARNING}: their variance is infinite), so the estimates converge slowly and the standard "
            "errors mean nothing (they may be far too small); few layers, strong shaping and small noise do this: use "
            "method='exact', or more noise or layers", RuntimeWarning, stacklevel=4)


class ShapedMLP:
    """Deep shaped network with ``depth`` hidden layers of widths ``width``.

    ``activation`` is the shaping polynomial ``p`` (SymPy expression or string in
    ``t``); when given, ``psi`` is ignored. The default is ``p(t) = psi t^3/3``.
    """

    def __init__(
        self,
        depth: int,
        width: int | Sequence[int],
        psi: float = 0.0,
        sigma_w2: float = 1.0,
        activation: str | sp.Expr | None = None,
    ) -> None:
        self.depth = check_depth(depth)
        self.widths = check_widths(width, self.depth)
        self.width = width if isinstance(width, int) else list(width)
        self.psi = check_finite_real(psi, "psi")
        self.sigma_w2 = check_finite_real(sigma_w2, "sigma_w2", positive=True)
        self.activation = Activation(parse_shaping(activation, self.psi), self.depth)

    def __repr__(self) -> str:
        return (
            f"ShapedMLP(depth={self.depth}, width={self.width!r}, sigma_w2={self.sigma_w2}, "
            f"phi(t) = {self.activation.phi})"
        )

    # ----------------------------------------------------------------- kernels
    def kernels(self, X: np.ndarray, *, last_only: bool = False) -> list[np.ndarray]:
        """Infinite-width kernels ``[K_0, ..., K_L]`` on the rows of ``X`` (exact Gaussian moments); ``[K_L]``
        alone with ``last_only`` (one fused pass that keeps no intermediate layer)."""
        S0 = input_kernel(np.asarray(X, dtype=float), self.sigma_w2)
        return kernel_flow(S0, numeric_mean_map(self.activation.phi, self.sigma_w2), self.depth, last_only=last_only)

    def _problem(
        self, kernels: list[np.ndarray], n_train: int, y: np.ndarray, beta: float, order: int,
        lowering: str | None = None,
    ) -> Problem:
        return Problem(
            self.activation.phi, sp.nsimplify(self.sigma_w2, rational=True), kernels, n_train, y,
            noise_variance(n_train, beta), self.widths, order, lowering,
        )

    def _continuum_strength(self, order: int, backend: str) -> float:
        """``psi`` of the default cubic, once it is checked that ``limit="continuum"`` applies to this network."""
        if order > 1:
            raise ValueError(f"limit='continuum' is derived at first order: use order 0 or 1, not {order}")
        if backend != "auto":
            raise ValueError("limit='continuum' has one evaluator (compiler/continuum.py): leave backend='auto'")
        shaping = sp.Poly(self.activation.shaping, t)
        if not (shaping.is_zero or shaping.monoms() == [(3,)]) or self.sigma_w2 != 1.0:
            raise ValueError(
                "limit='continuum' is derived for the default cubic phi(t) = t + psi t^3/(3L) with sigma_w2 = 1; "
                f"this network has {self!r}"
            )
        if len(set(self.widths)) != 1:
            raise ValueError(f"limit='continuum' needs equal widths (L/N fixed), got {self.widths}")
        return 3.0 * float(shaping.coeff_monomial(t**3))

    def _series_inputs(
        self, X_all: np.ndarray, n_train: int, y: np.ndarray, beta: float, order: int, backend: str,
        limit: str | None, sampling: Sampling, lowering: str | None,
    ) -> tuple[np.ndarray, Evaluator | None, str, str | None]:
        """``K_L`` on the stacked inputs, an evaluator of statistics of the moments' series around it (each
        returned with its standard error, ``None`` when exact; no evaluator at order 0), the method that
        evaluates them and the compiler's lowering (``None`` where the compiler does not run: order 0, sampled,
        continuum).

        ``limit="continuum"``: ``L -> inf`` at fixed ``L/N`` (default cubic, first order): ``K(1)`` and
        ``compiler.continuum``. ``sampling.method="sampled"``: the drawn insertion patterns (``sampled``).
        """
        if limit is not None and sampling.method != "exact":
            raise ValueError("limit='continuum' is evaluated exactly: leave method='exact'")
        if sampling.method != "exact" and backend != "auto":
            raise ValueError(f"method={sampling.method!r} has its own evaluator: leave backend='auto'")
        if lowering is not None and (sampling.method != "exact" or limit is not None or not order):
            raise ValueError("lowering= chooses how the compiler evaluates an exact order >= 1: use it with "
                             "method='exact', no limit and order >= 1 (or leave lowering=None)")
        if limit is None:
            if not order:  # the Gaussian process alone: K_L is all it needs
                return self.kernels(X_all, last_only=True)[-1], None, "exact", None
            kernels = self.kernels(X_all)
            problem = self._problem(kernels, n_train, y, beta, order, lowering)
            method, samples = sampling.decide(problem)
            if method == "sampled":
                from .sampled.estimator import sampled_series

                drawn = sampled_series(problem, samples, sampling.seed, execution=sampling.execution)
                _warn_if_heavy_tailed(drawn)
                return kernels[-1], drawn.statistic, method, None
            chosen = compiler_plan(problem)  # raises here, before any work, if the lowering does not apply
            return kernels[-1], _exact(lambda: compiled_moments(problem, chosen)), method, chosen.lowering
        if limit != "continuum":
            raise ValueError(f"limit must be None or 'continuum', got {limit!r}")
        from .compiler import continuum

        strength = self._continuum_strength(order, backend)
        K0 = input_kernel(X_all, 1.0)
        continuum.check_domain(K0, strength)
        depth_over_width = self.depth / self.widths[0]
        return continuum.flow(K0, strength, 1.0), _exact(lambda: continuum.continuum_moments(
            K0, n_train, y, noise_variance(n_train, beta), strength, depth_over_width)), "exact", None

    # ------------------------------------------------------------ the series
    def evidence(
        self, X: np.ndarray, y: np.ndarray, beta: float = math.inf, order: int = 0, backend: str = "auto",
        limit: str | None = None, method: str = "exact", samples: int | None = None, seed: int = 0,
        rtol: float | None = None, workers: int | None = None, scheduler: str | None = None, client: Any = None,
        lowering: str | None = None,
    ) -> Evidence:
        """Log evidence ``log E_prior[N(y; f(X), (P/beta) I)]`` to ``order`` in ``1/width``.

        ``terms[0]`` is the Gaussian-process value; ``terms[k]`` the ``n^-k`` part of
        ``log(E[z])``, ``z`` the evidence relative to the Gaussian process. ``backend``:
        ``"auto"`` or ``"compiled"``, the compiler (every order; ``"reference"`` was retired).
        ``limit="continuum"``: the ``L -> inf`` limit at fixed ``L/N`` of terms 0 and 1 (default cubic,
        ``sigma_w2 = 1``, equal widths): term 0 the GP of the continuum kernel, term 1
        ``(L/N) int_0^1 h(t) dt`` (``compiler/continuum.py``).
        ``method="sampled"``: terms ``k >= 1`` estimated from ``samples`` draws of each insertion pattern
        (``sampled``, deterministic for a ``seed``), with standard errors ``terms_se``;
        ``method="auto"``: exact or sampled, whichever the cost model and a pilot run say reaches the
        relative standard error ``rtol`` sooner (``Evidence.method`` says which).
        ``workers=k`` (a local Dask cluster of ``k`` processes), ``scheduler="tcp://..."`` or ``client=`` (a
        ``dask.distributed.Client``) run the sampled draws as tasks on a cluster; the numbers do not depend on
        the number of workers (``execution``).
        ``lowering``: how the compiler evaluates an exact order >= 1, ``"dense"``, ``"factored"`` (order 1) or
        ``"scale"`` (linear maps); ``None`` lets the cost model choose (``perturbo.compiler.cost``).
        ``Evidence.lowering`` says which ran.
        """
        beta = check_beta(beta)
        order = check_order(order, MAX_ORDER)
        _check_backend(backend)  # a bad name is an error before anything is computed
        sampling = Sampling.checked(method, samples, seed, rtol, Execution.checked(workers, scheduler, client))
        X, y, _ = check_data(X, y, None, beta)
        K, evaluate, chosen, ran = self._series_inputs(X, len(y), y, beta, order, backend, limit, sampling, lowering)
        terms = np.zeros(order + 1)
        terms[0] = gp_log_evidence(K, y, noise_variance(len(y), beta))  # raises if singular
        terms_se = None
        if order:
            corrections, se = evaluate(lambda m: m.log_evidence_terms())
            terms[1:] = corrections[1:]
            terms_se = None if se is None else np.concatenate([[0.0], se[1:]])
        require_finite(terms, "log evidence")
        value = float(terms.sum())
        error_estimate, converging = truncation_diagnostics(terms, "log evidence", max(1.0, abs(terms[0])), terms_se)
        return Evidence(
            log_evidence=value,
            terms=terms,
            log_partition=log_partition_from_evidence(value, len(y), beta),
            order=order,
            beta=beta,
            error_estimate=error_estimate,
            converging=converging,
            terms_se=terms_se,
            method=chosen,
            lowering=ran,
        )

    def predict(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_test: np.ndarray,
        beta: float = math.inf,
        order: int = 0,
        backend: str = "auto",
        limit: str | None = None,
        method: str = "exact",
        samples: int | None = None,
        seed: int = 0,
        rtol: float | None = None,
        workers: int | None = None,
        scheduler: str | None = None,
        client: Any = None,
        lowering: str | None = None,
    ) -> Prediction:
        """Posterior predictive mean, variance and covariance of ``f(X_test)`` to ``order`` (``backend``,
        ``limit``, ``method``, ``samples``, ``seed``, ``rtol``, ``workers``, ``scheduler``, ``client`` and
        ``lowering``: see evidence; ``method="sampled"`` gives ``mean_terms_se``, ``var_terms_se`` and ``cov_terms_se``)."""
        beta = check_beta(beta)
        order = check_order(order, MAX_ORDER)
        _check_backend(backend)  # a bad name is an error before anything is computed
        sampling = Sampling.checked(method, samples, seed, rtol, Execution.checked(workers, scheduler, client))
        if X_test is None:
            raise ValueError("predict needs test inputs X_test of shape (T, N0)")
        X, y, X_test = check_data(X, y, X_test, beta)
        P, T = len(y), len(X_test)
        K, evaluate, chosen, ran = self._series_inputs(
            np.vstack([X, X_test]), P, y, beta, order, backend, limit, sampling, lowering)
        mean, cov = gp_predict(K[:P, :P], K[P:, :P], K[P:, P:], y, noise_variance(P, beta))  # raises if singular
        mean_terms, cov_terms = mean[None], cov[None]
        mean_se = cov_se = None
        if order:
            def both(m: Moments) -> np.ndarray:
                mean_series, cov_series = m.mean_and_cov_terms()
                return np.concatenate([mean_series, cov_series.reshape(order + 1, T * T)], axis=1)

            joint, joint_se = evaluate(both)
            mean_terms, cov_terms = joint[:, :T], joint[:, T:].reshape(order + 1, T, T)
            if joint_se is not None:
                joint_se[0] = 0.0
                mean_se, cov_se = joint_se[:, :T], joint_se[:, T:].reshape(order + 1, T, T)
        require_finite(mean_terms, "posterior mean")
        require_finite(cov_terms, "posterior covariance")
        var_terms = np.diagonal(cov_terms, axis1=1, axis2=2).copy()
        var_se = None if cov_se is None else np.diagonal(cov_se, axis1=1, axis2=2).copy()
        prior_var = float(np.max(np.diagonal(K[P:, P:])))
        mean_error, mean_converging = truncation_diagnostics(
            mean_terms, "posterior mean", float(np.max(np.abs(y))), mean_se)
        var_error, var_converging = truncation_diagnostics(var_terms, "posterior variance", prior_var, var_se)
        return Prediction(
            mean=mean_terms.sum(axis=0),
            var=var_terms.sum(axis=0),
            cov=cov_terms.sum(axis=0),
            mean_terms=mean_terms,
            var_terms=var_terms,
            cov_terms=cov_terms,
            order=order,
            beta=beta,
            mean_error_estimate=mean_error,
            var_error_estimate=var_error,
            converging=None if mean_converging is None else bool(mean_converging and var_converging),
            mean_terms_se=mean_se,
            var_terms_se=var_se,
            cov_terms_se=cov_se,
            method=chosen,
            lowering=ran,
            noise_variance=noise_variance(P, beta),
        )

    def representations(
        self, X: np.ndarray, y: np.ndarray, X_test: np.ndarray | None = None, beta: float = math.inf, order: int = 1
    ) -> Representations:
        """Posterior mean of each hidden layer's Gram matrix ``S_l`` on the training (and test) points, to ``order``.

        ``E_post[S_l] = K_l + E[(S_l - K_l) z] / E[z]`` term by term (``compiler/representations.py``; the
        compiler's dense lowering, any activation and order): ``terms[l - 1, 0]`` is the prior kernel ``K_l``.
        ``error_estimate`` is ``|terms[:, order]|``; ``converging`` compares the Frobenius norms of each layer's
        terms (a ``RuntimeWarning`` when they grow).
        """
        beta = check_beta(beta)
        order = check_order(order, MAX_ORDER)
        X, y, X_test = check_data(X, y, X_test, beta)
        P = len(y)
        kernels = self.kernels(X if X_test is None else np.vstack([X, X_test]))
        gp_log_evidence(kernels[-1][:P, :P], y, noise_variance(P, beta))  # raises if singular
        M, L = len(kernels[0]), self.depth
        terms = np.zeros((L, order + 1, M, M))
        terms[:, 0] = kernels[1:]
        if order:
            from .compiler.cost import DENSE_MEMORY_LIMIT, representation_memory
            from .compiler.representations import representation_moments

            memory = representation_memory(order, M, L)
            if memory > DENSE_MEMORY_LIMIT:
                raise ValueError(
                    f"representations at order {order} on {M} points and {L} layers need about {memory / 1e9:.3g} GB: "
                    "use a lower order, fewer points or fewer test points"
                )
            problem = Problem(self.activation.phi, sp.nsimplify(self.sigma_w2, rational=True), kernels, P, y,
                              noise_variance(P, beta), self.widths, order)
            z, shifts = representation_moments(problem)
            for l in range(L):
                terms[l, 1:] = series.divide(shifts[l].reshape(order + 1, -1), z[:, None]).reshape(order + 1, M, M)[1:]
        require_finite(terms, "posterior representation")
        alignment = kernel_target_alignment(np.cumsum(terms, axis=1), y)
        norms = np.linalg.norm(terms, axis=(2, 3)).T  # (K+1, L): a layer's correction is judged as a matrix
        _, converging = truncation_diagnostics(norms, "posterior representations", float(np.max(norms[0])))
        return Representations(
            mean=terms.sum(axis=1), terms=terms, alignment=alignment, order=order, beta=beta,
            error_estimate=np.abs(terms[:, order]) if order else None, converging=converging,
        )

    def ntk(self, X: np.ndarray, y: np.ndarray, X_test: np.ndarray) -> NTKPrediction:
        """The infinite-width network trained by gradient flow on the squared loss, to convergence, from random
        initialisations (the neural tangent kernel, NTK parametrisation with the same weight variances):

            Theta_0 = K_0,   Theta_l = K_l + sigma_w2 E[phi'(u) phi'(v)] Theta_{l-1}   (entrywise, (u, v) ~ K_{l-1}),

        ``mean = Theta_xD Theta_DD^-1 y`` and the variance over initialisations (``NTKPrediction``). Beside
        ``net.predict(order=0)``, the Bayesian (NNGP) limit, it is the gradient-descent limit on the same data."""
        if X_test is None:
            raise ValueError("ntk needs test inputs X_test of shape (T, N0)")
        X, y, X_test = check_data(X, y, X_test, 1.0)  # no temperature: gradient flow interpolates the data
        P = len(y)
        X_all = np.vstack([X, X_test])
        kernels = self.kernels(X_all)
        theta = tangent_kernel_flow(kernels, numeric_derivative_map(self.activation.phi, self.sigma_w2))
        lam, U = np.linalg.eigh(theta[:P, :P])
        check_condition(lam, 0.0)
        solve = (U / lam) @ U.T  # Theta_DD^-1
        gain = theta[P:, :P] @ solve  # Theta_xD Theta_DD^-1
        K = kernels[-1]
        cross = gain @ K[:P, P:]
        cov = K[P:, P:] + gain @ K[:P, :P] @ gain.T - cross - cross.T
        cov = 0.5 * (cov + cov.T)
        require_finite(cov, "NTK predictive covariance")
        return NTKPrediction(mean=gain @ y, var=np.diagonal(cov).copy(), cov=cov, kernel=theta)

    # ------------------------------------------------------------ the proportional regime
    def renormalized(
        self, X: np.ndarray, y: np.ndarray, X_test: np.ndarray | None = None, beta: float = math.inf,
        ansatz: str = "wishart", loop: bool = True, mixture: bool = False, matched: bool = False,
    ) -> Renormalized:
        """Kernel renormalisation, for ``L P / N`` of order one (``perturbo.renormalization``; guide section 10).

        The Gaussian process with the kernel renormalised by one order parameter ``s_l`` per layer (and ``Q_l`` for a
        non-odd activation's mean part) at the saddle point of their action: ``ansatz="wishart"`` (the equivalent
        Wishart ansatz: the NNGP kernel ``K_L`` scaled by ``prod_l s_l``; exact for the deep linear network) or
        ``"nested"`` (each layer renormalises its own output). ``loop`` adds the Gaussian fluctuations of the order
        parameters to the log evidence; ``mixture`` integrates the Wishart ansatz's scale exactly instead of at its
        saddle (odd activations); ``matched`` replaces the ansatz's own first-order coefficient by the engine's exact
        ``terms[1]`` (exact to first order in ``1/N``, and, at ``psi = 0``, in the proportional limit).
        """
        from .renormalization import ANSATZE, renormalize

        beta = check_beta(beta)
        if ansatz not in ANSATZE:
            raise ValueError(f"ansatz must be one of {', '.join(map(repr, ANSATZE))}, not {ansatz!r}")
        for name, flag in (("loop", loop), ("mixture", mixture), ("matched", matched)):
            if not isinstance(flag, bool):
                raise ValueError(f"{name} must be True or False, got {flag!r}")
        X, y, X_test = check_data(X, y, X_test, beta)
        kernels = self.kernels(X if X_test is None else np.vstack([X, X_test]))
        exact_first_order = None
        if matched:
            from .renormalization.expansion import Coefficients

            def exact_first_order() -> Coefficients:
                terms = self.evidence(X, y, beta, order=1).terms
                if X_test is None:
                    return Coefficients(terms[1], None, None, None)
                pr = self.predict(X, y, X_test, beta, order=1)
                return Coefficients(terms[1], pr.mean_terms[1], pr.var_terms[1], pr.cov_terms[1])

        result = renormalize(ansatz, kernels, self.activation.phi, sp.nsimplify(self.sigma_w2, rational=True),
                             self.widths, len(y), y, beta, loop, mixture, exact_first_order)
        require_finite(result.log_evidence, "renormalised log evidence")
        require_finite(result.cov, "renormalised posterior covariance")
        return result

    # ------------------------------------------------------------ references
    def sample_posterior(
        self, X: np.ndarray, y: np.ndarray, X_test: np.ndarray, beta: float, samples: int = 2000, chains: int = 4,
        warmup: int = 1000, seed: int = 0, progress: bool | None = None,
    ) -> "PosteriorSample":
        """The finite network's posterior predictive by NUTS over its hidden weights (``reference/posterior.py``;
        numpyro on JAX, ``pip install 'perturbo[sampling]'``), the read-out integrated out exactly: ``mean``,
        ``mean_se``, ``var``, ``var_se``, ``cov``, ``rhat``, ``ess``, ``divergences``. Finite ``beta`` only.
        ``progress``: numpyro's progress bar (default: on a terminal)."""
        from .reference.posterior import sample_posterior

        beta = check_beta(beta)
        if math.isinf(beta):
            raise ValueError(
                "posterior sampling needs a finite beta: at beta = inf the posterior lives on the set of weights that fit "
                "the data exactly, where MCMC cannot move. Use the series (net.predict), the exact deep linear answer "
                "(net.exact) or the Gram-chain Monte Carlo (net.monte_carlo) there"
            )
        samples, chains = check_count(samples, "samples", 4), check_count(chains, "chains", 1)
        warmup, seed = check_count(warmup, "warmup", 1), check_seed(seed)
        if X_test is None:
            raise ValueError("sample_posterior needs test inputs X_test of shape (T, N0)")
        X, y, X_test = check_data(X, y, X_test, beta)
        show = sys.stderr.isatty() if progress is None else bool(progress)
        result = sample_posterior(np.vstack([X, X_test]), len(y), y, self.widths, self.activation, self.sigma_w2,
                                  noise_variance(len(y), beta), samples, chains, warmup, seed, show)
        require_finite(result.cov, "sampled posterior covariance")
        return result

    def exact(
        self, X: np.ndarray, y: np.ndarray, X_test: np.ndarray | None = None, beta: float = math.inf
    ) -> ExactResult:
        """Exact answers for the deep linear network (``psi = 0``), any widths, any ``beta``.

        ``f ~ N(0, s K_L)`` with ``s = prod_l chi2_{N_l}/N_l``; see docs/design.md section 4.
        """
        if not self.activation.is_linear:
            raise ValueError(
                f"exact answers exist only for the deep linear network (psi = 0), this one has "
                f"phi(t) = {self.activation.phi}; use net.monte_carlo for nonlinear networks"
            )
        from .reference.deep_linear import deep_linear_exact

        beta = check_beta(beta)
        X, y, X_test = check_data(X, y, X_test, beta)
        K = self.kernels(X if X_test is None else np.vstack([X, X_test]), last_only=True)[-1]
        P = len(y)
        K_DD, K_xD, K_xx = K[:P, :P], (None if X_test is None else K[P:, :P]), (None if X_test is None else K[P:, P:])
        cholesky_of_training_kernel(K_DD, noise_variance(P, beta))  # raises if singular
        result = deep_linear_exact(K_DD, y, self.widths, beta, K_xD=K_xD, K_xx=K_xx)
        require_finite(result.log_evidence, "exact log evidence")
        require_finite(result.cov, "exact posterior covariance")
        return ExactResult(
            log_evidence=result.log_evidence,
            log_partition=log_partition_from_evidence(result.log_evidence, len(y), beta),
            mean=result.mean,
            var=result.var,
            cov=result.cov,
            noise_variance=noise_variance(P, beta),
        )

    def monte_carlo(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_test: np.ndarray | None = None,
        beta: float = math.inf,
        samples: int = 100_000,
        seed: int = 0,
    ) -> "MonteCarloEstimate":
        """Ground truth from finite networks: sample the Gram chain, Rao-Blackwellised read-out."""
        from .reference.monte_carlo import monte_carlo

        beta = check_beta(beta)
        samples = check_samples(samples)
        seed = check_seed(seed)
        X, y, X_test = check_data(X, y, X_test, beta)
        X_all = X if X_test is None else np.vstack([X, X_test])
        estimate = monte_carlo(
            X_all, len(y), y, self.widths, self.activation, self.sigma_w2, beta, samples=samples, seed=seed
        )
        require_finite(estimate.log_evidence, "Monte Carlo log evidence")
        require_finite(estimate.cov, "Monte Carlo posterior covariance")
        return estimate
