"""Shared fixtures."""
import pytest

from perturbo.compiler import cost


@pytest.fixture(params=["factored", "dense"])
def first_order_lowering(request, monkeypatch) -> str:
    """Run a first-order test through each lowering (the plan picks by the number of points)."""
    monkeypatch.setattr(cost, "FACTORED_FROM_POINTS", 0 if request.param == "factored" else 10**9)
    return request.param
