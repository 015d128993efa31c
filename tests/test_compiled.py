"""The compiled first order (``compiler.factored``) against the pull-back oracle (tests/oracle/pullback), and the disk
cache (``codegen.cache``)."""
from __future__ import annotations

import itertools
import math
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from perturbo import ShapedMLP
from perturbo.activation import t
from perturbo.codegen import cache
from perturbo.compiler.factored import first_order_terms
from perturbo.ir.networks import Network, canonical, normal_operand, quadratic_networks
from perturbo.ir.words import part_of_degree, readout_words
from perturbo.symbolic.derivative_kernels import local_algebra
from tests.oracle import pullback

CASES = [
    # (depth, width, psi, activation, beta)
    (3, 50, 0.0, None, math.inf),
    (3, [40, 60, 50], -0.6, None, 3.0),
    (4, 30, 0.5, None, math.inf),
    (2, 40, 0.0, "0.5*t**2 - 0.3*t**3", 2.0),
    (6, 64, -0.8, None, 6.0),
]


@pytest.mark.parametrize("depth, width, psi, activation, beta", CASES)
def test_compiled_equals_the_pullback_oracle(depth, width, psi, activation, beta, first_order_lowering):
    rng = np.random.default_rng(depth)
    X, y, X_test = rng.normal(size=(4, 6)), rng.normal(size=4), rng.normal(size=(2, 6))
    X_test[1] = X[0]  # a test point equal to a training point
    net = ShapedMLP(depth=depth, width=width, psi=psi, activation=activation)
    fast = net.evidence(X, y, beta=beta, order=1, lowering=first_order_lowering)
    slow_p = slow = pullback.series(net, X, y, X_test, beta, order=1)
    assert fast.terms[1] == pytest.approx(slow.terms[1], rel=1e-10, abs=1e-14)
    fast_p = net.predict(X, y, X_test, beta=beta, order=1, lowering=first_order_lowering)
    assert fast.lowering == fast_p.lowering == first_order_lowering
    scale = np.max(np.abs(slow_p.cov_terms[1])) + np.max(np.abs(slow_p.mean_terms[1]))
    assert np.max(np.abs(fast_p.mean_terms[1] - slow_p.mean_terms[1])) <= 1e-10 * scale
    assert np.max(np.abs(fast_p.cov_terms[1] - slow_p.cov_terms[1])) <= 1e-10 * scale


@pytest.mark.parametrize("psi, activation, beta", [(-0.6, None, 3.0), (0.0, "0.5*t**2 - 0.3*t**3", math.inf)])
def test_second_order_covariance_equals_the_pullback_oracle(psi, activation, beta):
    """Order 2 with two test points: the full covariance (the oracle runs the pair's own chain)."""
    rng = np.random.default_rng(11)
    X, y, X_test = rng.normal(size=(2, 6)) * 0.6, rng.normal(size=2), rng.normal(size=(2, 6)) * 0.6
    net = ShapedMLP(depth=2, width=[40, 60], psi=psi, activation=activation)
    fast = net.predict(X, y, X_test, beta=beta, order=2, backend="compiled")
    slow = pullback.series(net, X, y, X_test, beta, order=2)
    for k in (1, 2):
        scale = np.max(np.abs(slow.cov_terms[k]))
        assert np.max(np.abs(fast.cov_terms[k] - slow.cov_terms[k])) <= 1e-10 * scale
        assert np.max(np.abs(fast.mean_terms[k] - slow.mean_terms[k])) <= 1e-10 * np.max(np.abs(slow.mean_terms[k])) + 1e-15


def test_backend_names_are_checked():
    net = ShapedMLP(depth=2, width=30, psi=-0.3)
    with pytest.raises(ValueError, match="backend must be one of"):
        net.evidence(np.eye(2, 3), np.ones(2), order=1, backend="fast")
    for call in (net.evidence, lambda *a, **k: net.predict(*a[:2], np.eye(1, 3), **k)):
        with pytest.raises(ValueError, match="backend='reference' was retired.*tests/oracle/pullback.*backend='auto'"):
            call(np.eye(2, 3), np.ones(2), order=1, backend="reference")


def test_readout_words_reproduce_the_hand_expansion_of_z():
    """Degree 2 of z: -1/2 y^T A D A D A y + 1/4 tr(ADAD) + 1/8 (a^T D a - tr AD)^2 with a = A y."""
    z2 = {str(m): c for m, c in part_of_degree(readout_words(2)["z"], 2).items()}
    assert sorted(map(float, z2.values())) == sorted([-0.5, 0.25, 0.125, -0.25, 0.125])


