"""The compiler of every order: derive -> plan -> lower -> evaluate.

    derive    the order-K terms, once per order (exact rational multiplicities):
              ``transfer.transfer_terms`` (the cumulants of the fluctuation through one layer, for any
              activation) and ``readout.readout_networks`` (the Bayesian read-out).
    plan      ``plan`` picks a lowering from the problem's size (``cost``), or takes the one the problem
              names (``Problem.lowering``).
    lower and evaluate
              ``dense``    cumulants as dense arrays over the points, layer by layer (``dense``);
              ``factored`` the first order as tensor networks of pair kernels in ``O(M^2)`` memory
                           (``factored_plan``: a plan of pairwise steps with shared stars and sliced loops,
                           run by ``factored``; the one lowering specific to an order);
              ``scale``    linear maps, every order: the output is a scale mixture of the Gaussian
                           process, series in one scalar (``scale``).

``moments(problem)`` is the evaluator of ``perturbo.problem`` the model calls.
"""
from __future__ import annotations

import logging
import warnings

from ..problem import Moments, Problem
from .cost import LOWERINGS, Plan
from .program import Program, program

log = logging.getLogger(__name__)

EXPENSIVE_SECONDS = 60.0
"""Above this estimate an exact evaluation warns first (with the cheaper options)."""


def problem_program(problem: Problem) -> Program:
    """The program of the problem's activation, weight variance and order (``program``: one per key)."""
    return program(problem.phi, problem.order, problem.sigma_w2)


def plan(problem: Problem) -> Plan:
    """The problem's lowering (the cheapest, or the one it names) with its estimates (``Program.plan``)."""
    return problem_program(problem).plan(len(problem.kernels[-1]), len(problem.widths), problem.lowering,
                                         problem.n_test > 0)


def moments(problem: Problem, chosen: Plan | None = None) -> Moments:
    """The compiled backend: plan (unless the caller has: ``chosen``), then evaluate with the chosen lowering."""
    chosen = plan(problem) if chosen is None else chosen
    log.info("compiled order %d on %d points: %s", problem.order, len(problem.kernels[-1]), chosen.describe())
    if chosen.seconds > EXPENSIVE_SECONDS:
        warnings.warn(
            f"exact order {problem.order} on {len(problem.kernels[-1])} points ({chosen.lowering} lowering) is "
            f"estimated at {chosen.seconds:.0f} s; cheaper: a lower order or fewer points",
            RuntimeWarning,
            stacklevel=4,
        )
    if chosen.lowering == "factored":
        from .factored import factored_moments

        return factored_moments(problem)
    if chosen.lowering == "scale":
        from .scale import scale_moments

        return scale_moments(problem)
    from .dense import dense_moments

    return dense_moments(problem, chosen.printed)


__all__ = ["LOWERINGS", "Plan", "Program", "moments", "plan", "problem_program", "program"]
