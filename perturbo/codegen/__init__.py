"""The disk cache of what perturbo derives and generates (``cache``: printed modules, arrays), keyed by content.

``derivation_inputs`` names a derivation by its activation, weight variance, details and the source of the
package's derivation code (``generator_fingerprint``), so a cached result is never stale.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import sympy as sp

GENERATOR_PACKAGES = ("symbolic", "ir", "codegen", "compiler")
"""The subpackages whose code determines a derivation."""


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
