"""Which lowering, at what cost: the plan of one compiled evaluation.

Costs are estimates from the term counts and array sizes, calibrated on this 2-core machine:

    dense     time  ~ 8 ms + 1e-5 s * contractions                    (read-out: its contractions, ``Size``)
                    + L * [M^n (1e-7 s + (1.5e-9 s (d + 1)^n            (one copy's cumulants by Wick, n = 2 order + 2,
                                        + 6.2e-8 s c^n) / n!)            d the activation's degree, c its monomials:
                                                                        ``noise_seconds``)
                         + sum_n (1e-8 s * (order + 1) * M^(2n)       (writing kappa_n)
                                  + 1e-8 s * products_n * entries_n)]  (printed; entries_n = C(M(M+1)/2 + n - 1, n),
                                                                        the canonical entries of kappa_n)
              with ``1.7e-8 s`` per product and entry for a kernel run from its table (not printed);
              memory ~ 64 bytes * (order + 1) * M^(2 order + 2)   (state, next state, temporaries);
    factored  order 1 only, from ``FACTORED_FROM_POINTS`` points (or when requested), counted on its plan
              (``FactoredWork``: ``steps`` pairwise steps a layer, ``squares`` of them looping over ``M^2`` entries,
              ``stars`` over ``M^4``, and ``held``, the most arrays of ``M^2`` entries it holds at once):
              time ~ L * [3e-6 s * steps + 1.4e-8 s * squares * M^2 + 3.5e-11 s * stars * M^4],
              memory ~ 1.7 * 8 M^2 bytes * held, plus the plan, derived once per networks' shape (kept on disk);
    scale     phi linear, every order: one eigendecomposition and series in one scalar, O(P^3 + P T^2 K):
              time ~ 5 ms + M^3 / FLOPS, memory ~ 16 M^2 bytes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

DENSE_MEMORY_LIMIT = 4e9
"""Bytes; a dense evaluation above this is refused with a clear message."""

FACTORED_FROM_POINTS = 12
"""Order 1 on fewer points runs dense: it needs no factored plan (a degree-7 activation's takes about 14 s to derive
the first time, ``benchmarks/compiled_orders.py --only cold``) and takes well under a second there."""

LOWERINGS = ("dense", "factored", "scale")

PRINT_FROM_SECONDS = 5.0
"""The dense lowering prints its transfer kernels when that saves more than this per evaluation against running
their tables: a printed module compiles once per machine and term structure (order 2: 13-14 s for a new structure
once perturbo's runtime is compiled, about 20 s on a machine that has compiled nothing), which then pays back within
a few evaluations. The tables are 1.3-2x slower than the printed kernels on the transfer alone and the Wick tensors
cost the same to both, so the cubic at order 2 and ``L = 6`` never prints within the memory limit; at ``L = 30`` it
prints from 15 points (training plus test)."""

SECONDS_PER_NOISE_ENTRY = 1e-7
SECONDS_PER_ISSERLIS_ENTRY = 1.5e-9
SECONDS_PER_MONOMIAL_CHOICE = 6.2e-8
"""One copy's cumulants at a layer (``copy_cumulants``): every entry of the top one is written (``M^n``, ``n = 2 order
+ 2``), and each multiset of ``n`` points (about ``M^n / n!``) fills an Isserlis table of about ``(d + 1)^n`` moments
for an activation of degree ``d`` and sums over the ``c^n`` choices of one of its ``c`` monomials per point
(``wick.product_expectation``). Measured noise time per layer at order 2 on 8 and 10 points, per ``M^n`` entry, for
``phi = t + p(t)/L`` (model in brackets): ``p = -0.2 t^3`` 1.0-1.4e-7 s (1.1e-7), ``0.5 t^2 - 0.3 t^3`` 1.5-1.8e-7
(1.7e-7), ``0.2 t^3 - 0.1 t^7`` 0.9-1.1e-6 (0.7e-6), ``0.0013 t^7 - 0.011 t^5 - 0.31 t^3 - 0.1 t^2`` 1.4-2.1e-6
(2.0e-6); at order 1 the model is 1.3-1.9x high (the cubic 0.9e-7 s against 1.6e-7)."""
DENSE_FIXED_SECONDS = 8e-3
SECONDS_PER_CONTRACTION = 1e-5
"""The read-out's cost per contraction on few points (order 3: 45,781 for evidence and predict, 0.25-0.45 s on 4 to 7
points along the plan's 44,593 shared steps, ``readout.plan_readout``; order 2 on 14 points: 1,785 in 0.09 s)."""
SECONDS_PER_OUTPUT = 1e-8
SECONDS_PER_PRODUCT = 1e-8
SECONDS_PER_TABLE_PRODUCT = 1.7e-8
"""Calibrated on the cubic at order 2, ``M = 14``, and order 3, ``M = 5`` (``benchmarks/fused_transfer.py``,
``benchmarks/cost_model.py``)."""
FLOPS = 1.5e10

