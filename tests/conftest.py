"""Shared fixtures."""
import pytest


@pytest.fixture(params=["factored", "dense"])
def first_order_lowering(request) -> str:
    """Run a first-order test through each lowering (pass it as ``lowering=`` and check ``.lowering``)."""
    return request.param
