"""The factored first order's plan (``compiler/factored_plan.py``) pass by pass, and its steps (``pairwise``).

The oracle is the networks themselves: each one contracted by ``np.einsum`` on random operands, summed with its
coefficient. Every pass (paths, stars, slicing) must give that sum on the same operands; the operands are random
but keep the symmetries the networks were merged under (a kernel ``G^(i,j)`` is ``G^(j,i)`` transposed, a run of
``A`` and ``K`` the reversed run transposed, ``K^n/n!`` and ``mu`` symmetric).
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import sympy as sp

from perturbo.compiler import program
from perturbo.compiler.factored import run_networks
from perturbo.compiler.factored_plan import OUTPUTS, _operand, factored_networks, network_shape, stages
from perturbo.compiler.pairwise import lowered
from perturbo.ir.networks import Closed, End, Hadamard, MeanShift, Run

CUBIC = "t - 0.2*t**3"
NON_ODD = "t + 0.5*t**2 - 0.3*t**3"


class RandomOperands:
    """Random arrays for every operand key, with the networks' symmetries (module docstring)."""

    def __init__(self, points: int, tests: int, seed: int) -> None:
        self.points, self.tests = points, tests
        self.rng = np.random.default_rng(seed)
        self.arrays: dict = {}

    def __getitem__(self, key):
        if key not in self.arrays:
            M, T = self.points, self.tests
            if isinstance(key, Hadamard | MeanShift) or key == Run(("A",)):
                value = self.rng.normal(size=(M, M))
                self.arrays[key] = value + value.T
            elif isinstance(key, End):
                self.arrays[key] = self.rng.normal(size=(M,) if key.end == "y" else (T, M))
            elif isinstance(key, Closed):
                free = [e for e in (key.left, key.right) if e == "x"]
                self.arrays[key] = self.rng.normal(size=(T,) * len(free)) if free else self.rng.normal()
            else:  # Kernel(i, j), Run(letters): the transposed key reads the transpose
                value = self.rng.normal(size=(M, M))
                self.arrays[key], self.arrays[key.transposed()] = value, value.T
        return self.arrays[key]


def oracle(networks, operands: RandomOperands) -> list[np.ndarray]:
    """``sum coefficient * einsum(network)`` per read-out."""
    shapes = {"z": (), "zm": (operands.tests,), "zs": (operands.tests,) * 2}
    totals = [np.zeros(shapes[name]) for name in OUTPUTS]
    for output, nets in networks.items():
        for net in nets:
            arrays = [operands[key] if idx or np.ndim(operands[key]) == 0 else operands[key][0, 0]
                      for key, idx in net.operands]
            subscripts = ",".join("".join(idx) for _, idx in net.operands) + "->" + "".join(net.free)
            totals[OUTPUTS.index(output)] += float(net.coefficient) * np.einsum(subscripts, *arrays)
    return totals


@pytest.mark.parametrize("activation", [CUBIC, NON_ODD])
def test_every_pass_keeps_the_value_of_every_network(activation):
    """Paths, stars and sliced loops (blocks of 1, 2 and 7 rows on 7 points) all equal the networks' sum to 1e-12."""
    phi = program(activation, 1).phi
    forms = stages(phi, sp.Integer(1))
    operands = RandomOperands(points=7, tests=2, seed=1)
    expected = oracle(forms["networks"], operands)
    assert len(forms["networks"]["zs"]) > 500
    for name, rows in (("paths", 1), ("stars", 1), ("slicing", 1), ("slicing", 2), ("slicing", 7)):
        shapes = [np.zeros_like(e) for e in expected]
        run_networks(forms[name], operands, {}, shapes, block_rows=rows)
        for value, exact in zip(shapes, expected):
            assert np.max(np.abs(value - exact)) <= 1e-12 * np.max(np.abs(exact)), (name, rows)


def test_stars_share_the_complete_graph_products_and_slicing_covers_them():
    """The cubic's four-point steps become canonical stars shared across networks (20 distinct ``M^4`` steps before
    the pass, 15 after), none on a test index; every array of three point axes is then made and used in blocks, and
    what the plan holds at once grows like ``M^2``."""
    forms = stages(program(CUBIC, 1).phi, sp.Integer(1))
    four = {name: [k for k in range(len(forms[name].steps)) if forms[name].loop_points(k) >= 4]
            for name in ("paths", "stars")}
    assert (len(four["paths"]), len(four["stars"])) == (20, 15)
    plan = forms["slicing"]
    assert all("T" not in "".join(plan.node_axes[n] for n, _ in plan.inputs(k)[0]) for k in four["stars"])
    big = {plan.first_step + k for k in range(len(plan.steps)) if plan.node_axes[plan.first_step + k].count("M") >= 3}
    sliced = {node for loop in plan.loops for node in loop.axis}
    assert big and big <= sliced
    per_matrix = [plan.peak_entries(M, 10, 6) / M**2 for M in (100, 400)]
    assert 0.9 < per_matrix[1] / per_matrix[0] < 1.1