@pytest.mark.parametrize("activation", ["t - 0.6*t**3", "t + 0.5*t**2 - 0.3*t**3"])
def test_sliced_loops_in_several_blocks(activation):
    """Blocks of the sliced index of 1 and of 4 rows (on 6 points: the last block shorter) give the one-block answer."""
    net = ShapedMLP(depth=3, width=40, activation=activation)
    rng = np.random.default_rng(5)
    kernels = net.kernels(rng.normal(size=(6, 5)))
    phi, y = net.activation.phi, rng.normal(size=4)
    whole = first_order_terms(phi, sp.Integer(1), kernels, 4, y, 0.5, [40] * 3, block_rows=6)
    for rows in (1, 4):
        blocks = first_order_terms(phi, sp.Integer(1), kernels, 4, y, 0.5, [40] * 3, block_rows=rows)
        for name, value in whole.items():
            assert np.max(np.abs(blocks[name] - value)) <= 1e-13 * np.max(np.abs(value))


def _relabelled(network: Network, rng: np.random.Generator) -> Network:
    """The network with its summed indices permuted at random and each matrix on summed indices transposed or not."""
    summed = network.summed
    rename = dict(zip(summed, rng.permutation(summed)))
    operands = []
    for key, idx in network.operands:
        idx = tuple(rename.get(i, i) for i in idx)
        if len(idx) == 2 and not any(i.isupper() for i in idx) and rng.random() < 0.5:
            key, idx = key.transposed(), idx[::-1]
        operands.append((key, idx))
    return Network(network.coefficient, tuple(operands[k] for k in rng.permutation(len(operands))))


def _brute_force_canonical(network: Network) -> tuple:
    """The oracle: the smallest sorted operands over all relabellings of the summed indices."""
    summed = network.summed
    return min(tuple(sorted(normal_operand(key, tuple(dict(zip(summed, perm)).get(i, i) for i in idx))
                            for key, idx in network.operands))
               for perm in itertools.permutations("abcdefgh"[: len(summed)]))


def test_canonical_form_merges_exactly_the_relabellings():
    """``canonical`` (colour classes of the summed indices, then the smallest relabelling among those) gives a merged
    network back under random relabellings and transpositions, and keeps networks apart that the brute-force
    minimum over all ``4!`` relabellings keeps apart: it merges exactly what the oracle merges."""
    algebra = local_algebra(t - sp.Rational(1, 10) * t**2 - sp.Rational(1, 5) * t**3, sp.Integer(1))
    nonzero = set(algebra.kernels) | {(i, 0) for i in algebra.square_derivatives}
    nonzero |= {(j, i) for i, j in nonzero}
    networks = [net for poly in readout_words(2).values()
                for net in quadratic_networks(part_of_degree(poly, 2), nonzero, algebra.max_vertex_derivative)]
    rng = np.random.default_rng(0)
    for net in networks:
        assert all(canonical(_relabelled(net, rng)).operands == net.operands for _ in range(2))
    distinct = {net.operands for net in networks}
    assert len({_brute_force_canonical(Network(Fraction(1), ops)) for ops in distinct}) == len(distinct) > 1000


# ------------------------------------------------------------------- cache
SOURCE = "VALUE = 41 + 1\n"


def test_cache_writes_once_and_reuses(tmp_path, monkeypatch):
    monkeypatch.setenv("PERTURBO_CACHE_DIR", str(tmp_path))
    module = cache.load_module("probe", SOURCE)
    assert module.VALUE == 42
    (path,) = tmp_path.glob("probe_*.py")
    mtime = path.stat().st_mtime_ns
    cache.load_module("probe", SOURCE)
    assert path.stat().st_mtime_ns == mtime
    assert cache.cache_info()["modules"] == [path.name]


def test_different_source_or_version_gives_a_different_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PERTURBO_CACHE_DIR", str(tmp_path))
    a = cache.module_path("probe", SOURCE, tmp_path)
    assert cache.module_path("probe", SOURCE + "# changed\n", tmp_path) != a
    monkeypatch.setattr(cache, "__version__", "999.0")
    assert cache.module_path("probe", SOURCE, tmp_path) != a