SECONDS_PER_STEP = 3.0e-6
SECONDS_PER_SQUARE_ENTRY = 1.4e-8
SECONDS_PER_STAR_ENTRY = 3.5e-11
MEMORY_PER_HELD = 1.7
"""The factored lowering's constants: a star's ``M^4`` product at this machine's BLAS speed (57 GFlop/s), the rest
fitted to the cubic at ``M = 18..258`` and a degree-7 shaping at ``M = 18..66`` (``L = 6``,
``benchmarks/cost_model.py``: measured time 0.89-1.15x the estimate). The peak memory is 1.2-1.7x the plan's own
arrays (the mean shift's local covariances and the layer's derivative kernels come on top): the rule takes 1.7x."""


@dataclass(frozen=True)
class FactoredWork:
    """The factored plan's work per layer (``Program.factored_work`` counts it on the plan): its pairwise steps,
    those looping over ``M^2`` and over ``M^4`` entries, and the most ``M x M`` arrays it holds at once."""

    steps: int
    squares: int
    stars: int
    held: float


@dataclass(frozen=True)
class Plan:
    lowering: str  # "dense" | "factored" | "scale"
    seconds: float
    memory: float
    printed: bool = False  # dense: the transfer runs printed kernels (else their tables)

    def describe(self) -> str:
        kernels = " (printed kernels)" if self.printed else ""
        return f"{self.lowering} lowering{kernels}, about {self.seconds:.2g} s and {self.memory / 1e6:.3g} MB"


@dataclass(frozen=True)
class TermClass:
    """The derived transfer of ``kappa_n``: its terms, its lowered kernel's products, and whether that kernel is printed
    (else it runs from its table)."""

    n: int
    terms: int
    products: int
    printed: bool


