"""The ``Program`` (``compiler/program.py``): one object per (activation, weight variance, order) holding every stage,
and the one the dense lowering, the plan and ``perturbo cost`` read."""
from __future__ import annotations

import pytest
import sympy as sp

from perturbo.activation import t
from perturbo.compiler import plan, problem_program, program
from perturbo.compiler.fused_transfer import PRINTED_PRODUCTS_LIMIT, is_printed
from tests.test_compiler import CUBIC, problem


def test_one_program_per_key_whatever_the_spelling():
    assert program(CUBIC, 2) is program(sp.sympify(CUBIC, locals={"t": t}), 2, 1.0)
    assert program(CUBIC, 2) is not program(CUBIC, 1)
    assert program(CUBIC, 2) is not program(CUBIC, 2, 0.5)


def test_stages_hold_every_intermediate_form_and_agree_with_each_other():
    compiled = program(CUBIC, 2)
    stages = compiled.stages()
    assert list(stages) == ["local_map", "transfer", "spectator", "readout", "kernels", "printed", "tables",
                            "spectator_tables", "readout_plan", "source"]
    assert set(stages["spectator"]) == set(stages["spectator_tables"]) == {1, 2}  # kappa(X^(l)_e, n entries), n <= 2
    assert all(table.kernel.spectator and not is_printed(table.kernel) for table in stages["spectator_tables"].values())
    assert {n: len(terms) for n, terms in stages["transfer"].items()} == {1: 15, 2: 118, 3: 53}  # README, design
    assert set(stages["readout"]) == set(range(5)) and set(stages["readout"][0]) == {"z", "zm", "zs"}
    assert stages["printed"] == {1, 2, 3}
    for c in compiled.term_classes:  # the plan's counts are the lowered kernels' own, and so are their tables'
        assert c.printed and c.products == len(stages["kernels"][c.n].products) <= PRINTED_PRODUCTS_LIMIT
        assert len(stages["tables"][c.n].product_row) == c.products
    assert all(f"def {stages['kernels'][n].name}(" in stages["source"] for n in (1, 2, 3))
    plan = stages["readout_plan"]  # the read-out's steps: over the operands of the networks with letters
    assert (plan.order, plan.outputs) == (2, ("z", "zm", "zs"))
    assert set(plan.operands) == {op for degree in range(1, 5) for nets in stages["readout"][degree].values()
                                  for net in nets for op, _ in net.operands}


def test_order_three_prints_only_what_is_under_the_limit():
    compiled = program(CUBIC, 3)
    assert compiled.printed == {1}  # kappa_2..4 run from tables: thousands of products each
    assert [c.printed for c in compiled.term_classes] == [True, False, False, False]
    assert all(c.products > PRINTED_PRODUCTS_LIMIT for c in compiled.term_classes[1:])


def test_the_plan_of_a_problem_is_its_programs():
    p = problem(CUBIC, 6, 50, P=8, T=2, order=2, beta=2.0)
    assert problem_program(p) is program(p.phi, 2)
    assert plan(p) == program(p.phi, 2).plan(10, 6)
    assert program(p.phi, 2).plan(15, 30).printed  # printing saves more than PRINT_FROM_SECONDS there
    assert not program(p.phi, 2).plan(15, 6).printed


def test_a_linear_program_plans_the_scale_lowering_without_deriving_a_transfer():
    compiled = program("2*t", 3)
    assert compiled.plan(1000, 10).lowering == "scale"
    assert compiled.size(1000, 10).classes == ()


@pytest.mark.parametrize("order", [-1, 1.5, True])
def test_a_bad_order_is_a_value_error(order):
    with pytest.raises(ValueError, match="order must be a non-negative integer"):
        program(CUBIC, order)
