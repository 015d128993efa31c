"""Posterior representations (``net.representations``): Monte Carlo, the deep linear first order, invariances."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perturbo import ShapedMLP
from perturbo.reference.monte_carlo import monte_carlo_representations
from tests.datasets import make_data

NON_ODD = "0.5*t**2 - 0.3*t**3"


def deviations(net: ShapedMLP, X, y, beta, orders, samples=400_000, seed=1):
    """``(engine - Monte Carlo) / se`` on the distinct entries, per order; and the standard errors."""
    def phi(x):
        return np.polynomial.polynomial.polyval(x, net.activation.coefficients)

    mc, se = monte_carlo_representations(X, len(y), y, net.widths, phi, net.sigma_w2, beta, samples, seed)
    upper = np.triu_indices(len(X))
    out = {}
    for k in orders:
        with _quiet():
            rep = net.representations(X, y, beta=beta, order=k)
        out[k] = ((rep.mean - mc) / se)[:, upper[0], upper[1]]
    return out


class _quiet:
    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._catch.__exit__(*exc)


@pytest.mark.parametrize("psi, activation, beta, width, order", [
    (0.0, None, 2.0, 30, 2), (-0.6, None, 2.0, 30, 2), (0.0, NON_ODD, 2.0, 30, 2),
    (0.0, None, math.inf, 120, 2), (-0.6, None, math.inf, 120, 3),
])
def test_against_monte_carlo_over_finite_networks(psi, activation, beta, width, order):
    """Order K within 4 standard errors on every entry of every layer, and closer than order K - 1 (chi^2).

    K = 2 where its truncation error is below the noise of 4e5 networks; the shaped network at zero temperature
    needs K = 3 at this width (measured: order 2 is 7 standard errors off at N = 120, 1.7 at N = 480)."""
    X, y, _ = make_data(P=3, N0=4, T=0, seed=1, scale=0.8)
    net = ShapedMLP(3, width, psi=psi, activation=activation)
    dev = deviations(net, X, y, beta, (order - 1, order))
    assert np.max(np.abs(dev[order])) < 4.0, dev[order]
    assert np.mean(dev[order] ** 2) < np.mean(dev[order - 1] ** 2)


@pytest.mark.parametrize("beta", [math.inf, 2.0])
def test_deep_linear_first_order_is_the_published_one(beta):
    """Zavatone-Veth, Canatar, Ruben & Pehlevan (2021): the layer-l kernel shifts by the summed inverse widths of
    layers 1..l times ``K A y y^T A K - K A K`` (``K`` the output kernel, ``A = (K_DD + (P/beta) I)^-1`` on the
    training block, padded; on all points). Their kernels are normalised to equal ``K`` at every layer; here
    ``K_l = sigma_w2^(l - L) K``, and the shift of layer ``l`` carries that factor."""
    X, y, X_test = make_data(P=3, N0=5, T=2, seed=1, scale=0.8)
    widths, sigma_w2 = [30, 50, 40], 1.3
    net = ShapedMLP(3, widths, sigma_w2=sigma_w2)
    rep = net.representations(X, y, X_test, beta=beta, order=1)
    K = net.kernels(np.vstack([X, X_test]))[-1]
    A = np.zeros_like(K)
    A[:3, :3] = np.linalg.inv(K[:3, :3] + (0.0 if math.isinf(beta) else 3 / beta) * np.eye(3))
    a = K @ A @ np.concatenate([y, np.zeros(2)])
    published = np.outer(a, a) - K @ A @ K
    for l in range(3):
        scale = sigma_w2 ** (l + 1 - 3)
        np.testing.assert_allclose(rep.terms[l, 0], scale * K, rtol=1e-12)
        np.testing.assert_allclose(rep.terms[l, 1], scale * sum(1 / np.array(widths[: l + 1])) * published,
                                   rtol=1e-10, atol=1e-15)


def test_the_alignment_is_that_of_the_summed_terms():
    X, y, X_test = make_data(P=3, N0=4, T=1, seed=0, scale=0.8)
    rep = ShapedMLP(2, 40, psi=-0.6).representations(X, y, X_test, beta=2.0, order=2)
    assert rep.terms.shape == (2, 3, 4, 4) and rep.mean.shape == (2, 4, 4)
    S = rep.terms[:, :2].sum(axis=1)[:, :3, :3]
    np.testing.assert_allclose(rep.alignment[:, 1], [y @ s @ y / (y @ y * np.trace(s)) for s in S])
    np.testing.assert_allclose(rep.error_estimate, np.abs(rep.terms[:, 2]))
    assert rep.converging is True


orthogonal = st.integers(0, 10_000).map(lambda s: np.linalg.qr(np.random.default_rng(s).normal(size=(4, 4)))[0])


@settings(max_examples=8, deadline=None)
@given(rotation=orthogonal, permutation=st.permutations(range(3)), sign=st.sampled_from([1.0, -1.0]),
       order=st.sampled_from([1, 2]))
def test_invariances(rotation, permutation, sign, order):
    """Rotating the inputs, permuting the training points and flipping y change nothing but the point order."""
    X, y, X_test = make_data(P=3, N0=4, T=1, seed=5, scale=0.8)
    net = ShapedMLP(2, 50, activation=NON_ODD)
    base = net.representations(X, y, X_test, beta=3.0, order=order)
    p = list(permutation)
    moved = net.representations(X[p] @ rotation, sign * y[p], X_test @ rotation, beta=3.0, order=order)
    index = p + [3]
    np.testing.assert_allclose(moved.terms, base.terms[:, :, index][:, :, :, index], rtol=1e-9, atol=1e-14)


def test_bad_requests_are_value_errors():
    X, y, X_test = make_data(P=3, N0=4, T=1, seed=0, scale=0.8)
    net = ShapedMLP(2, 40)
    with pytest.raises(ValueError, match="order must be"):
        net.representations(X, y, order=9)
    with pytest.raises(ValueError, match="X_test"):
        net.representations(X, y, X_test[:, :2], order=1)
    with pytest.raises(ValueError, match="needs every width >= P"):
        monte_carlo_representations(X, 3, y, [2, 40], lambda x: x, 1.0, math.inf, samples=10)
    big_X, big_y, _ = make_data(P=60, N0=80, T=0, seed=0)
    with pytest.raises(ValueError, match="representations at order 2 on 60 points and 2 layers need about"):
        net.representations(big_X, big_y, order=2)


def test_cli_representations_text_json_and_plot(tmp_path, capsys):
    import json

    from perturbo.cli import main
    from perturbo.data import demo_dataset

    data = demo_dataset()
    path = tmp_path / "d.npz"
    np.savez(path, X=data.X, y=data.y, X_test=data.X_test)
    args = ["representations", "--data", str(path), "--depth", "2", "--width", "64", "--psi", "-0.6", "--beta", "10"]
    assert main(args + ["--order", "2"]) == 0
    text = capsys.readouterr().out
    assert "alignment, order 2" in text and text.count("\n      ") >= 2
    assert main(args + ["--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rep = ShapedMLP(2, 64, psi=-0.6).representations(data.X, data.y, data.X_test, beta=10.0, order=1)
    np.testing.assert_allclose(out["terms"], rep.terms)
    pytest.importorskip("matplotlib")
    figure = tmp_path / "rep.png"
    assert main(["plot", "representations", "--depth", "2", "--psi", "-0.6", "--out", str(figure)]) == 0
    assert figure.stat().st_size > 0