@pytest.mark.parametrize("damage", ["truncate", "corrupt", "empty"])
def test_damaged_cache_file_is_rebuilt(tmp_path, monkeypatch, damage):
    monkeypatch.setenv("PERTURBO_CACHE_DIR", str(tmp_path))
    source = f"VALUE = 7  # {damage}\n"
    cache.load_module("probe", source)
    (path,) = tmp_path.glob("probe_*.py")
    text = path.read_text()
    path.write_text({"truncate": text[: len(text) // 2], "corrupt": text.replace("7", "8"), "empty": ""}[damage])
    sys.modules.pop(f"perturbo_generated.{path.stem}")
    assert cache.load_module("probe", source).VALUE == 7
    assert path.read_text() == text


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_cache_directory_falls_back(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    monkeypatch.setenv("PERTURBO_CACHE_DIR", str(locked / "inner"))
    monkeypatch.setattr(cache, "_fallback_dir", lambda: tmp_path / "fallback")
    assert cache.load_module("probe", "VALUE = 5\n").VALUE == 5
    assert list((tmp_path / "fallback").glob("probe_*.py"))


def test_unwritable_cache_path_falls_back(tmp_path, monkeypatch):
    """A cache 'directory' that is a file cannot be written, for any user."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("PERTURBO_CACHE_DIR", str(blocker / "inner"))
    monkeypatch.setattr(cache, "_fallback_dir", lambda: tmp_path / "fallback")
    assert cache.load_module("probe", "VALUE = 6\n").VALUE == 6
    assert list((tmp_path / "fallback").glob("probe_*.py"))


def test_two_processes_compiling_at_once(tmp_path):
    """Both processes get a complete module; exactly one intact file remains."""
    script = (
        "import sys; from perturbo.codegen import cache;"
        "m = cache.load_module('race', 'VALUE = 3\\n' + '# padding\\n' * 20000); print(m.VALUE)"
    )
    env = dict(os.environ, PERTURBO_CACHE_DIR=str(tmp_path))
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE) for _ in range(4)]
    outputs = [p.communicate()[0].decode().strip() for p in procs]
    assert outputs == ["3"] * 4
    (path,) = tmp_path.glob("race_*.py")
    assert cache._intact(path)
    assert not list(tmp_path.glob("*.tmp"))


def test_two_cold_processes_derive_once(tmp_path):
    """Four processes miss the index at once: one derives (slowly, holding the lock), the others wait and then
    import its module; the derivation ran once (each run appends a line to a file)."""
    log = tmp_path / "derivations.txt"
    script = (
        "import pathlib, time; from perturbo.codegen import cache\n"
        "def derive():\n"
        f"    with open({str(log)!r}, 'a') as f: f.write('derived\\n')\n"
        "    time.sleep(1.0)\n"
        "    return 'VALUE = 5\\n'\n"
        "print(cache.load_derived('locked', 'phi = t', derive).VALUE)\n"
    )
    env = dict(os.environ, PERTURBO_CACHE_DIR=str(tmp_path / "cache"))
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE) for _ in range(4)]
    outputs = [p.communicate()[0].decode().strip() for p in procs]
    assert outputs == ["5"] * 4
    assert log.read_text().splitlines() == ["derived"]


class Deriver:
    """A ``derive`` callback that counts its calls."""

    def __init__(self, source: str) -> None:
        self.source, self.calls = source, 0

    def __call__(self) -> str:
        self.calls += 1
        return self.source


def test_index_skips_the_derivation_on_a_hit(tmp_path, monkeypatch):
    monkeypatch.setenv("PERTURBO_CACHE_DIR", str(tmp_path))
    derive = Deriver("VALUE = 11\n")
    assert cache.load_derived("probe", "phi = t", derive).VALUE == 11
    assert cache.load_derived("probe", "phi = t", derive).VALUE == 11
    assert derive.calls == 1
    cache.load_derived("probe", "phi = t + t**3", derive)  # other inputs: a new derivation
    monkeypatch.setattr(cache, "__version__", "999.0")
    cache.load_derived("probe", "phi = t", derive)  # other package version: a new derivation
    assert derive.calls == 3


@pytest.mark.parametrize("damage", ["index", "module"])
def test_damaged_index_or_module_derives_again(tmp_path, monkeypatch, damage):
    monkeypatch.setenv("PERTURBO_CACHE_DIR", str(tmp_path))
    derive = Deriver(f"VALUE = 12  # {damage}\n")
    cache.load_derived("probe", "phi", derive)
    target = next((tmp_path / "index").glob("probe_*.txt")) if damage == "index" else next(tmp_path.glob("probe_*.py"))
    target.write_text(target.read_text()[:-3])
    sys.modules.pop(f"perturbo_generated.{next(tmp_path.glob('probe_*.py')).stem}")
    assert cache.load_derived("probe", "phi", derive).VALUE == 12
    assert derive.calls == 2


class ArrayDeriver:
    """A ``derive`` callback for ``load_derived_arrays`` that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict[str, np.ndarray]:
        self.calls += 1
        return {"values": np.arange(5.0) * self.calls, "index": np.array([3, 1], dtype=np.intp)}


def test_derived_arrays_are_reused_and_damage_derives_again(tmp_path, monkeypatch):
    monkeypatch.setenv("PERTURBO_CACHE_DIR", str(tmp_path))
    derive = ArrayDeriver()
    first = cache.load_derived_arrays("probe", "phi = t", derive)
    again = cache.load_derived_arrays("probe", "phi = t", derive)
    assert derive.calls == 1 and set(again) == {"values", "index"}
    assert all(np.array_equal(first[k], again[k]) and first[k].dtype == again[k].dtype for k in first)
    cache.load_derived_arrays("probe", "phi = t + t**3", derive)  # other inputs
    assert derive.calls == 2
    archive = next((tmp_path / "arrays").glob("probe_*.npz"))
    data = archive.read_bytes()
    for damaged in (data[: len(data) // 2], data.replace(b"\x00\x00\x00\x00\x00\x00\x10@", b"\x00" * 8), b""):
        archive.write_bytes(damaged)
        calls = derive.calls
        assert cache.load_derived_arrays("probe", "phi = t", derive)["values"][1] == derive.calls
        assert derive.calls == calls + 1
    monkeypatch.setattr(cache, "__version__", "999.0")
    cache.load_derived_arrays("probe", "phi = t", derive)  # other package version
    assert derive.calls == 6


def test_oracle_moment_tables_round_trip_through_the_cache(tmp_path, monkeypatch):
    """A second process gets the same moment tables from disk: same coefficients at any base point."""
    from perturbo.symbolic.copy_moments import local_pairs
    from tests.oracle.pullback.tables import cached_layer_moments, layer_moments

    monkeypatch.setenv("PERTURBO_CACHE_DIR", str(tmp_path))
    phi = t - sp.Rational(1, 5) * t**3
    derived = cached_layer_moments(phi, sp.Integer(1), 2)
    cached_layer_moments.cache_clear()
    loaded = cached_layer_moments(phi, sp.Integer(1), 2)
    assert loaded is not derived and len(list((tmp_path / "arrays").glob("moments_*.npz"))) == 1
    rng = np.random.default_rng(1)
    for r, poly in layer_moments(phi, sp.Integer(1), 2).items():
        base = rng.normal(size=len(local_pairs(2 * r)))
        assert loaded[r].alphas == poly.alphas
        assert loaded[r].coefficients(base) == poly.coefficients(base)


def test_generator_code_is_part_of_the_index_key(monkeypatch):
    """Editing the derivation code (same version) must not reuse what the old code derived."""
    import perturbo.codegen as codegen

    first = codegen.derivation_inputs(t, sp.Integer(1), "order 2")
    codegen.generator_fingerprint.cache_clear()
    monkeypatch.setattr(codegen, "GENERATOR_PACKAGES", ("symbolic", "ir"))  # as if compiler/ had changed
    try:
        second = codegen.derivation_inputs(t, sp.Integer(1), "order 2")
    finally:
        codegen.generator_fingerprint.cache_clear()
    assert first != second and sp.srepr(t) in first


def test_cache_cli(tmp_path, monkeypatch, capsys):
    from perturbo.cli import main

    monkeypatch.setenv("PERTURBO_CACHE_DIR", str(tmp_path))
    cache.load_module("probe", "VALUE = 1\n")
    cache.load_derived_arrays("probe", "phi", ArrayDeriver())
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert "1 generated modules, 1 derived moment tables" in out and "probe_" in out
    assert main(["cache", "clear"]) == 0
    assert "removed 1 generated modules and 1 derived moment tables" in capsys.readouterr().out
    assert not Path(tmp_path).exists()
