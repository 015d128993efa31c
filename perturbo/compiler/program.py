"""One inspectable program per (activation, weight variance, order): every stage of the compiler as data.

    derive   local_map   the layer map's local Taylor data ``c^beta = d^beta f / beta!`` (``layer_maps.LocalMap``)
             transfer    ``n ->`` the derived transfer terms of ``kappa_n``, exact multiplicities (``transfer``)
             spectator   ``n ->`` the mixed cumulants' terms (posterior representations)
             readout     ``degree -> output ->`` the read-out networks (``readout``)
    lower    readout_plan(tested)   the networks' contractions as pairwise steps, equal steps once (``readout``)
             kernels     ``n -> TransferKernel``, the typed IR of the dense transfer (``fused_transfer.lower``)
             printed     the ``n`` whose kernels are printed (``fused_transfer.PRINTED_PRODUCTS_LIMIT``)
             tables      ``n -> ProductTable``, each kernel as arrays for the compiled ``run_products``
             spectator_transfer   the mixed cumulants' kernels, run from their tables
    print    source()    the Numba module of the printed kernels; ``module()`` loads it (cached by content hash);
             compiled_transfer(printed)   what the dense lowering runs: printed kernels, or tables
             factored    order 1: the factored plans (``factored_plan``: networks, paths, stars, sliced loops)
    plan     plan(points, depth, lowering=None)   the lowering, its time and memory (``cost``); for the factored first
                                                 order it counts the work of the factored plan (``factored_work``)

``stages()`` returns every intermediate form by name (as devito's ``Operator._lower`` does). Stages are computed
on first use and kept: ``program`` caches one object per key, which the dense lowering, the posterior
representations, the cost model (and ``perturbo cost``), the printed expansion and ``perturbo compile`` all read.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from types import ModuleType

import sympy as sp

from ..activation import parse_shaping, t
from .cost import FactoredWork, Plan, Size, TermClass, check_lowering, plan_for, uses_factored
from .factored import BLOCK_ROWS
from .factored_plan import PLANNED_SIZES, FactoredPlan, factored_plans
from .factored_plan import stages as factored_stages
from .fused_transfer import (CompiledTransfer, ProductTable, TransferKernel, is_printed, lower, lowered_kernels,
                             print_module, tabulate, terms_key, transfer_module)
from .layer_maps import LocalMap, local_map_of
from .readout import OUTPUTS, ReadoutNetwork, ReadoutPlan, contraction_count, readout_networks, readout_plan
from .scale import linear_slope
from .transfer import Term, transfer_terms_for


@dataclass(frozen=True)
class Program:
    """The order-``order`` program of ``phi`` at weight variance ``sigma_w2`` (module docstring)."""

    phi: sp.Expr
    sigma_w2: sp.Expr
    order: int

    # ------------------------------------------------------------------ derive
    @property
    def local_map(self) -> LocalMap:
        return local_map_of(self.phi, self.sigma_w2)

    @property
    def degree_and_monomials(self) -> tuple[int, int]:
        """The activation's degree in ``t`` and its number of monomials."""
        return int(sp.degree(self.phi, t)), len(sp.Poly(self.phi, t).terms())

    @cached_property
    def transfer(self) -> dict[int, tuple[Term, ...]]:
        """``n -> `` the terms of ``kappa_n`` of the next layer, ``n = 1..order + 1`` (none at order 0)."""
        return transfer_terms_for(self.phi, self.local_map, self.order) if self.order else {}

    @cached_property
    def spectator(self) -> dict[int, tuple[Term, ...]]:
        """``n ->`` the terms of the mixed cumulants ``kappa(X^(s)_e, X'_1..X'_n)``, ``n = 1..order``."""
        return transfer_terms_for(self.phi, self.local_map, self.order, spectator=True) if self.order else {}

    @cached_property
    def readout(self) -> dict[int, dict[str, tuple[ReadoutNetwork, ...]]]:
        """``degree -> output -> networks``, degrees ``0..2 order`` of ``z``, ``z m_x``, ``z (C_xx' + m_x m_x')``."""
        return {degree: readout_networks(degree, 2 * self.order) for degree in range(2 * self.order + 1)}

    # ------------------------------------------------------------------ lower and print
    def readout_plan(self, tested: bool = True) -> ReadoutPlan:
        """The read-out's pairwise contraction steps, of ``z`` alone or, where ``tested``, of every output
        (``readout.readout_plan``: one per order, made once per machine)."""
        return readout_plan(self.order, tested)

    @cached_property
    def kernels(self) -> dict[int, TransferKernel]:
        """``n ->`` the lowered transfer of ``kappa_n`` (printed or not: ``printed`` says); shared by every program
        with the same terms (``fused_transfer.lowered_kernels``: all cubics, say)."""
        return lowered_kernels(terms_key(self.transfer), self.order)

    @cached_property
    def printed(self) -> frozenset[int]:
        return frozenset(n for n, kernel in self.kernels.items() if is_printed(kernel))

    @cached_property
    def tables(self) -> dict[int, ProductTable]:
        """``n ->`` the lowered kernel as arrays (``fused_transfer.tabulate``), run where it is not printed."""
        return {n: tabulate(kernel) for n, kernel in self.kernels.items()}

    @cached_property
    def spectator_transfer(self) -> CompiledTransfer:
        """The mixed cumulants' transfer (``spectator``), lowered as the dense transfer is and run from tables (one per
        ``n``; they are not printed)."""
        kernels = {n: lower(terms, n, self.order, spectator=True) for n, terms in self.spectator.items()}
        return CompiledTransfer(kernels, {n: tabulate(kernel) for n, kernel in kernels.items()}, frozenset(), None)

    def compiled_transfer(self, printed: bool = True) -> CompiledTransfer:
        """The dense transfer of every cumulant: its printed kernel where ``printed`` and it is printed (compiling the
        module on first use), else its table."""
        use = self.printed if printed else frozenset()
        return CompiledTransfer(self.kernels, self.tables, use, self.module() if use else None)

    def source(self) -> str:
        """The Numba module of the printed kernels (``fused_transfer.print_module``)."""
        return print_module({n: self.kernels[n] for n in sorted(self.printed)}, self.local_map.curvatures)

    def module(self) -> ModuleType | None:
        """The printed kernels' module, compiled and cached on disk by the hash of its text (``None``: none printed)."""
        return transfer_module(terms_key(self.transfer), self.order, self.local_map.curvatures)[1]

    # ------------------------------------------------------------------ plan
    @cached_property
    def term_classes(self) -> tuple[TermClass, ...]:
        """One ``TermClass`` per output cumulant ``kappa_n``: the dense lowering's work per layer."""
        kernels, printed = self.kernels, self.printed
        return tuple(TermClass(n, len(terms), len(kernels[n].products), n in printed)
                     for n, terms in sorted(self.transfer.items()))

    @cached_property
    def readout_contractions(self) -> dict[bool, int]:
        """The dense read-out's contractions (``readout.contraction_count``) without and with test points."""
        return {tested: contraction_count(self.readout, self.order, OUTPUTS if tested else ("z",))
                for tested in (False, True)}

    @cached_property
    def factored(self) -> dict[str, FactoredPlan]:
        """The first order's factored plans, of the noise networks and of the mean shift (``factored_plan``; derived
        once per machine and networks' shape, shared by every activation of that shape: 2 s for the cubic's, 14 s for
        a degree-7 shaping's, then kept on disk)."""
        return factored_plans(self.phi, self.sigma_w2)

    @cached_property
    def factored_work(self) -> FactoredWork:
        """The factored plan's work per layer (``cost.FactoredWork``), counted on its steps and schedule (the block
        products over ``M^3`` entries inside the sliced loops get no term: a fit gives them none)."""
        plan = self.factored["quadratic"]
        points = [plan.loop_points(k) for k in range(len(plan.steps))]
        held = plan.peak_entries(PLANNED_SIZES["point"], PLANNED_SIZES["test"], BLOCK_ROWS) / PLANNED_SIZES["point"]**2
        return FactoredWork(len(points), points.count(2), sum(p >= 4 for p in points), held)

    def size(self, points: int, depth: int, lowering: str | None = None, tested: bool = True) -> Size:
        """What the cost of ``lowering`` (``None``: the default) depends on; the transfer's term classes and the
        read-out's contractions (of ``z`` alone, or with the test points' moments where ``tested``) unless the
        activation is linear (the scale lowering), the factored plan's work where the factored lowering runs."""
        linear = linear_slope(self.phi) is not None
        degree, monomials = self.degree_and_monomials
        size = Size(self.order, points, depth, () if linear else self.term_classes, linear,
                    contractions=0 if linear else self.readout_contractions[tested], degree=degree,
                    monomials=monomials)
        check_lowering(lowering, size)  # (before generating a module for a lowering that does not apply)
        return replace(size, factored=self.factored_work) if uses_factored(size, lowering) else size

    def plan(self, points: int, depth: int, lowering: str | None = None, tested: bool = True) -> Plan:
        """The lowering for ``points`` (training plus test; ``tested``: some of them test points) and ``depth``
        layers, with its time and memory estimates (``cost.plan_for``; ``ValueError`` with the numbers where it is
        not practical)."""
        return plan_for(self.size(points, depth, lowering, tested), lowering)

    def stages(self) -> dict[str, object]:
        """Every intermediate form by name: derived terms and networks, lowered kernels, printed source; at order 1
        also the factored plan's forms by pass (``factored_plan.stages``)."""
        return {"local_map": self.local_map.coefficients, "transfer": self.transfer, "spectator": self.spectator,
                "readout": self.readout, "kernels": self.kernels, "printed": self.printed, "tables": self.tables,
                "spectator_tables": self.spectator_transfer.tables, "readout_plan": self.readout_plan(),
                "source": self.source() if self.printed else ""} | (
                    {"factored": factored_stages(self.phi, self.sigma_w2)} if self.order == 1 else {})


@lru_cache(maxsize=64)
def _program(phi: sp.Expr, order: int, sigma_w2: sp.Expr) -> Program:
    return Program(phi, sigma_w2, order)


def program(phi: str | sp.Expr, order: int, sigma_w2: float | sp.Expr = 1) -> Program:
    """The program of the activation ``phi(t)`` (a polynomial: expression or string; its float coefficients taken as
    the rationals they print as) to ``order`` (one per key)."""
    if not isinstance(order, int) or isinstance(order, bool) or order < 0:
        raise ValueError(f"order must be a non-negative integer, got {order!r}")
    expr = parse_shaping(phi, 0.0) if isinstance(phi, str) else sp.expand(sp.nsimplify(phi, rational=True))
    return _program(expr, order, sp.nsimplify(sigma_w2, rational=True))
