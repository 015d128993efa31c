"""``method=``: exact, sampled, or chosen by cost.

``method="auto"`` compares the compiler's cost estimate of the exact order (``compiler.cost``) with the
time the sampled estimator needs to reach the relative standard error ``rtol``, measured by a pilot run
of ``PILOT_SAMPLES`` draws:

    samples = PILOT_SAMPLES * (rel_se(pilot) / rtol)^2,    seconds = pilot seconds * samples / PILOT_SAMPLES,

with ``rel_se`` the largest over ``k >= 1`` of ``|se of term k| / |term k|`` (Frobenius norms over
``z``, ``z m_x`` and ``z (C + m m^T)``). An exact evaluation estimated under ``EXACT_IS_CHEAP`` seconds
is taken without a pilot.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from ..problem import Problem
from ..execution import Execution
from ..validation import check_samples, check_seed

log = logging.getLogger(__name__)

METHODS = ("exact", "sampled", "auto")
DEFAULT_SAMPLES = 2000
DEFAULT_RTOL = 0.05
"""``rtol`` when none is given (``method="auto"``): the target standard error of each correction, relative to it."""
PILOT_SAMPLES = 64
EXACT_IS_CHEAP = 5.0
MAX_SAMPLES = 10**6


@dataclass(frozen=True)
class Sampling:
    """How the corrections are evaluated: ``method``, ``samples``, ``seed``, ``rtol`` and where the draws
    run (``execution``), checked."""

    method: str
    samples: int | None
    seed: int
    rtol: float | None
    execution: Execution = Execution()

    @classmethod
    def checked(cls, method: object, samples: object, seed: object, rtol: object,
                execution: Execution = Execution()) -> Sampling:
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
        if method == "exact" and (samples is not None or rtol is not None):
            raise ValueError("samples and rtol apply to method='sampled' or 'auto'; method='exact' takes neither")
        if samples is not None and rtol is not None:
            raise ValueError("give samples (a fixed number of draws) or rtol (a target relative standard error), not both")
        if samples is not None:
            samples = check_samples(samples)
        if rtol is not None and not (isinstance(rtol, (int, float)) and not isinstance(rtol, bool)
                                     and math.isfinite(rtol) and 0 < rtol < 1):
            raise ValueError(f"rtol must be a number between 0 and 1 (a relative standard error), got {rtol!r}")
        if method == "exact" and execution.distributed:
            raise ValueError("workers=, scheduler= and client= distribute the sampled estimator's draws: use "
                             "method='sampled' or 'auto'")
        return cls(str(method), samples, check_seed(seed), None if rtol is None else float(rtol), execution)

    def decide(self, problem: Problem) -> tuple[str, int]:
        """``(method, samples)`` for this problem (``samples`` is unused when the method is exact)."""
        if self.method == "exact":
            return "exact", 0
        if self.method == "sampled" and self.rtol is None:
            return "sampled", self.samples or DEFAULT_SAMPLES
        exact_seconds = math.inf
        if self.method == "auto":
            from ..compiler import plan

            try:
                exact_seconds = plan(problem).seconds
            except ValueError:  # no exact lowering fits in memory
                pass
            if exact_seconds <= EXACT_IS_CHEAP and self.samples is None:
                log.info("method='auto': exact (estimated %.2g s)", exact_seconds)
                return "exact", 0
        samples, seconds = self._pilot(problem, self.rtol or DEFAULT_RTOL)
        if self.samples is not None:
            samples, seconds = self.samples, seconds * self.samples / samples
        method = "sampled" if seconds < exact_seconds else "exact"
        log.info("method=%r: %s (exact about %.3g s, sampled about %.3g s with %d samples)", self.method, method,
                 exact_seconds, seconds, samples)
        return method, samples

    def _pilot(self, problem: Problem, rtol: float) -> tuple[int, float]:
        """Samples and seconds the sampled estimator needs for ``rtol``, from a pilot run."""
        from .estimator import sampled_series

        start = time.perf_counter()
        pilot = sampled_series(problem, PILOT_SAMPLES, self.seed, show_progress=False, execution=self.execution)
        seconds = time.perf_counter() - start
        relative = pilot.relative_error()
        samples = int(min(MAX_SAMPLES, max(PILOT_SAMPLES, math.ceil(PILOT_SAMPLES * (relative / rtol) ** 2))))
        return samples, seconds * samples / PILOT_SAMPLES