def canonical_entries(points: int, n: int) -> int:
    """The entries of ``kappa_n`` on ``points`` points up to its symmetries (entries ``a <= b``, in non-decreasing
    order): the multisets of ``n`` of the ``M(M+1)/2`` pairs, about ``M^(2n) / (2^n n!)``."""
    return math.comb(points * (points + 1) // 2 + n - 1, n)


@dataclass(frozen=True)
class Size:
    """What the cost depends on: the order, the number of points (training plus test), the depth, the transfer's term
    classes and whether the activation is linear (``Program.size`` fills it in)."""

    order: int
    points: int
    depth: int
    classes: tuple[TermClass, ...]
    linear: bool
    factored: FactoredWork | None = None  # given when the factored lowering is taken (``uses_factored``)
    contractions: int = 0  # the dense read-out's (``readout.contraction_count``)
    degree: int = 3  # the activation's degree and number of monomials (the copies' Wick tensors: ``noise_seconds``)
    monomials: int = 2


def noise_seconds(order: int, points: int, degree: int, monomials: int) -> float:
    """One layer's copy cumulants, ``n = 2 order + 2``: ``M^n (SECONDS_PER_NOISE_ENTRY + (SECONDS_PER_ISSERLIS_ENTRY
    (d + 1)^n + SECONDS_PER_MONOMIAL_CHOICE c^n) / n!)`` for degree ``d`` and ``c`` monomials."""
    n = 2 * order + 2
    per_multiset = SECONDS_PER_ISSERLIS_ENTRY * (degree + 1) ** n + SECONDS_PER_MONOMIAL_CHOICE * monomials ** n
    return float(points) ** n * (SECONDS_PER_NOISE_ENTRY + per_multiset / math.factorial(n))


BYTES_PER_DENSE_ENTRY = 64.0
"""Measured peak (``tracemalloc``, evidence and predict, ``L = 8``): 24-25 bytes per entry of the top cumulant's rows at
orders 1 and 2, 50 at order 3 (the read-out's intermediates); a margin for what ``tracemalloc`` does not see."""


def dense_memory(order: int, points: int) -> float:
    """Bytes the dense lowering holds on ``points`` points: ``BYTES_PER_DENSE_ENTRY (order + 1) M^(2 order + 2)``, for
    the top cumulant's rows in the state, the next state and the temporaries of one layer."""
    return BYTES_PER_DENSE_ENTRY * (order + 1) * float(points) ** (2 * order + 2)


def representation_memory(order: int, points: int, depth: int) -> float:
    """Bytes the posterior representations hold: ``8 (order + 1) M^(2 order + 2) (L + 3)`` for the mixed cumulants of
    the ``L`` layers (``compiler.representations``), the state and one layer's temporaries (measured: ``L + 2.2`` to
    ``L + 2.6`` such arrays at orders 1 and 2, ``L = 2`` to 8)."""
    return 8.0 * (order + 1) * float(points) ** (2 * order + 2) * (depth + 3)


def dense_cost(size: Size, printed: bool = True) -> tuple[float, float]:
    """``(seconds, bytes)`` of the dense lowering (module docstring): with the printed kernels, or every table."""
    M, order = float(size.points), size.order
    seconds = noise_seconds(order, size.points, size.degree, size.monomials)
    for c in size.classes:
        per_product = SECONDS_PER_PRODUCT if printed and c.printed else SECONDS_PER_TABLE_PRODUCT
        seconds += (SECONDS_PER_OUTPUT * (order + 1) * M ** (2 * c.n)
                    + per_product * c.products * canonical_entries(size.points, c.n))
    readout = DENSE_FIXED_SECONDS + SECONDS_PER_CONTRACTION * size.contractions
    return readout + size.depth * seconds, dense_memory(order, size.points)


def check_lowering(lowering: str | None, size: Size) -> None:
    """A requested lowering must exist and apply: ``factored`` is the first order's, ``scale`` linear maps'."""
    if lowering is None:
        return
    if lowering not in LOWERINGS:
        raise ValueError(f"lowering must be None (chosen by cost) or one of {', '.join(LOWERINGS)}, not {lowering!r}")
    if lowering == "factored" and size.order != 1:
        raise ValueError(f"the factored lowering is the first order's: order {size.order} needs 'dense' (or None)")
    if lowering == "scale" and not size.linear:
        raise ValueError("the scale lowering needs a linear activation: use 'dense' or None")


def uses_factored(size: Size, lowering: str | None) -> bool:
    """The factored lowering is taken when requested, or by default at order 1 from ``FACTORED_FROM_POINTS`` points
    (unless the activation is linear: the scale lowering)."""
    if lowering is not None:
        return lowering == "factored"
    return size.order == 1 and size.points >= FACTORED_FROM_POINTS and not size.linear


def factored_seconds(size: Size) -> float:
    """The factored lowering's time (module docstring); ``size.factored`` must be given."""
    M, work = float(size.points), size.factored
    return size.depth * (SECONDS_PER_STEP * work.steps + SECONDS_PER_SQUARE_ENTRY * work.squares * M**2
                         + SECONDS_PER_STAR_ENTRY * work.stars * M**4)


def plan_for(size: Size, lowering: str | None = None) -> Plan:
    """The lowering for ``size`` (the cheapest, or the one requested); ``ValueError`` (with the numbers) when it
    is not practical."""
    check_lowering(lowering, size)
    M, order = size.points, size.order
    if lowering == "scale" or (lowering is None and size.linear):
        return Plan("scale", 5e-3 + float(M) ** 3 / FLOPS, 16.0 * M * M)
    if uses_factored(size, lowering):
        return Plan("factored", factored_seconds(size), MEMORY_PER_HELD * 8.0 * M * M * size.factored.held)
    seconds, memory = dense_cost(size)
    if memory > DENSE_MEMORY_LIMIT:
        raise ValueError(
            f"an exact order-{order} evaluation on {M} points (training plus test) needs about "
            f"{memory / 1e9:.3g} GB and {seconds:.3g} s: use a lower order, fewer points, or predict fewer test "
            "points at a time"
        )
    with_tables = dense_cost(size, printed=False)[0]
    prints = with_tables - seconds > PRINT_FROM_SECONDS
    return Plan("dense", seconds if prints else with_tables, memory, prints)