def test_a_linear_map_has_no_four_point_step():
    """Constant pulled-back kernels carry no index (``scalar_operands``): a linear map's networks are paths and
    cycles, ``O(M^3)``, while the cubic's noise covariance is the complete graph on four points."""
    linear = stages(program("t", 1).phi, sp.Integer(1))["slicing"]
    cubic = stages(program(CUBIC, 1).phi, sp.Integer(1))["slicing"]
    assert max(linear.loop_points(k) for k in range(len(linear.steps))) <= 3 and not linear.loops
    assert max(cubic.loop_points(k) for k in range(len(cubic.steps))) == 4


def test_the_plan_on_disk_is_the_plan_derived(tmp_path, monkeypatch):
    """A process that finds the plan on disk derives no network and gets the same steps and operands back; every
    cubic shaping has the networks' shape of every other (one plan), a non-odd one another."""
    import perturbo.compiler.factored_plan as factored_plan

    monkeypatch.setenv("PERTURBO_CACHE_DIR", str(tmp_path))
    shape = network_shape(program(CUBIC, 1).phi, sp.Integer(1))
    assert shape == network_shape(program("t + 0.05*t**3", 1).phi, sp.Integer(2))
    assert shape != network_shape(program(NON_ODD, 1).phi, sp.Integer(1))
    derived = factored_plan._paths(shape, True, "linear")
    calls = []
    monkeypatch.setattr(factored_plan, "factored_networks", lambda *args: calls.append(args))
    again = factored_plan._paths(shape, True, "linear")
    assert not calls and again == derived
    assert all(_operand(json.loads(json.dumps(key.describe()))) == key for key in derived.operands)
    assert {key for nets in factored_networks(shape, True).values() for net in nets["linear"]
            for key, _ in net.operands} == set(derived.operands)


STEPS = [
    "ab,bc->ac", "ba,bc->ac", "ab,cb->ac", "ba,cb->ca", "ab,bc->ca",  # matrix products, every orientation
    "a,ab->b", "ab,b->a", "a,a->",  # with vectors
    "abc,dc->abd", "abc,cd->dba", "abd,cd->abc", "xab,bc->xac", "abc,abd->cd",  # reshaped products
    "xab,xbc->xac", "xab,bcx->acx",  # a batch index
    "ab,ab->ab", "ab,ba->ab", "a,b->ab", "ab,c->cab", "ab,bc->abc",  # no summed index: broadcasts
    "ab->ba", "abc->ca", "ab->", "aa->a", "ab,aab->b",  # one array, repeated indices (einsum)
    ",ab->ab", "ab,->ba", ",ab->a", ",->", "a,->a",  # a scalar operand (a closed word: a Python float)
]


@pytest.mark.parametrize("subscripts", STEPS)
def test_lowered_steps_equal_einsum(subscripts):
    """Each lowering of a pairwise step (matmul on views or reshapes, broadcast, sum, einsum) gives einsum's value,
    and the same written into scratch memory."""
    rng = np.random.default_rng(0)
    size = dict(zip("abcdx", (3, 4, 5, 2, 6)))
    arrays = [rng.normal(size=[size[c] for c in s]) if s else float(rng.normal())
              for s in subscripts.split("->")[0].split(",")]
    expected = np.einsum(subscripts, *arrays)
    assert np.allclose(lowered(subscripts)(*arrays), expected, rtol=1e-13, atol=1e-14)
    scratch = np.full(math.prod(np.shape(expected)) + 3, np.nan)
    assert np.allclose(lowered(subscripts)(*arrays, scratch=scratch), expected, rtol=1e-13, atol=1e-14)


def test_order_one_stages_hold_the_factored_plan_by_pass():
    forms = program(CUBIC, 1).stages()["factored"]
    assert list(forms) == ["networks", "paths", "stars", "slicing"]
    assert forms["stars"].operands == forms["paths"].operands and forms["slicing"].steps == forms["stars"].steps
    assert "factored" not in program(CUBIC, 2).stages()


def test_a_schedule_never_drops_a_step():
    """A loop that needs a step that needs the loop cannot be ordered: the plan says so instead of running without
    those steps (the slicing pass must never make one; this one is made by hand)."""
    from perturbo.compiler.factored_plan import FactoredPlan, SlicedLoop

    cycle = SlicedLoop(axis={}, steps=(0, 2), letters={0: "a", 2: "a"}, exits={0: 0, 2: 0}, length=(0, 0))
    plan = FactoredPlan((Hadamard(1),), ("MM",), ((0, -1, "ab->ab"), (1, -1, "ab->ab"), (2, 0, "ab,bc->abc")), (),
                        (cycle,))
    with pytest.raises(RuntimeError, match="cycle"):
        plan.schedule
