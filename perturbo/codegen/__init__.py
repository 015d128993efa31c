"""From the symbolic first order to an imported, cached module of kernels.

    symbolic.derivative_kernels -> ir.words, ir.networks -> contraction_order -> printer -> cache
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from types import ModuleType

import sympy as sp

from .._version import __version__
from ..ir.networks import Kernel, linear_networks, quadratic_networks
from ..ir.words import part_of_degree, readout_words
from ..progress import progress
from ..symbolic.derivative_kernels import local_algebra
from .cache import load_derived
from .contraction_order import scalar_operands
from .printer import print_module


def first_order_source(phi: sp.Expr, sigma_w2: sp.Expr) -> str:
    """The generated module's text for activation ``phi`` (derives everything; seconds for the cubic)."""
    algebra = local_algebra(phi, sigma_w2)
    nonzero = set(algebra.kernels)
    if algebra.jacobian[1] != 0:  # U = 0 above every layer when dm_ab/dS_aa = 0 (a linear map)
        nonzero |= {(i, 0) for i in algebra.square_derivatives}
    nonzero |= {(j, i) for i, j in nonzero}
    constants = {Kernel(i, j) for (i, j), e in algebra.kernels.items() if algebra.map_is_linear and e.is_number}
    words = readout_words(2)
    networks = {}
    with progress(len(words), f"deriving first-order kernels for phi(t) = {phi}") as bar:
        for output, poly in words.items():
            quadratic = quadratic_networks(part_of_degree(poly, 2), nonzero, algebra.max_vertex_derivative)
            networks[output] = {
                "quadratic": [scalar_operands(net, constants) for net in quadratic],
                "linear": linear_networks(part_of_degree(poly, 1)),
            }
            bar.update()
    return print_module(algebra, networks, version=__version__, scalars=constants, phi=phi, sigma_w2=sigma_w2)


GENERATOR_PACKAGES = ("symbolic", "ir", "codegen", "compiler")
"""The subpackages whose code determines a generated module's text."""


@lru_cache(maxsize=1)
def generator_fingerprint() -> str:
    """SHA-256 over the generator's own source files and the SymPy version."""
    digest = hashlib.sha256(sp.__version__.encode())
    root = Path(__file__).resolve().parent.parent
    for path in sorted(p for package in GENERATOR_PACKAGES for p in (root / package).glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def derivation_inputs(phi: sp.Expr, sigma_w2: sp.Expr, *details: str) -> str:
    """The cache key text of a derivation: activation, weight variance, ``details``, generator fingerprint."""
    return "\n".join([sp.srepr(phi), sp.srepr(sigma_w2), *details, generator_fingerprint()])


@lru_cache(maxsize=32)
def first_order_module(phi: sp.Expr, sigma_w2: sp.Expr) -> ModuleType:
    """The compiled first order for ``phi``; a process that finds it cached skips the derivation."""
    inputs = derivation_inputs(phi, sigma_w2)
    return load_derived("first_order", inputs, lambda: first_order_source(phi, sigma_w2))
